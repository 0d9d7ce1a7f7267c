// Run diff: tags gained and lost between two runs (GET /tags/diff), totals per tag as a chart
// and a page of per-customer changes.
import { $, api, chart, customerLink, el, fmt, showError, start, t, table, tagCatalog, tagChip, tagName } from './common.js';

const LIMIT = 50;

start(async () => {
  const [tags, runs] = await Promise.all([tagCatalog(), api('/runs')]);
  const from = $('from');
  const to = $('to');
  for (const r of runs.data) {
    const label = `${r.run_id} · ${(r.created_at || '').slice(0, 19).replace('T', ' ')}`;
    from.append(el('option', { value: r.run_id }, label));
    to.append(el('option', { value: r.run_id }, label));
  }
  if (runs.data.length < 2) {
    $('totals').textContent = t('diff.need_two');
    return;
  }
  const params = new URLSearchParams(location.search);
  from.value = params.get('from') || runs.data[1].run_id;
  to.value = params.get('to') || runs.data[0].run_id;
  let offset = 0;
  const draw = async () => {
    const d = await api('/tags/diff', { query: { from: from.value, to: to.value, limit: LIMIT, offset } });
    const totals = d.totals.slice().sort((a, b) => (b.gained + b.lost) - (a.gained + a.lost));
    if (!totals.length) $('totals').textContent = t('diff.none');
    else $('totals').replaceChildren();
    const top = totals.slice(0, 30);
    chart('chart-diff', {
      tooltip: { trigger: 'axis' },
      legend: { data: [t('diff.gained'), t('diff.lost')] },
      grid: { left: 50, right: 10, top: 30, bottom: 90 },
      xAxis: { type: 'category', data: top.map((x) => tagName(tags, x.tag_id)), axisLabel: { rotate: 60, interval: 0, fontSize: 10 } },
      yAxis: { type: 'value' },
      series: [
        { name: t('diff.gained'), type: 'bar', data: top.map((x) => x.gained), itemStyle: { color: '#3ba272' } },
        { name: t('diff.lost'), type: 'bar', data: top.map((x) => -x.lost), itemStyle: { color: '#ee6666' } },
      ],
    });
    $('changes').replaceChildren(table([
      { key: 'customer_id', label: t('col.customer_id'), render: (r) => customerLink(r.customer_id) },
      { key: 'tag_id', label: t('col.tag'), render: (r) => tagChip(tags, r.tag_id) },
      { key: 'change', label: t('col.change'), render: (r) => t(`diff.${r.change}`) },
    ], d.data, { sortable: true, id: 'diff-changes' }));
    $('page-no').textContent = t('pager.page', { n: Math.floor(offset / LIMIT) + 1 });
    $('prev').disabled = offset === 0;
    $('next').disabled = offset + d.count >= d.total;
  };
  $('diff-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    offset = 0;
    history.replaceState(null, '', `${location.pathname}?from=${encodeURIComponent(from.value)}&to=${encodeURIComponent(to.value)}`);
    draw().catch(showError);
  });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); draw().catch(showError); });
  $('next').addEventListener('click', () => { offset += LIMIT; draw().catch(showError); });
  await draw();
});
