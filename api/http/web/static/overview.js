// Overview: the latest run, its input counts, tag coverage by category, the community size
// distribution and the run history.
import { $, card, api, chart, el, esc, fmt, start, t, table, tagCatalog, tagName } from './common.js';

const CATEGORY_COLOURS = {
  basic: '#5470c6', behavior: '#91cc75', consumption: '#fac858', value: '#ee6666',
  interest: '#73c0de', lifecycle: '#3ba272', social: '#fc8452', risk: '#9a60b4',
};

/** Size bins 1, 2-3, 4-7, ... : communities are heavy-tailed. */
function sizeBins(sizes) {
  const bins = new Map();
  for (const s of sizes) {
    const lo = 2 ** Math.floor(Math.log2(Math.max(s, 1)));
    bins.set(lo, (bins.get(lo) || 0) + 1);
  }
  return [...bins.entries()].sort((a, b) => a[0] - b[0])
    .map(([lo, n]) => [lo === 1 ? '1' : `${lo}-${2 * lo - 1}`, n]);
}

start(async () => {
  const runs = (await api('/runs')).data;
  if (!runs.length) {
    $('run-cards').replaceChildren(el('p', {}, t('overview.no_run')));
    return;
  }
  const run = runs[0];
  const counts = run.input_counts || {};
  const stats = run.stats || {};
  const [tags, comms] = await Promise.all([tagCatalog(), api('/communities', { query: { limit: 1000 } })]);
  $('run-cards').replaceChildren(
    card(t('overview.run'), run.run_id),
    card(t('overview.created'), (run.created_at || '').slice(0, 19).replace('T', ' ')),
    ...['customers', 'relations', 'transactions', 'events'].map((k) => card(t(`overview.${k}`), fmt(counts[k]))),
    card(t('overview.communities'), fmt(comms.total)),
    card(t('overview.modularity'), fmt(stats.modularity, 4)),
  );

  const shown = tags.filter((x) => x.category !== 'community' && !x.tag_id.startsWith('community:'));
  const order = Object.keys(CATEGORY_COLOURS);
  shown.sort((a, b) => (order.indexOf(a.category) - order.indexOf(b.category)) || (b.coverage - a.coverage));
  const categories = [...new Set(shown.map((x) => x.category))];
  chart('chart-coverage', {
    tooltip: { trigger: 'item', formatter: (p) => `${esc(p.name)}<br>${(p.value * 100).toFixed(1)}%` },
    legend: { data: categories.map((c) => t(`cat.${c}`)), top: 0 },
    grid: { left: 50, right: 10, top: 50, bottom: 120 },
    xAxis: { type: 'category', data: shown.map((x) => tagName(tags, x.tag_id)), axisLabel: { rotate: 60, interval: 0, fontSize: 10 } },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } },
    dataZoom: shown.length > 40 ? [{ type: 'slider', height: 14, bottom: 2 }] : [],
    series: categories.map((c) => ({
      name: t(`cat.${c}`), type: 'bar', stack: 'all', barMaxWidth: 18,
      itemStyle: { color: CATEGORY_COLOURS[c] || '#999' },
      data: shown.map((x) => (x.category === c ? x.coverage : null)),
    })),
  });

  const bins = sizeBins(comms.data.map((c) => c.size || 0));
  chart('chart-sizes', {
    tooltip: { trigger: 'axis' },
    grid: { left: 50, right: 10, top: 36, bottom: 40 },
    xAxis: { type: 'category', name: t('overview.size'), nameLocation: 'middle', nameGap: 26, data: bins.map((b) => b[0]) },
    yAxis: { type: 'value', name: t('overview.count') },
    series: [{ type: 'bar', data: bins.map((b) => b[1]), itemStyle: { color: '#5470c6' } }],
  });

  $('runs-table').replaceChildren(table([
    { key: 'run_id', label: t('col.run') },
    { key: 'created_at', label: t('col.created'), render: (r) => (r.created_at || '').slice(0, 19).replace('T', ' ') },
    { key: 'customers', label: t('col.customers'), render: (r) => fmt((r.input_counts || {}).customers) },
    { key: 'relations', label: t('col.relations'), render: (r) => fmt((r.input_counts || {}).relations) },
    { key: 'communities', label: t('col.communities'), render: (r) => fmt((r.stats || {}).n_communities) },
    { key: 'modularity', label: t('col.modularity'), render: (r) => fmt((r.stats || {}).modularity, 4) },
  ], runs, { id: 'runs' }));
});
