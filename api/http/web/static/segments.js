// Segment builder: a tag expression with autocompletion from the catalog, the live member
// count (POST /segments), a parse error shown at its position (the API's 422 carries it),
// and the CSV export for operators and admins (hidden for viewers; the API refuses anyway).
import { $, ApiError, api, communityLink, customerLink, el, fmt, showError, start, t, table, tagCatalog, tagName } from './common.js';

const WORDS = ['AND', 'OR', 'NOT'];
let seq = 0;

/** The word being typed at the caret: [start, end, text]. */
function wordAt(text, caret) {
  let a = caret;
  while (a > 0 && /[\w:.\-]/.test(text[a - 1])) a -= 1;
  let b = caret;
  while (b < text.length && /[\w:.\-]/.test(text[b])) b += 1;
  return [a, b, text.slice(a, b)];
}

function showParseError(expr, err) {
  const box = $('expr-error');
  box.hidden = false;
  const p = err.body && Number.isInteger(err.body.position) ? err.body.position : null;
  if (p === null) {
    box.textContent = err.message;
    return;
  }
  // the expression with a caret under the position the parser stopped at
  const line = expr.replace(/\n/g, ' ');
  box.textContent = `${line}\n${' '.repeat(Math.min(p, line.length))}^\n${err.message}`;
  box.dataset.position = String(p);
}

start(async (ctx) => {
  const tags = await tagCatalog();
  const expr = $('expr');
  const suggest = $('suggest');
  $('export').hidden = !ctx.caller.can_export;
  let active = -1;
  let items = [];

  const evaluate = async () => {
    const mine = ++seq;
    const text = expr.value.trim();
    $('expr-error').hidden = true;
    if (!text) { $('seg-count').textContent = '–'; $('members').replaceChildren(); return; }
    try {
      const page = await api('/segments', { method: 'POST', query: { limit: 100 }, body: { expression: text } });
      if (mine !== seq) return;
      $('seg-count').textContent = fmt(page.count);
      $('seg-count').dataset.count = String(page.count);
      $('members').replaceChildren(table([
        { key: 'customer_id', label: t('col.customer_id'), render: (r) => customerLink(r.customer_id) },
        { key: 'community_id', label: t('col.community'), render: (r) => communityLink(r.community_id) },
        { key: 'influence', label: t('col.influence'), desc: true, render: (r) => fmt(r.influence, 1) },
      ], page.data, { sortable: true, id: 'segment-members' }));
    } catch (err) {
      if (mine !== seq) return;
      $('seg-count').textContent = '–';
      delete $('seg-count').dataset.count;
      if (err instanceof ApiError && err.status === 422) showParseError(text, err);
      else showError(err);
    }
    history.replaceState(null, '', `${location.pathname}?expr=${encodeURIComponent(text)}`);
  };

  const close = () => { suggest.hidden = true; items = []; active = -1; };
  const pick = (i) => {
    const [a, b] = wordAt(expr.value, expr.selectionStart);
    const word = items[i];
    expr.value = `${expr.value.slice(0, a)}${word} ${expr.value.slice(b)}`;
    const caret = a + word.length + 1;
    expr.setSelectionRange(caret, caret);
    close();
    expr.focus();
    evaluate();
  };
  const complete = () => {
    const [, , word] = wordAt(expr.value, expr.selectionStart);
    if (!word) { close(); return; }
    const w = word.toLowerCase();
    items = [...WORDS.filter((x) => x.toLowerCase().startsWith(w)),
      ...tags.map((x) => x.tag_id).filter((id) => id.toLowerCase().includes(w) || tagName(tags, id).includes(word))]
      .filter((x) => x !== word).slice(0, 12);
    if (!items.length) { close(); return; }
    active = 0;
    suggest.replaceChildren(...items.map((id, i) => el('li', {
      class: i === active ? 'active' : null, 'data-value': id,
      onmousedown: (ev) => { ev.preventDefault(); pick(i); },
    }, WORDS.includes(id) ? id : `${id} · ${tagName(tags, id)}`)));
    suggest.hidden = false;
  };

  let timer = null;
  expr.addEventListener('input', () => {
    complete();
    clearTimeout(timer);
    timer = setTimeout(evaluate, 250);
  });
  expr.addEventListener('keydown', (ev) => {
    if (suggest.hidden) return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      active = (active + (ev.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      [...suggest.children].forEach((li, i) => li.classList.toggle('active', i === active));
    } else if (ev.key === 'Enter' || ev.key === 'Tab') {
      ev.preventDefault();
      pick(active);
    } else if (ev.key === 'Escape') {
      close();
    }
  });
  expr.addEventListener('blur', () => setTimeout(close, 100));

  $('export').addEventListener('click', async () => {
    const box = $('export-error');
    box.hidden = true;
    try {
      const r = await api('/segments', { method: 'POST', query: { format: 'csv' }, body: { expression: expr.value.trim() }, raw: true });
      const blob = await r.blob();
      const a = el('a', { href: URL.createObjectURL(blob), download: `segment-${r.headers.get('X-Guanxi-Run') || 'run'}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      box.hidden = false;
      box.textContent = t('segment.refused') + err.message;
    }
  });

  expr.value = new URLSearchParams(location.search).get('expr') || 'opinion_leader AND NOT churn_risk';
  await evaluate();
});
