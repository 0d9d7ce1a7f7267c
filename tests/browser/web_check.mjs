// Drives guanxi's web workspace in Debian's headless Chromium (playwright-core, no downloaded
// browser) the way its users do: type a key, open every page, draw the ego network, build a
// segment, plan a campaign, try an export with each role; records what the pages showed.
//
// Usage: node web_check.mjs CONFIG.json
//
// CONFIG: {baseUrl, chromium, outDir, keys: {viewer, operator, admin}, customerId,
//          communityId, expression, badExpression, typedPrefix, k}
// (test_web_workspace.py writes it; customerId is the run's highest-degree customer, whose
// ego network is the slowest to draw)
// Writes OUTDIR/result.json (asserted by test_web_workspace.py) and OUTDIR/<page>.png per page.
// Prints the time to first render of each page (ms since navigation start, until the page's
// data is drawn), of the 2-hop ego network (from the switch), and of the parts drawn after the
// first render (referral tree, community map). On failure it saves OUTDIR/failure.png and exits 1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const T = 60_000;
fs.mkdirSync(cfg.outDir, { recursive: true });
const log = (...a) => console.log(`[web ${new Date().toISOString().slice(11, 19)}]`, ...a);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'guanxi-web-'));
const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { steps: {}, consoleErrors: [], expectedErrors: [], timings: {} };
let step = 'start';
let expectingErrors = false;

async function session(role) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1, acceptDownloads: true });
  const page = await context.newPage();
  const record = (text) => (expectingErrors ? result.expectedErrors : result.consoleErrors).push({ step, role, text });
  page.on('console', (m) => { if (m.type() === 'error') record(m.text()); });
  page.on('pageerror', (e) => record(`pageerror: ${e && e.message}`));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  return { context, page, role, requests };
}

async function rendered(page) {
  await page.waitForFunction(() => window.__guanxi && window.__guanxi.rendered === true, null, { timeout: T });
  return page.evaluate(() => window.__guanxi.firstRenderMs);
}

/** When the part of a page drawn after its first render (`flag`) was drawn, in ms since navigation. */
async function drawn(page, flag) {
  await page.waitForFunction((f) => window.__guanxi[f] !== undefined, flag, { timeout: 120_000 });
  return page.evaluate((f) => window.__guanxi[f], flag);
}

async function open(s, url, name) {
  step = name;
  await s.page.goto(`${cfg.baseUrl}${url}`);
  const ms = await rendered(s.page);
  const error = await s.page.evaluate(() => { const e = document.getElementById('page-error'); return e && !e.hidden ? e.textContent : null; });
  if (error) throw new Error(`${name} (${s.role}) shows an error: ${error}`);
  result.timings[`${name}:${s.role}`] = Math.round(ms);
  return ms;
}

async function login(s) {
  step = `login:${s.role}`;
  await s.page.goto(`${cfg.baseUrl}/`);
  await s.page.waitForSelector('#login:not([hidden])', { timeout: T });
  const before = await s.page.evaluate(() => ({ login: !document.getElementById('login').hidden, main: !document.getElementById('page').hidden }));
  before.requests = s.requests.map((u) => new URL(u).pathname); // all the page asked for without a key
  await s.page.fill('#key', cfg.keys[s.role]);
  await s.page.click('#login-form button[type=submit]');
  result.timings[`login:${s.role}`] = Math.round(await rendered(s.page));
  const who = await s.page.textContent('#who');
  return { before, who };
}

async function shot(s, name) {
  const file = path.join(cfg.outDir, `${name}.png`);
  await s.page.waitForTimeout(700); // the charts' entry animation (300 ms) has ended
  await s.page.screenshot({ path: file, fullPage: false });
  return file;
}

const attributes = (page) => page.evaluate(() => Object.fromEntries(
  [...document.querySelectorAll('#attributes-table tbody tr')].map((tr) => [tr.dataset.key, tr.cells[1].textContent])));

const networkNodes = (page) => page.evaluate(() => {
  const c = window.echarts.getInstanceByDom(document.getElementById('chart-network'));
  const s = c.getOption().series[0];
  return { ids: s.data.map((d) => d.id), social: s.data.filter((d) => d.social.length).map((d) => d.id), links: s.links.length, note: document.getElementById('net-note').textContent, ...window.__guanxi.network };
});

let current = null;
try {
  // --- admin: every page, with screenshots ------------------------------------------------
  const admin = await session('admin');
  current = admin;
  result.steps.login = await login(admin);
  await open(admin, '/', 'overview');
  await admin.page.waitForFunction(() => window.echarts.getInstanceByDom(document.getElementById('chart-coverage')), null, { timeout: T });
  result.steps.overview = { screenshot: await shot(admin, 'overview'),
    cards: await admin.page.$$eval('#run-cards .stat .value', (els) => els.map((e) => e.textContent)) };
  await open(admin, '/web/influencers', 'influencers');
  result.steps.influencers = { rows: await admin.page.$$eval('#influencers tbody tr', (rs) => rs.length) };
  await admin.page.click('#influencers th[data-key="degree"]');
  result.steps.influencers.sortedByDegree = await admin.page.$$eval('#influencers tbody tr', (rs) => rs.map((r) => r.cells[5].textContent));
  result.steps.influencers.screenshot = await shot(admin, 'influencers');
  // filtered by community (the API filters): the rows are that community's ranking
  await admin.page.selectOption('#f-community', cfg.communityId);
  await admin.page.waitForFunction((c) => new URLSearchParams(location.search).get('community') === c
    && [...document.querySelectorAll('#influencers tbody tr')].every((tr) => tr.cells[3].textContent === c), cfg.communityId, { timeout: T });
  result.steps.influencers.community = await admin.page.$$eval('#influencers tbody tr', (rs) => rs.map((r) => r.cells[1].textContent));
  // search by id opens the profile
  await admin.page.fill('#f-search', cfg.customerId);
  await Promise.all([admin.page.waitForURL(/\/web\/customer\?id=/, { timeout: T }), admin.page.click('#filters button[type=submit]')]);
  result.steps.influencers.searched = new URL(admin.page.url()).searchParams.get('id');

  await open(admin, `/web/customer?id=${encodeURIComponent(cfg.customerId)}`, 'customer');
  result.timings['customer-referral-tree:admin'] = Math.round(await drawn(admin.page, 'referralsDrawn'));
  result.steps.customerAdmin = { attributes: await attributes(admin.page), network: await networkNodes(admin.page),
    tags: await admin.page.$$eval('#tags-table tbody tr', (rs) => rs.length) };
  await admin.page.waitForTimeout(1500); // the force layout settles
  result.steps.customerAdmin.networkShot = path.join(cfg.outDir, 'customer-network.png');
  await admin.page.locator('#chart-network').screenshot({ path: result.steps.customerAdmin.networkShot });
  // the 2-hop network, timed from the switch to the drawing
  const t0 = Date.now();
  await admin.page.selectOption('#hops', '2');
  await admin.page.waitForFunction(() => window.__guanxi.network && window.__guanxi.network.hops === 2, null, { timeout: T });
  result.timings['ego-network-2hop:admin'] = Date.now() - t0;
  result.steps.customerAdmin.network2 = await networkNodes(admin.page);

  await open(admin, `/web/segments?expr=${encodeURIComponent(cfg.expression)}`, 'segments');
  result.steps.segments = { count: await admin.page.getAttribute('#seg-count', 'data-count') };
  // typing: autocompletion offers a tag id for a prefix, and the live count follows
  await admin.page.fill('#expr', '');
  await admin.page.type('#expr', cfg.typedPrefix);
  await admin.page.waitForSelector('#suggest:not([hidden]) li', { timeout: T });
  result.steps.segments.suggestions = await admin.page.$$eval('#suggest li', (ls) => ls.map((l) => l.dataset.value));
  await admin.page.keyboard.press('Enter');
  await admin.page.waitForFunction(() => document.getElementById('seg-count').dataset.count !== undefined, null, { timeout: T });
  result.steps.segments.completed = await admin.page.inputValue('#expr');
  await admin.page.waitForFunction((e) => new URLSearchParams(location.search).get('expr') === e.trim(),
    await admin.page.inputValue('#expr'), { timeout: T });
  result.steps.segments.completedCount = await admin.page.getAttribute('#seg-count', 'data-count');
  // a malformed expression: the parser's position is shown
  step = 'segments-error';
  expectingErrors = true; // the 422 is logged by Chromium as a failed resource load
  await admin.page.fill('#expr', cfg.badExpression);
  await admin.page.waitForSelector('#expr-error:not([hidden])', { timeout: T });
  result.steps.segments.error = { text: await admin.page.textContent('#expr-error'), position: await admin.page.getAttribute('#expr-error', 'data-position') };
  expectingErrors = false;
  await admin.page.fill('#expr', cfg.expression);
  await admin.page.waitForFunction(() => document.getElementById('seg-count').dataset.count !== undefined && document.getElementById('expr-error').hidden, null, { timeout: T });
  result.steps.segments.screenshot = await shot(admin, 'segments');

  await open(admin, `/web/community?id=${encodeURIComponent(cfg.communityId)}`, 'community');
  result.timings['community-map:admin'] = Math.round(await drawn(admin.page, 'mapDrawn'));
  result.steps.community = await admin.page.evaluate(() => {
    const s = window.echarts.getInstanceByDom(document.getElementById('chart-map')).getOption().series[0];
    return { mapNodes: s.data.map((d) => d.id), mapLinks: s.links.length, members: document.querySelectorAll('#community-members tbody tr').length };
  });
  result.steps.community.screenshot = await shot(admin, 'community');

  await open(admin, '/web/campaign', 'campaign');
  await admin.page.fill('#k', String(cfg.k));
  const p0 = Date.now();
  await admin.page.click('#plan');
  await admin.page.waitForFunction(() => window.__guanxi.plan, null, { timeout: 120_000 });
  result.timings['campaign-plan:admin'] = Date.now() - p0;
  result.steps.campaign = await admin.page.evaluate(() => ({ ...window.__guanxi.plan, rows: document.querySelectorAll('#seeds-table tbody tr').length,
    bars: window.echarts.getInstanceByDom(document.getElementById('chart-baselines')).getOption().series[0].data.length }));
  result.steps.campaign.screenshot = await shot(admin, 'campaign');
  const [planCsv] = await Promise.all([admin.page.waitForEvent('download', { timeout: T }), admin.page.click('#download')]);
  result.steps.campaign.csv = path.join(cfg.outDir, 'plan.csv');
  await planCsv.saveAs(result.steps.campaign.csv);

  await open(admin, '/web/diff', 'diff');
  result.steps.diff = { rows: await admin.page.$$eval('#diff-changes tbody tr', (rs) => rs.length) };
  result.steps.diff.screenshot = await shot(admin, 'diff');

  // English switch: labels change, the choice survives a reload
  step = 'english';
  await admin.page.click('#lang');
  await rendered(admin.page);
  result.steps.english = { nav: await admin.page.$$eval('header nav a', (as) => as.map((a) => a.textContent)), lang: await admin.page.evaluate(() => localStorage.getItem('guanxi.lang')) };
  await admin.page.click('#lang');
  await rendered(admin.page);
  await admin.context.close();

  // --- viewer: masked PII, no export ----------------------------------------------------
  const viewer = await session('viewer');
  current = viewer;
  result.steps.loginViewer = await login(viewer);
  await open(viewer, `/web/customer?id=${encodeURIComponent(cfg.customerId)}`, 'customer');
  result.steps.customerViewer = { attributes: await attributes(viewer.page) };
  await drawn(viewer.page, 'referralsDrawn');
  result.steps.customerViewer.screenshot = await shot(viewer, 'customer'); // masked, as most users see it
  await open(viewer, `/web/segments?expr=${encodeURIComponent(cfg.expression)}`, 'segments');
  result.steps.viewerExport = { buttonVisible: await viewer.page.isVisible('#export') };
  step = 'viewer-forced-export';
  expectingErrors = true; // the API's 403 is logged by Chromium as a failed resource load
  await viewer.page.evaluate(() => document.getElementById('export').click());
  await viewer.page.waitForSelector('#export-error:not([hidden])', { timeout: T });
  result.steps.viewerExport.refusal = await viewer.page.textContent('#export-error');
  expectingErrors = false;
  await open(viewer, '/web/campaign', 'campaign');
  result.steps.viewerCampaign = { planDisabled: await viewer.page.isDisabled('#plan'), note: await viewer.page.isVisible('#plan-role') };
  await viewer.context.close();

  // --- operator: the export downloads the segment ----------------------------------------
  const operator = await session('operator');
  current = operator;
  await login(operator);
  await open(operator, `/web/segments?expr=${encodeURIComponent(cfg.expression)}`, 'segments');
  const [download] = await Promise.all([operator.page.waitForEvent('download', { timeout: T }), operator.page.click('#export')]);
  const csvPath = path.join(cfg.outDir, 'segment.csv');
  await download.saveAs(csvPath);
  result.steps.operatorExport = { buttonVisible: true, csv: csvPath, filename: download.suggestedFilename() };
  await operator.context.close();

  for (const [k, v] of Object.entries(result.timings)) log(`time ${k} ${v} ms`);
  fs.writeFileSync(path.join(cfg.outDir, 'result.json'), JSON.stringify(result, null, 1));
  await browser.close();
} catch (err) {
  console.error(`step ${step}: ${err && err.stack ? err.stack : err}`);
  console.error(JSON.stringify(result.consoleErrors));
  if (current) await current.page.screenshot({ path: path.join(cfg.outDir, 'failure.png') }).catch(() => {});
  await browser.close();
  process.exit(1);
}
