// The component in headless Chromium (Debian's, driven by playwright-core;
// no browser is downloaded): the golden fixtures in a page, the demo page
// with a fixture (what it shows is checked, a screenshot kept in
// target/browser-artifacts/), and the Manifest V3 extension loading and
// running the component in its service worker and its popup page.
import assert from 'node:assert/strict';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { load } from '../index.js';
import { loadCases, workspace } from './fixtures.mjs';

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
// What this machine's closed network and running as root need.
const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = join(workspace, 'target', 'browser-artifacts');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png' };

let server;
let origin;
let browser;

before(async () => {
  assert.ok(existsSync(executablePath), `no Chromium at ${executablePath}: apt-get install chromium (or set CHROMIUM)`);
  const cases = JSON.stringify(loadCases());
  // The checkout over HTTP on loopback, and the fixtures as one document.
  server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    if (path === '/__fixtures.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(cases);
      return;
    }
    const file = normalize(join(workspace, path));
    if (!file.startsWith(workspace) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath, headless: true, args });
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('every golden fixture through the component in Chromium', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/browser/test/fixtures.html`);
  await page.waitForFunction(() => window.__results, null, { timeout: 60_000 });
  const results = await page.evaluate(() => window.__results);
  assert.deepEqual(errors, []);
  assert.equal(results.contract, '0.5.0');
  assert.ok(results.total >= 25, `${results.total} cases`);
  assert.deepEqual(results.failures, []);
  await page.close();
});

test('the demo page shows the week of a fixture', async () => {
  const context = await browser.newContext({ timezoneId: 'Europe/Berlin', viewport: { width: 1400, height: 1300 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const query = new URLSearchParams({ events: '/fixtures/demo/events.json', user: 'alice@example.com', week: '2026-11-30', now: '2026-11-30T08:00:00Z' });
  await page.goto(`${origin}/browser/demo/index.html?${query}`);
  await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
  assert.deepEqual(errors, []);

  // What the page shows is what the core says for that week (Berlin time).
  const core = await load();
  const { readFileSync } = await import('node:fs');
  const list = core.processPages(readFileSync(join(workspace, 'fixtures', 'demo', 'events.json'), 'utf8'), {
    user: 'alice@example.com',
    window: { from: '2026-11-29T23:00:00.000Z', to: '2026-12-06T23:00:00.000Z' },
    now: '2026-11-30T08:00:00Z',
  });
  const cards = page.locator('article.meeting');
  assert.equal(await cards.count(), list.meetings.length);
  for (const meeting of list.meetings.filter((m) => m.keyword || m.join)) {
    const card = page.locator(`article.meeting[data-key="${meeting.key}"]`);
    assert.equal(await card.count(), 1, meeting.key);
    if (meeting.keyword) assert.equal(await card.locator('.keyword').textContent(), meeting.keyword);
    if (meeting.join) assert.equal(await card.locator('a.join').getAttribute('href'), meeting.join.uri);
  }
  const withButtons = new Set(list.join_buttons.map((b) => b.meeting_key));
  assert.equal(await page.locator('article.meeting .button-at').count(), list.meetings.filter((m) => withButtons.has(m.key)).length);
  assert.match(await page.locator('#status').textContent(), new RegExp(`^${list.meetings.length} meetings for alice@example.com`));
  await page.screenshot({ path: join(artifacts, 'demo.png'), fullPage: true });
  await context.close();
});

test('the Manifest V3 extension loads the component and processes a page', async () => {
  const extension = join(workspace, 'browser', 'extension');
  assert.ok(existsSync(join(extension, 'core', 'index.js')), 'build the package first (node scripts/build.mjs)');
  const profile = mkdtempSync(join(tmpdir(), 'hcal-extension-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [...args, `--disable-extensions-except=${extension}`, `--load-extension=${extension}`],
  });
  try {
    const worker = context.serviceWorkers()[0] ?? await context.waitForEvent('serviceworker', { timeout: 30_000 });
    const summary = await worker.evaluate(() => globalThis.hcalSelfTest());
    assert.equal(summary.contract, '0.5.0');
    assert.ok(summary.meetings >= 10, JSON.stringify(summary));
    assert.ok(summary.join_buttons > 0 && summary.keywords.includes('@webex'), JSON.stringify(summary));

    const id = new URL(worker.url()).host;
    const page = await context.newPage();
    await page.goto(`chrome-extension://${id}/page.html`);
    await page.waitForSelector('body[data-state]', { timeout: 30_000 });
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready', await page.locator('#status').textContent());
    assert.equal(await page.locator('#meetings li').count(), summary.meetings);
    await page.screenshot({ path: join(artifacts, 'extension.png') });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
