// Community: leader, members by in-community rank, internal/external weight, tag composition
// and the community map (communities as nodes sized by members, links by customer ties).
import { $, card, api, chart, communityColour, esc, customerLink, el, fmt, showError, start, t, table, tagCatalog, tagChip, tagName } from './common.js';

const LIMIT = 25;

async function drawMap(id) {
  const map = await api('/community-map', { query: { limit: 50 } });
  const maxSize = Math.max(1, ...map.nodes.map((n) => n.size || 0));
  const maxTies = Math.max(1, ...map.links.map((l) => l.ties));
  $('map-note').textContent = t('community.map_note', { n: map.nodes.length, m: map.total_communities });
  const mapChart = chart('chart-map', {
    tooltip: {
      formatter: (p) => (p.dataType === 'node'
        ? `${esc(p.data.id)}<br>${t('community.size')}: ${fmt(p.data.size)}<br>${t('community.leader')}: ${esc(p.data.leader_id || '–')}`
        : `${esc(p.data.source)} — ${esc(p.data.target)}: ${fmt(p.data.ties)}`),
    },
    series: [{
      type: 'graph', layout: 'force', roam: true, draggable: true,
      force: { repulsion: 700, edgeLength: [80, 260], gravity: 0.06 },
      label: { show: true, fontSize: 10, formatter: (p) => p.data.id },
      lineStyle: { color: '#9ca3af', opacity: 0.35 },
      emphasis: { focus: 'adjacency' },
      data: map.nodes.map((n) => ({
        id: n.community_id, name: n.community_id, size: n.size, leader_id: n.leader_id,
        symbolSize: 10 + 40 * Math.sqrt((n.size || 0) / maxSize),
        itemStyle: { color: communityColour(n.community_id), borderColor: n.community_id === id ? '#111' : null, borderWidth: n.community_id === id ? 3 : 0 },
      })),
      links: map.links.map((l) => ({ source: l.source, target: l.target, ties: l.ties, lineStyle: { width: 0.5 + 6 * (l.ties / maxTies) } })),
    }],
  });
  mapChart.on('click', (p) => {
    if (p.dataType === 'node') location.href = `/web/community?id=${encodeURIComponent(p.data.id)}`;
  });
}

start(async () => {
  const params = new URLSearchParams(location.search);
  const [tags, comms] = await Promise.all([tagCatalog(), api('/communities', { query: { limit: 1000 } })]);
  if (!comms.data.length) return;
  const id = params.get('id') || comms.data[0].community_id;
  const pickList = $('f-community');
  for (const c of comms.data) pickList.append(el('option', { value: c.community_id }, `${c.community_id} (${c.size})`));
  pickList.value = id;
  pickList.addEventListener('change', () => { location.href = `/web/community?id=${encodeURIComponent(pickList.value)}`; });
  $('comm-id').textContent = id;

  const detail = await api(`/communities/${encodeURIComponent(id)}`);
  const c = detail.community;
  $('comm-cards').replaceChildren(
    card(t('community.size'), fmt(c.size)),
    card(t('community.density'), fmt(c.density, 4)),
    card(t('community.internal'), fmt(c.internal_weight, 1)),
    card(t('community.external'), fmt(c.external_weight, 1)),
    card(t('community.leader'), c.leader_id ? customerLink(c.leader_id) : '–'),
  );

  let offset = 0;
  const members = async () => {
    const page = await api('/influencers', { query: { community: id, limit: LIMIT, offset } });
    $('members').replaceChildren(table([
      { key: 'rank', label: t('col.rank') },
      { key: 'customer_id', label: t('col.customer_id'), render: (r) => customerLink(r.customer_id) },
      { key: 'score', label: t('col.score'), desc: true, render: (r) => fmt(r.score, 1) },
      { key: 'degree', label: t('col.degree'), desc: true },
      { key: 'tags', label: t('col.tags'), sort: (r) => r.tags.length,
        render: (r) => el('span', {}, r.tags.filter((x) => !x.startsWith('community:')).slice(0, 6).map((x) => tagChip(tags, x))) },
    ], page.data, { sortable: true, id: 'community-members' }));
    $('page-no').textContent = t('pager.page', { n: Math.floor(offset / LIMIT) + 1 });
    $('prev').disabled = offset === 0;
    $('next').disabled = offset + page.count >= (c.size || 0);
  };
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); members().catch(showError); });
  $('next').addEventListener('click', () => { offset += LIMIT; members().catch(showError); });

  const comp = detail.tag_composition.filter((x) => !x.tag_id.startsWith('community:')).slice(0, 25);
  chart('chart-composition', {
    tooltip: { trigger: 'axis' },
    grid: { left: 50, right: 10, top: 20, bottom: 90 },
    xAxis: { type: 'category', data: comp.map((x) => tagName(tags, x.tag_id)), axisLabel: { rotate: 60, interval: 0, fontSize: 10 } },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
    series: [{ type: 'bar', data: comp.map((x) => x.share), itemStyle: { color: communityColour(id) } }],
  });

  // the map fills in after the first render: on a fresh server its first read passes over
  // every relation
  drawMap(id).then(() => { window.__guanxi.mapDrawn = performance.now(); }, showError);
  await members();
});
