// Campaign planner: POST /campaigns/referral-plan with k, a target expression and a cap per
// community; seeds with reasons, expected reach with its interval, the baselines as a chart,
// reach per community, and the seeds as CSV. Planning is for operators and admins.
import { $, card, api, chart, communityLink, customerLink, el, fmt, start, t, table, tagCatalog, tagChip } from './common.js';

function csv(plan) {
  const q = (v) => { const s = v === null || v === undefined ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
  const head = ['rank', 'customer_id', 'marginal_gain', 'community_id', 'tags', 'reason'];
  const lines = plan.seeds.map((s) => [s.rank, s.customer_id, s.marginal_gain, s.community_id, s.tags.join(' '), s.reason].map(q).join(','));
  return [head.join(','), ...lines].join('\n') + '\n';
}

start(async (ctx) => {
  const tags = await tagCatalog();
  const canPlan = ctx.caller.role !== 'viewer';
  $('plan-role').hidden = canPlan;
  $('plan').disabled = !canPlan;
  let plan = null;
  $('download').addEventListener('click', () => {
    const a = el('a', { href: URL.createObjectURL(new Blob([csv(plan)], { type: 'text/csv' })), download: `referral-plan-${plan.run_id}.csv` });
    document.body.append(a); a.click(); a.remove();
  });
  $('plan-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { k: Number($('k').value) };
    if ($('target').value.trim()) body.target = $('target').value.trim();
    if ($('cap').value) body.max_per_community = Number($('cap').value);
    $('plan-status').textContent = t('campaign.planning');
    $('plan').disabled = true;
    const t0 = performance.now();
    try {
      plan = await api('/campaigns/referral-plan', { method: 'POST', body });
    } catch (err) {
      $('plan-status').textContent = t('error.generic') + err.message;
      $('plan').disabled = false;
      return;
    }
    $('plan').disabled = false;
    $('plan-status').textContent = t('campaign.done', { s: ((performance.now() - t0) / 1000).toFixed(1) });
    $('plan-cards').replaceChildren(
      card(t('campaign.reach'), fmt(plan.expected_reach, 1)),
      card(t('campaign.ci'), `${fmt(plan.reach_ci[0], 1)} – ${fmt(plan.reach_ci[1], 1)}`),
      card(t('campaign.k'), fmt(plan.seeds.length)),
    );
    const details = plan.baseline_details || {};
    const names = ['plan', ...Object.keys(plan.baselines)];
    const reach = [plan.expected_reach, ...Object.keys(plan.baselines).map((k) => plan.baselines[k])];
    const ci = [plan.reach_ci, ...Object.keys(plan.baselines).map((k) => (details[k] || {}).reach_ci || null)];
    chart('chart-baselines', {
      tooltip: { trigger: 'axis' },
      grid: { left: 60, right: 10, top: 20, bottom: 40 },
      xAxis: { type: 'category', data: names.map((n) => (n === 'plan' ? t('campaign.plan_name') : t(`campaign.${n}`))) },
      yAxis: { type: 'value', name: t('campaign.reach') },
      series: [
        { type: 'bar', data: reach.map((v, i) => ({ value: v, itemStyle: { color: i === 0 ? '#b91c1c' : '#9ca3af' } })), barMaxWidth: 50 },
        { type: 'custom', name: t('campaign.ci'), data: ci.map((c, i) => (c ? [i, c[0], c[1]] : [i, reach[i], reach[i]])),
          renderItem: (params, api2) => {
            const lo = api2.coord([api2.value(0), api2.value(1)]);
            const hi = api2.coord([api2.value(0), api2.value(2)]);
            return { type: 'group', children: [
              { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: { stroke: '#111', lineWidth: 1.5 } },
              { type: 'line', shape: { x1: lo[0] - 6, y1: lo[1], x2: lo[0] + 6, y2: lo[1] }, style: { stroke: '#111' } },
              { type: 'line', shape: { x1: hi[0] - 6, y1: hi[1], x2: hi[0] + 6, y2: hi[1] }, style: { stroke: '#111' } },
            ] };
          } },
      ],
    });
    const per = Object.entries(plan.reach_per_community || {}).slice(0, 25);
    chart('chart-per-community', {
      tooltip: { trigger: 'axis' },
      grid: { left: 50, right: 10, top: 20, bottom: 50 },
      xAxis: { type: 'category', data: per.map((x) => x[0]), axisLabel: { rotate: 45, fontSize: 10 } },
      yAxis: { type: 'value' },
      series: [{ type: 'bar', data: per.map((x) => x[1]), itemStyle: { color: '#5470c6' } }],
    });
    $('seeds').replaceChildren(table([
      { key: 'rank', label: t('col.rank') },
      { key: 'customer_id', label: t('col.customer_id'), render: (r) => customerLink(r.customer_id) },
      { key: 'marginal_gain', label: t('col.gain'), desc: true, render: (r) => fmt(r.marginal_gain, 1) },
      { key: 'community_id', label: t('col.community'), render: (r) => communityLink(r.community_id) },
      { key: 'tags', label: t('col.tags'), sort: (r) => r.tags.length,
        render: (r) => el('span', {}, r.tags.filter((x) => !x.startsWith('community:')).slice(0, 6).map((x) => tagChip(tags, x))) },
      { key: 'reason', label: t('col.reason') },
    ], plan.seeds, { sortable: true, id: 'seeds-table' }));
    $('download').hidden = false;
    window.__guanxi.plan = { seeds: plan.seeds.length, expected_reach: plan.expected_reach };
  });
});
