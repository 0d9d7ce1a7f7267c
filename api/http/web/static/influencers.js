// Influencers: the run's ranking, filtered by community and tag (the API filters), sorted by
// any column (the page shown), search by customer id (opens the profile).
import { $, ApiError, api, communityLink, customerLink, el, fmt, showError, start, t, table, tagCatalog, tagChip } from './common.js';

const LIMIT = 50;

start(async () => {
  const params = new URLSearchParams(location.search);
  let offset = Number(params.get('offset') || 0);
  const [tags, comms] = await Promise.all([tagCatalog(), api('/communities', { query: { limit: 1000 } })]);
  const fc = $('f-community');
  for (const c of comms.data) fc.append(el('option', { value: c.community_id }, `${c.community_id} (${c.size})`));
  const ft = $('f-tag');
  for (const x of tags) ft.append(el('option', { value: x.tag_id }, `${tagChip(tags, x.tag_id).textContent} · ${x.tag_id}`));
  fc.value = params.get('community') || '';
  ft.value = params.get('tag') || '';

  const draw = async () => {
    const page = await api('/influencers', { query: { limit: LIMIT, offset, community: fc.value, tag: ft.value } });
    $('table').replaceChildren(table([
      { key: 'rank', label: t('col.rank') },
      { key: 'customer_id', label: t('col.customer_id'), render: (r) => customerLink(r.customer_id) },
      { key: 'score', label: t('col.score'), desc: true, render: (r) => fmt(r.score, 1) },
      { key: 'community_id', label: t('col.community'), render: (r) => communityLink(r.community_id) },
      { key: 'pagerank', label: t('col.pagerank'), desc: true, render: (r) => fmt(r.pagerank, 5) },
      { key: 'degree', label: t('col.degree'), desc: true },
      { key: 'reach_2hop', label: t('col.reach_2hop'), desc: true },
      { key: 'tags', label: t('col.tags'), sort: (r) => r.tags.length,
        render: (r) => el('span', {}, r.tags.filter((x) => !x.startsWith('community:')).map((x) => tagChip(tags, x))) },
    ], page.data, { sortable: true, id: 'influencers' }));
    $('page-no').textContent = t('pager.page', { n: Math.floor(offset / LIMIT) + 1 });
    $('prev').disabled = offset === 0;
    $('next').disabled = page.count < LIMIT;
  };
  const go = () => {
    const q = new URLSearchParams();
    if (fc.value) q.set('community', fc.value);
    if (ft.value) q.set('tag', ft.value);
    if (offset) q.set('offset', offset);
    history.replaceState(null, '', `${location.pathname}${q.size ? `?${q}` : ''}`);
    return draw().catch((err) => showError(err));
  };
  $('filters').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = $('f-search').value.trim();
    if (id) {
      try {
        await api(`/customers/${encodeURIComponent(id)}`);
        location.href = `/web/customer?id=${encodeURIComponent(id)}`;
      } catch (err) {
        showError(err instanceof ApiError ? err : String(err));
      }
      return;
    }
    offset = 0;
    go();
  });
  fc.addEventListener('change', () => { offset = 0; go(); });
  ft.addEventListener('change', () => { offset = 0; go(); });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); go(); });
  $('next').addEventListener('click', () => { offset += LIMIT; go(); });
  await draw();
});
