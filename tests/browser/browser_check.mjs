// Drives Neo4j Browser in Debian's headless Chromium (playwright-core, no downloaded browser)
// the way an analyst uses guanxi's browser kit: connect, paste `:style` + guanxi.grass, set
// the saved queries' parameters with `:param`, run the queries, and record what got drawn.
//
// Usage: node browser_check.mjs CONFIG.json
//
// CONFIG: {browserUrl, boltUrl, user, password, grass, outDir, chromium,
//          steps: [{name, params: {k: v}, query}]}
// Writes OUTDIR/result.json (what the page showed, asserted by test_neo4j_browser.py) and one
// screenshot per step, OUTDIR/<name>.png (the result frame: query, styled graph, overview).
// On failure it saves OUTDIR/failure.png and exits 1 with the reason on stderr.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const T = 90_000; // generous: CI machines have 2 cores and other jobs running
fs.mkdirSync(cfg.outDir, { recursive: true });
const log = (...a) => console.log(`[browser ${new Date().toISOString().slice(11, 19)}]`, ...a);

// Chromium needs no network beyond loopback; without the background-networking flags its
// own connections (updates, sync, field trials) are refused on closed networks and slow it down.
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'guanxi-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: cfg.chromium,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1400, height: 1000 },
  deviceScaleFactor: 1,
});
const origin = new URL(cfg.browserUrl).origin;
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
const page = context.pages()[0] ?? (await context.newPage());
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e && e.message)));

const result = { steps: [], pageErrors };

// Newest frame first: Browser puts each command's result frame at the top of the stream.
const frames = () => page.getByTestId('frame');

async function runCommand(text) {
  const before = await page.$('[data-testid="frame"]'); // the newest frame, or null
  const editor = page.getByTestId('activeEditor');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // Paste rather than type: typing multi-line text into Browser's Monaco editor auto-indents
  // and auto-closes braces, which corrupts a stylesheet (an extra `}` becomes an empty rule
  // that crashes the visualisation). Pasting is what an analyst does with the kit's files.
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.keyboard.press('Control+V');
  await page.getByTestId('editor-Run').click();
  await page.waitForFunction(
    (prev) => document.querySelector('[data-testid="frame"]') !== prev, before, { timeout: T });
  return frames().first();
}

async function connect() {
  await page.goto(cfg.browserUrl, { waitUntil: 'load', timeout: T });
  const connected = page.getByText(/You are connected as user/);
  const form = page.getByTestId('boltaddress');
  await form.or(connected).first().waitFor({ timeout: T });
  if (await form.isVisible()) {
    const url = new URL(cfg.boltUrl.replace(/^(bolt|neo4j)(\+s|\+ssc)?:/, 'http:'));
    const scheme = cfg.boltUrl.split('//')[0] + '//';
    await page.getByTestId('bolt-scheme-select').selectOption(scheme);
    await form.fill(url.host);
    await page.getByTestId('username').fill(cfg.user);
    await page.getByTestId('password').fill(cfg.password);
    await page.getByTestId('connect').click();
  }
  await connected.first().waitFor({ timeout: T });
  // The usage-statistics banner covers the top of the stream; close it for the screenshots.
  try {
    await page.locator('div:has(> span:has-text("To help make Neo4j Browser better")) > span')
      .last().click({ timeout: 3000 });
  } catch { /* no banner: nothing to close */ }
  log('connected to', cfg.boltUrl);
}

async function applyStyle() {
  const frame = await runCommand(`:style ${cfg.grass}`);
  const contents = frame.getByTestId('frameContents');
  await contents.getByText(/node\s*\{/).first().waitFor({ timeout: T });
  result.appliedStyle = await contents.innerText();
  log('stylesheet applied');
}

// Wait until the force layout stops moving nodes (Browser zooms to fit when it settles).
async function waitForLayout(frame) {
  let last = '';
  for (let i = 0; i < 60; i++) {
    await page.waitForTimeout(500);
    const now = (await frame.locator('svg g.node').evaluateAll(
      (gs) => gs.map((g) => g.getAttribute('transform')).join('|')));
    if (now === last) return;
    last = now;
  }
}

async function runStep(step) {
  for (const [name, value] of Object.entries(step.params)) {
    const f = await runCommand(`:param ${name} => ${JSON.stringify(value)}`);
    await f.getByText('Successfully set your parameter').waitFor({ timeout: T });
  }
  const frame = await runCommand(step.query);
  const graph = frame.locator('svg g.node').first();
  const failed = frame.getByText(/Error|ERROR|no changes, no records/);
  await graph.or(failed).first().waitFor({ timeout: T });
  if (!(await graph.isVisible())) {
    throw new Error(`${step.name}: no graph drawn: ${await frame.innerText()}`);
  }
  await waitForLayout(frame);
  // Full-screen frame, graph zoomed to fit: the screenshot shows the whole result legibly.
  await frame.locator('button[title="Fullscreen"]').click();
  await page.waitForTimeout(1000);
  await frame.locator('button[aria-label="zoom-to-fit"]').click();
  await waitForLayout(frame);
  const nodes = await frame.locator('svg g.node').evaluateAll((gs) => gs.map((g) => {
    const c = g.querySelector('circle.b-outline');
    return {
      id: (g.getAttribute('aria-label') || '').replace(/^graph-node/, ''),
      fill: c && c.getAttribute('fill'),
      stroke: c && c.getAttribute('stroke'),
      r: c && Number(c.getAttribute('r')),
      caption: [...g.querySelectorAll('text.caption')].map((t) => t.textContent.trim()),
    };
  }));
  const relationships = await frame.locator('svg g.relationship').evaluateAll((gs) => gs.map(
    (g) => ({
      fill: g.querySelector('path.b-outline')?.getAttribute('fill'),
      caption: [...g.querySelectorAll('text')].map((t) => t.textContent.trim()).join(' '),
    })));
  const legend = await frame.locator('[data-testid^="property-details-overview-node-label-"]')
    .evaluateAll((ds) => ds.map((d) => ({
      label: d.getAttribute('data-testid').replace('property-details-overview-node-label-', ''),
      color: getComputedStyle(d).backgroundColor,
      text: d.textContent,
    })));
  const shot = path.join(cfg.outDir, `${step.name}.png`);
  await frame.screenshot({ path: shot });
  await frame.locator('button[title="Close fullscreen"]').click().catch(() => {});
  result.steps.push({ name: step.name, nodes, relationships, legend, screenshot: shot });
  log(`${step.name}: ${nodes.length} nodes, ${relationships.length} relationships drawn`);
}

let code = 0;
try {
  await connect();
  await applyStyle();
  // Draw what the saved queries return, not every relationship among the returned nodes
  // (Browser's "Connect result nodes"): a referral tree should show its REFERRAL edges.
  const cf = await runCommand(':config autoComplete: false');
  await cf.getByText(/"autoComplete": false/).waitFor({ timeout: T });
  for (const step of cfg.steps) await runStep(step);
} catch (e) {
  code = 1;
  console.error(`browser check failed: ${e && e.stack ? e.stack : e}`);
  console.error(`page errors: ${JSON.stringify(pageErrors)}`);
  await page.screenshot({ path: path.join(cfg.outDir, 'failure.png'), fullPage: true })
    .catch(() => {});
} finally {
  fs.writeFileSync(path.join(cfg.outDir, 'result.json'), JSON.stringify(result, null, 2));
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
