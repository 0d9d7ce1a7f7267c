// What every page shares: the API key (sessionStorage), calls to the JSON API with it, the
// caller's role (GET /me), labels, tables and charts. Pages import `start` and give it their
// render function; nothing is fetched before a key is accepted.

import { applyLabels, lang, setLang, t } from './i18n.js';

const KEY = 'guanxi.key';

/** An API refusal or failure, with the API's status, code, detail and position. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** Call the JSON API: `path` with `query` params, a JSON `body` for POST; `raw` gives the Response. */
export async function api(path, { method = 'GET', query = {}, body, raw = false } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { 'X-API-Key': sessionStorage.getItem(KEY) || '' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) {
    let b = null;
    try { b = await r.json(); } catch { b = null; }
    if (r.status === 401) showLogin(b && b.detail);
    throw new ApiError(r.status, b);
  }
  return raw ? r : r.json();
}

// --- small DOM helpers ------------------------------------------------------------------
export const $ = (id) => document.getElementById(id);

/** An element with attributes/properties and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function fmt(v, digits = 2) {
  if (v === null || v === undefined || v === '') return '–';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return v.toLocaleString('en-US', { maximumFractionDigits: digits });
  }
  if (typeof v === 'boolean') return v ? '✓' : '✗';
  return String(v);
}

/** A labelled figure for a row of cards. */
export function card(label, value) {
  return el('div', { class: 'stat' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value));
}

export function customerLink(id) {
  return el('a', { href: `/web/customer?id=${encodeURIComponent(id)}`, class: 'cid' }, id);
}

export function communityLink(id) {
  if (!id) return '–';
  return el('a', { href: `/web/community?id=${encodeURIComponent(id)}` }, id);
}

/**
 * A table: `columns` = [{key, label, render?, sort?, desc?}]; with `sortable`, clicking a
 * header sorts the rows shown (numbers numerically, text by code point); `rowKey(row)` names
 * each row in its data-key attribute.
 */
export function table(columns, rows, { sortable = false, id, rowKey } = {}) {
  let order = rows.slice();
  let by = null;
  let dir = 1;
  const tbody = el('tbody');
  const draw = () => {
    tbody.replaceChildren(...order.map((r) => el('tr', { 'data-key': rowKey ? rowKey(r) : null }, columns.map((c) => {
      const v = c.render ? c.render(r) : fmt(r[c.key]);
      return el('td', { class: typeof r[c.key] === 'number' ? 'num' : null }, v);
    }))));
  };
  const head = el('tr', {}, columns.map((c) => el('th', {
    class: sortable ? 'sortable' : null,
    'data-key': c.key,
    onclick: sortable ? () => {
      dir = by === c.key ? -dir : (c.desc ? -1 : 1);
      by = c.key;
      const val = c.sort || ((r) => r[c.key]);
      order = rows.slice().sort((a, b) => {
        const x = val(a); const y = val(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * dir;
      });
      for (const th of head.children) {
        th.removeAttribute('aria-sort');
        th.dataset.arrow = '';
      }
      const th = head.querySelector(`th[data-key="${c.key}"]`);
      th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      th.dataset.arrow = dir > 0 ? ' ▲' : ' ▼';
      draw();
    } : null,
  }, c.label)));
  draw();
  return el('table', { class: 'data', id }, el('thead', {}, head), tbody);
}

// --- charts (ECharts, vendored) -----------------------------------------------------------
/** Text for an HTML tooltip: ids and tag names come from the data, so they are escaped. */
export const esc = (v) => window.echarts.format.encodeHTML(String(v ?? ''));

const charts = {};

/** Draw `option` into the element `id` (one ECharts instance per element, kept for tests). */
export function chart(id, option) {
  const dom = $(id);
  let c = window.echarts.getInstanceByDom(dom);
  if (!c) {
    c = window.echarts.init(dom, null, { renderer: 'canvas' });
    window.addEventListener('resize', () => c.resize());
  }
  c.setOption({ animationDuration: 300, animationDurationUpdate: 300, ...option }, true);
  charts[id] = c;
  return c;
}

/** A colour per community id (stable within a page). */
const PALETTE = ['#5470c6', '#91cc75', '#fac858', '#ee6666', '#73c0de', '#3ba272', '#fc8452',
  '#9a60b4', '#ea7ccc', '#2f4554', '#61a0a8', '#d48265', '#749f83', '#ca8622', '#bda29a'];
export function communityColour(id) {
  if (!id) return '#bbbbbb';
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// --- the catalog: tag names in the current language ---------------------------------------
let catalog = null;
export async function tagCatalog() {
  if (!catalog) catalog = (await api('/tags')).data;
  return catalog;
}

export function tagName(tags, id) {
  const tag = tags && tags.find((x) => x.tag_id === id);
  if (!tag) return id;
  return (lang() === 'en' ? tag.name_en : tag.name_zh) || id;
}

export function tagChip(tags, id) {
  const tag = tags && tags.find((x) => x.tag_id === id);
  return el('span', { class: `tag cat-${tag ? tag.category : 'other'}`, title: id }, tagName(tags, id));
}

// --- errors and the key form ----------------------------------------------------------------
export function showError(err, target = 'page-error') {
  const box = $(target);
  if (!box) return;
  box.hidden = false;
  box.textContent = t('error.generic') + (err && err.message ? err.message : String(err));
}

function showLogin(reason) {
  $('page').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  if (reason && sessionStorage.getItem(KEY)) $('login-error').textContent = `${t('key.unknown')}: ${reason}`;
  sessionStorage.removeItem(KEY);
  $('key').focus();
}

/** What the page knows once started: the caller and timing marks. */
export const ctx = { caller: null, firstRender: null };
window.__guanxi = { ctx, charts, page: document.body.dataset.page };

/** Start a page: labels, language switch, the key form; then `render(ctx)` once a key works. */
export function start(render) {
  applyLabels();
  const langButton = $('lang');
  langButton.textContent = lang() === 'en' ? '中文' : 'English';
  langButton.addEventListener('click', () => { setLang(lang() === 'en' ? 'zh' : 'en'); location.reload(); });
  $('logout').addEventListener('click', () => { sessionStorage.removeItem(KEY); location.reload(); });
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('key').value.trim());
    $('login-error').textContent = '';
    boot();
  });
  const boot = async () => {
    if (!sessionStorage.getItem(KEY)) { showLogin(); return; }
    try {
      ctx.caller = await api('/me');
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) showError(err, 'login-error');
      return;
    }
    $('login').hidden = true;
    $('page').hidden = false;
    $('logout').hidden = false;
    $('who').textContent = t(`role.${ctx.caller.role}`);
    document.body.dataset.role = ctx.caller.role;
    try {
      await render(ctx);
    } catch (err) {
      showError(err);
    }
    // milliseconds since the navigation started: what a user waits for the page
    ctx.firstRender = performance.now();
    window.__guanxi.rendered = true;
    window.__guanxi.firstRenderMs = ctx.firstRender;
  };
  boot();
}

export { t };
