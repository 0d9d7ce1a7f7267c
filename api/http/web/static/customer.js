// Customer 360: attributes (masked as the key's role allows: the API masks), metrics with
// their percentile, every tag with its reason, the ego network (1-2 hops, coloured by
// community, social tags marked, "showing N of M" when the API capped it) and the referral tree.
import { $, api, chart, communityColour, esc, communityLink, fmt, showError, start, t, table, tagCatalog, tagChip, tagName } from './common.js';

const SOCIAL = new Set(['opinion_leader', 'high_influence', 'community_core', 'bridge', 'super_referrer', 'socially_active', 'socially_isolated']);

/** A field's label; a column beyond the contract (attr.*) shows as loaded. */
function fieldName(key) {
  const label = t(`field.${key}`);
  return label === `field.${key}` ? key : label;
}

function keyValues(obj, { percentiles } = {}) {
  const rows = Object.entries(obj).map(([k, v]) => ({ k, v, p: percentiles ? percentiles[k] : undefined }));
  const cols = [
    { key: 'k', label: t(percentiles ? 'col.metric' : 'col.field'), render: (r) => fieldName(r.k) },
    { key: 'v', label: t('col.value'), render: (r) => (r.k === 'community_id' ? communityLink(r.v) : fmt(r.v, 4)) },
  ];
  if (percentiles) cols.push({ key: 'p', label: t('col.pct'), render: (r) => (r.p === undefined || r.p === null ? '–' : fmt(r.p, 1)) });
  return table(cols, rows, { id: percentiles ? 'metrics-table' : 'attributes-table', rowKey: (r) => r.k });
}

async function drawNetwork(id, metrics, tags) {
  const hops = Number($('hops').value);
  const limit = Math.max(1, Math.min(1000, Number($('net-limit').value) || 100));
  const net = await api(`/customers/${encodeURIComponent(id)}/network`, { query: { hops, limit } });
  const ids = net.nodes.map((n) => n.id);
  const held = new Map();
  for (let i = 0; i < ids.length; i += 1000) {
    const part = await api('/customers/tags', { method: 'POST', body: { customer_ids: ids.slice(i, i + 1000) } });
    for (const row of part.data) held.set(row.customer_id, row.tags.filter((x) => SOCIAL.has(x)));
  }
  const total = hops === 1 ? metrics.degree : metrics.reach_2hop;
  const shown = net.nodes.length - 1;
  $('net-note').textContent = t('customer.showing', { n: fmt(shown), m: fmt(total ?? shown) });
  const maxInf = Math.max(1, ...net.nodes.map((n) => n.influence || 0));
  const communities = [...new Set(net.nodes.map((n) => n.community_id || '–'))];
  // one link per pair and direction, its weight summed over relation types
  const links = new Map();
  for (const e of net.edges) {
    const k = `${e.source}\u0000${e.target}`;
    const l = links.get(k) || { source: e.source, target: e.target, value: 0, types: [] };
    l.value += e.weight;
    l.types.push(e.type);
    links.set(k, l);
  }
  const maxW = Math.max(1, ...[...links.values()].map((l) => l.value));
  chart('chart-network', {
    tooltip: {
      formatter: (p) => (p.dataType === 'node'
        ? `${esc(p.data.id)}<br>${t('col.community')}: ${esc(p.data.community_id || '–')}<br>${t('col.influence')}: ${fmt(p.data.influence, 1)}`
          + (p.data.social.length ? `<br>${t('customer.social')}: ${esc(p.data.social.map((x) => tagName(tags, x)).join(', '))}` : '')
        : `${esc(p.data.source)} → ${esc(p.data.target)}<br>${esc(p.data.types.join(', '))} · ${fmt(p.data.value, 1)}`),
    },
    legend: { data: communities, type: 'scroll', top: 0 },
    series: [{
      type: 'graph', layout: 'force', roam: true, draggable: true,
      categories: communities.map((c) => ({ name: c, itemStyle: { color: communityColour(c === '–' ? null : c) } })),
      force: { repulsion: 120, edgeLength: [30, 120], gravity: 0.08 },
      edgeSymbol: ['none', 'arrow'], edgeSymbolSize: 5,
      label: { show: true, position: 'right', fontSize: 10, formatter: (p) => (p.data.hop === 0 || p.data.social.length ? p.data.id : '') },
      lineStyle: { color: 'source', opacity: 0.5, curveness: 0.1 },
      emphasis: { focus: 'adjacency' },
      data: net.nodes.map((n) => {
        const social = held.get(n.id) || [];
        return {
          id: n.id, name: n.id, hop: n.hop, community_id: n.community_id, influence: n.influence, social,
          category: communities.indexOf(n.community_id || '–'),
          symbol: social.length ? 'diamond' : 'circle',
          symbolSize: n.hop === 0 ? 30 : 8 + 14 * ((n.influence || 0) / maxInf),
          itemStyle: social.length ? { borderColor: '#111', borderWidth: 2 } : {},
        };
      }),
      links: [...links.values()].map((l) => ({ ...l, lineStyle: { width: 0.5 + 3 * (l.value / maxW) } })),
    }],
  });
  window.__guanxi.network = { hops, limit, nodes: net.nodes.length, edges: net.edges.length, shown, total };
}

async function drawReferrals(id) {
  const tree = await api(`/customers/${encodeURIComponent(id)}/referral-tree`);
  if (!tree.edges.length) {
    $('referral-note').textContent = t('customer.no_referrals');
    window.echarts.getInstanceByDom($('chart-referral'))?.clear();
    $('chart-referral').style.height = '40px';
    return;
  }
  const nodes = new Map([[id, { name: id, children: [] }]]);
  for (const e of tree.edges) {
    const child = { name: e.referred, children: [] };
    nodes.set(e.referred, child);
    nodes.get(e.referrer).children.push(child);
  }
  const leaves = tree.edges.length;
  $('chart-referral').style.height = `${Math.min(900, Math.max(200, leaves * 14))}px`;
  chart('chart-referral', {
    tooltip: { trigger: 'item' },
    series: [{
      type: 'tree', data: [nodes.get(id)], left: 80, right: 120, top: 10, bottom: 10,
      symbolSize: 7, initialTreeDepth: -1, expandAndCollapse: true,
      label: { position: 'left', fontSize: 10 }, leaves: { label: { position: 'right' } },
    }],
  });
  $('referral-note').textContent = `${tree.edges.length} ${tree.truncated ? `(≤ ${tree.max_depth}, ≤ ${tree.max_nodes})` : ''}`;
}

start(async () => {
  const params = new URLSearchParams(location.search);
  const id = params.get('id');
  $('lookup').addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.href = `/web/customer?id=${encodeURIComponent($('f-id').value.trim())}`;
  });
  if (!id) {
    $('attributes').textContent = t('customer.none');
    return;
  }
  $('f-id').value = id;
  $('cid').textContent = id;
  const [tags, profile, pct] = await Promise.all([
    tagCatalog(),
    api(`/customers/${encodeURIComponent(id)}`),
    api(`/customers/${encodeURIComponent(id)}/percentiles`).catch(() => ({ percentiles: {} })),
  ]);
  $('attributes').replaceChildren(keyValues(profile.attributes || {}));
  $('metrics').replaceChildren(keyValues(profile.metrics || {}, { percentiles: pct.percentiles }));
  $('tags').replaceChildren(table([
    { key: 'tag_id', label: t('col.tag'), render: (r) => tagChip(tags, r.tag_id) },
    { key: 'category', label: t('col.category'), sort: (r) => (tags.find((x) => x.tag_id === r.tag_id) || {}).category,
      render: (r) => { const c = (tags.find((x) => x.tag_id === r.tag_id) || {}).category; return c ? t(`cat.${c}`) : '–'; } },
    { key: 'score', label: t('col.tag_score'), desc: true, render: (r) => fmt(r.score, 3) },
    { key: 'reason', label: t('col.reason') },
  ], profile.tags || [], { sortable: true, id: 'tags-table' }));
  const redraw = () => drawNetwork(id, profile.metrics || {}, tags);
  $('hops').addEventListener('change', redraw);
  $('net-limit').addEventListener('change', redraw);
  // the referral tree fills in after the first render: on a fresh server its first read
  // passes over every relation
  drawReferrals(id).then(() => { window.__guanxi.referralsDrawn = performance.now(); }, showError);
  await redraw();
});
