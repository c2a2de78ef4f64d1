// Drives the dashboard page in headless Chromium.
// env: DASHBOARD_URL, DASH_FROM and DASH_TO (optional period), DASH_USER, DASH_PASSWORD (a street-level user), DASH_COMMUNITY_SCOPE ("community:ID"),
//      DASH_TICKET_ID (a ticket in that community's overdue list), ARTIFACTS_DIR (screenshots).
// stdout: one line `HEADLINE {"scope","from","to","values":{kpi: number|null}}` for the community scope.
// Exit status is non-zero on any failure.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}
function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }
const log = (...a) => console.error('[browser]', ...a);

const base = need('DASHBOARD_URL').replace(/\/+$/, '');
const user = need('DASH_USER');
const password = need('DASH_PASSWORD');
const scope = need('DASH_COMMUNITY_SCOPE');
const ticketId = need('DASH_TICKET_ID');
const artifacts = process.env.ARTIFACTS_DIR || '.';
mkdirSync(artifacts, { recursive: true });
const TIMEOUT = 30000;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
let failed = false;
let page = null;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 }, locale: 'zh-CN' });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') log('console:', m.text()); });

  // sign in
  await page.goto(`${base}/`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-form input[name="username"]', user);
  await page.fill('#login-form input[name="password"]', password);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector('#headline .card[data-kpi][data-value]');
  await page.waitForSelector('body[data-state="ready"]');
  log('signed in; default scope', await page.inputValue('#scope'));

  // switch to the community and wait until the page has reloaded for it
  const options = await page.$$eval('#scope option', (os) => os.map((o) => o.value));
  check(options.includes(scope), `scope select offers ${scope} (has ${options.join(', ')})`);
  await page.selectOption('#scope', scope);
  await page.waitForSelector(`body[data-state="ready"] #headline[data-scope="${scope}"] .card[data-value]`);
  // optionally a fixed period (DASH_FROM, DASH_TO), so the figures can be compared with a fixture
  if (process.env.DASH_FROM && process.env.DASH_TO) {
    for (const [sel, v] of [['#from', process.env.DASH_FROM], ['#to', process.env.DASH_TO]]) {
      await page.fill(sel, v);
      await page.dispatchEvent(sel, 'change');
    }
    await page.waitForSelector(`body[data-state="ready"] #headline[data-scope="${scope}"][data-from="${process.env.DASH_FROM}"]` +
      `[data-to="${process.env.DASH_TO}"] .card[data-value]`);
  }
  const error = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
  check(!error, `no API error shown (got "${error}")`);

  const headline = await page.$$eval('#headline .card[data-kpi]', (cards) =>
    Object.fromEntries(cards.map((c) => [c.dataset.kpi, JSON.parse(c.dataset.value)])));
  for (const k of ['response_on_time_rate', 'completion_on_time_rate', 'reply_rate', 'satisfaction_rate', 'tickets', 'overdue_open']) {
    check(k in headline, `headline card ${k}`);
  }
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');
  console.log(`HEADLINE ${JSON.stringify({ scope, from, to, values: headline })}`);

  // the overdue list holds the ticket
  const link = page.locator(`#overdue a.ticket-link[data-ticket-id="${ticketId}"]`);
  await link.waitFor();
  check(await page.locator('#overdue table').innerText().then((s) => s.includes(ticketId)), `overdue table lists ${ticketId}`);
  await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });

  // ticket view with its timeline
  await link.click();
  await page.waitForSelector('#ticket:not([hidden]) #timeline li');
  const events = await page.locator('#timeline li').count();
  check(events > 0, 'timeline has events');
  check((await page.locator('#ticket-body h2').innerText()).includes(ticketId), 'ticket view shows the ticket id');
  await page.screenshot({ path: join(artifacts, 'ticket.png'), fullPage: true });
  log(`ticket ${ticketId}: ${events} events`);

  // back, then the overdue CSV export
  await page.click('#back');
  await page.waitForSelector('#overview:not([hidden]) #overdue a.csv');
  const csvHref = await page.getAttribute('#overdue a.csv', 'href');
  check(/format=csv/.test(csvHref), `CSV link ${csvHref}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#overdue a.csv')]);
  const failure = await download.failure();
  check(!failure, `download failed: ${failure}`);
  const csv = readFileSync(await download.path());
  check(csv.length >= 3 && csv[0] === 0xef && csv[1] === 0xbb && csv[2] === 0xbf, 'CSV starts with a UTF-8 BOM');
  check(csv.toString('utf8').includes(ticketId), `CSV contains ${ticketId}`);
  log(`CSV ${download.suggestedFilename()}: ${csv.length} bytes`);

  // quarterly report of the community
  const reportHref = await page.getAttribute('#report-link', 'href');
  check(reportHref && /\/report\.html\?community=.+&quarter=\d{4}Q[1-4]/.test(reportHref), `report link ${reportHref}`);
  await page.goto(new URL(reportHref, `${base}/`).href);
  await page.waitForSelector('body[data-state="ready"] #report h1');
  await page.waitForSelector('#report .card[data-value]');
  await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });

  check(pageErrors.length === 0, `no uncaught page errors (${pageErrors.join(' | ')})`);
  log('ok');
} catch (e) {
  failed = true;
  console.error('[browser] FAIL:', e && e.stack ? e.stack : e);
  if (page) await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exitCode = failed ? 1 : 0;
