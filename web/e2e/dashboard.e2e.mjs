// Browser tests of the dashboard against the real alerthub server, in headless Debian Chromium
// driven by playwright-core (no Playwright browser download).
//
//   cargo build && (cd web && npm install && npm run test:e2e)
//
// Env: ALERTHUB_BIN (default <repo>/target/debug/alerthub), CHROMIUM (default /usr/bin/chromium),
//      E2E_KEEP=1 keeps the temp dir and prints server logs.
// Prints "N passed, N failed" as its last line; exits non-zero when anything failed.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.ALERTHUB_BIN ? path.resolve(process.env.ALERTHUB_BIN) : path.join(repoRoot, 'target/debug/alerthub');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = path.join(repoRoot, 'docs', 'dashboard.png');
const WATCHDOG_MS = 240_000;

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerthub-e2e-'));
const dbUrl = `sqlite://${path.join(tmpDir, 'e2e.db')}`;
const jwtSecret = crypto.randomBytes(32).toString('hex');
const serviceKey = `svc_${crypto.randomBytes(24).toString('hex')}`;

const servers = new Set();
let browser = null;
let passed = 0;
let failed = 0;

// ------------------------------------------------------------------------------------------
// helpers

function log(...args) {
  console.log(...args);
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64url');
}

/** An HS256 JWT as Django Simple JWT would issue it. */
function mintJwt(userId, { secret = jwtSecret, ttl = 3600, extra = {} } = {}) {
  const header = b64url({ alg: 'HS256', typ: 'JWT' });
  const claims = b64url({ user_id: String(userId), exp: Math.floor(Date.now() / 1000) + ttl, token_type: 'access', ...extra });
  const sig = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${sig}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(port, label = 'server') {
  const logPath = path.join(tmpDir, `${label}-${port}-${Date.now()}.log`);
  const out = fs.openSync(logPath, 'a');
  const child = spawn(BIN, ['serve'], {
    cwd: tmpDir,
    env: {
      ...process.env,
      ALERTHUB_BIND: `127.0.0.1:${port}`,
      DATABASE_URL: dbUrl,
      ALERTHUB_JWT_SECRET: jwtSecret,
      ALERTHUB_SERVICE_KEYS: serviceKey,
      RUST_LOG: process.env.RUST_LOG || 'info',
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const srv = { child, port, logPath, label, exited: null };
  child.on('exit', (code, signal) => {
    srv.exited = { code, signal };
  });
  servers.add(srv);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (srv.exited) throw new Error(`${label} exited during start (${JSON.stringify(srv.exited)}):\n${tail(logPath)}`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${label} did not answer /health within 30 s:\n${tail(logPath)}`);
    await sleep(50);
  }
  return srv;
}

async function stopServer(srv) {
  if (!srv || srv.exited) {
    servers.delete(srv);
    return;
  }
  const done = new Promise((r) => srv.child.once('exit', r));
  srv.child.kill('SIGTERM');
  const timer = setTimeout(() => srv.child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
  servers.delete(srv);
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

let base = '';

async function trigger(userId, fields = {}) {
  const body = {
    user_id: String(userId),
    breach_id: `BR_${crypto.randomBytes(5).toString('hex').toUpperCase()}`,
    title: 'Data Breach Detected',
    severity: 'HIGH',
    confidence: 0.9,
    ...fields,
  };
  const res = await fetch(`${base}/api/v1/alerts`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${serviceKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert(res.status === 201, `POST /api/v1/alerts -> ${res.status} ${text}`);
  const data = JSON.parse(text);
  assert(data.alert && Number.isInteger(data.alert.alert_id), `no alert id in ${text}`);
  return data.alert;
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    log(`ok   - ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failed++;
    log(`FAIL - ${name} (${Date.now() - t0} ms)\n       ${String(err && err.stack ? err.stack : err).split('\n').join('\n       ')}`);
  }
}

const sel = {
  badge: '[data-testid="status-badge"]',
  live: '[data-testid="status-badge"][data-state="open"]',
  item: (id) => `[data-testid="alert-item"][data-alert-id="${id}"]`,
  toast: (id) => `[data-testid="toast"][data-alert-id="${id}"]`,
  unread: '[data-testid="unread-count"]',
};

async function openDashboard(context, userId, token, { viewport } = {}) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('pageerror', (err) => log(`       [page error] ${err.message}`));
  const q = new URLSearchParams();
  if (userId != null) q.set('user', String(userId));
  q.set('token', token);
  await page.goto(`${base}/?${q}`);
  return { page, sockets };
}

async function waitLive(page, timeout = 10_000) {
  await page.waitForSelector(sel.live, { timeout });
  const text = (await page.textContent(sel.badge)).trim();
  assert(/live/i.test(text), `badge says "${text}"`);
}

async function unreadCount(page) {
  return Number((await page.textContent(sel.unread)).trim());
}

/** Records every `alert` event of the page's client as [id, replayed]. */
async function recordAlertEvents(page) {
  await page.waitForFunction(() => window.alerthub);
  await page.evaluate(() => {
    window.__alertEvents = [];
    window.alerthub.addEventListener('alert', (e) => window.__alertEvents.push([e.detail.alert.alert_id, e.detail.replayed]));
  });
}

// ------------------------------------------------------------------------------------------
// scenarios

async function main() {
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found at ${BIN} (run cargo build, or set ALERTHUB_BIN)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install -y chromium)`);

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  let server = await startServer(port, 'first');
  log(`# server ${BIN} on ${base}, db ${dbUrl}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });

  // (a) + (b): user 1
  let page1;
  await check('(a) the page connects and the badge shows live', async () => {
    ({ page: page1 } = await openDashboard(context, '1', mintJwt('1')));
    await waitLive(page1);
    // the first keep-alive round trip is shown
    await page1.waitForFunction(() => /\d+ ms/.test(document.querySelector('[data-testid="rtt"]').textContent), null, { timeout: 5000 });
    const quality = await page1.getAttribute('[data-testid="rtt"]', 'data-quality');
    assert(['good', 'fair', 'poor'].includes(quality), `quality "${quality}"`);
  });

  await check('(b) an alert triggered through REST appears within 1 s, with a toast', async () => {
    assert(page1, 'no page from (a)');
    await waitLive(page1);
    const before = await unreadCount(page1);
    const title = `Credential leak ${crypto.randomBytes(3).toString('hex')}`;
    const t0 = performance.now();
    const alert = await trigger('1', { title, severity: 'CRITICAL', confidence: 0.97 });
    await page1.waitForSelector(sel.item(alert.alert_id), { timeout: Math.max(1, 1000 - (performance.now() - t0)) });
    const elapsed = performance.now() - t0;
    assert(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
    const toast = await page1.waitForSelector(sel.toast(alert.alert_id), { state: 'visible', timeout: 1000 });
    const toastText = await toast.textContent();
    assert(toastText.includes(title), `toast text "${toastText}"`);
    const itemText = await page1.textContent(sel.item(alert.alert_id));
    assert(itemText.includes(title) && itemText.includes('CRITICAL') && itemText.includes(alert.breach_id), `item text "${itemText}"`);
    assert((await page1.getAttribute(sel.item(alert.alert_id), 'data-read')) === 'false', 'new alert should be unread');
    await page1.waitForFunction(([s, n]) => Number(document.querySelector(s).textContent) === n, [sel.unread, before + 1], { timeout: 2000 });
    log(`       alert ${alert.alert_id} shown after ${elapsed.toFixed(0)} ms`);
    // the toast dismisses itself after ~5 s
    await page1.waitForSelector(sel.toast(alert.alert_id), { state: 'detached', timeout: 8000 });
  });
  await page1?.close();

  // (c) two tabs of user 2
  await check('(c) marking read in one tab updates the second tab', async () => {
    const token = mintJwt('2');
    const { page: a } = await openDashboard(context, '2', token);
    const { page: b } = await openDashboard(context, '2', token);
    await waitLive(a);
    await waitLive(b);
    const alert = await trigger('2', { title: 'Password reuse detected', severity: 'MEDIUM', confidence: 0.66 });
    await a.waitForSelector(sel.item(alert.alert_id), { timeout: 2000 });
    await b.waitForSelector(sel.item(alert.alert_id), { timeout: 2000 });
    await b.waitForFunction((s) => Number(document.querySelector(s).textContent) === 1, sel.unread, { timeout: 2000 });
    await a.click(`${sel.item(alert.alert_id)} [data-testid="mark-read"]`);
    for (const p of [b, a]) {
      await p.waitForSelector(`${sel.item(alert.alert_id)}[data-read="true"]`, { timeout: 3000 });
      await p.waitForFunction((s) => Number(document.querySelector(s).textContent) === 0, sel.unread, { timeout: 3000 });
      assert(!(await p.isVisible(`${sel.item(alert.alert_id)} [data-testid="mark-read"]`)), 'mark-read button still shown');
    }
    // and "Mark all read" from the second tab reaches the first
    const x = await trigger('2', { title: 'Suspicious sign-in', severity: 'LOW', confidence: 0.4 });
    const y = await trigger('2', { title: 'Session token exposed', severity: 'HIGH', confidence: 0.8 });
    for (const id of [x.alert_id, y.alert_id]) await a.waitForSelector(sel.item(id), { timeout: 2000 });
    await a.waitForFunction((s) => Number(document.querySelector(s).textContent) === 2, sel.unread, { timeout: 2000 });
    await b.click('[data-testid="mark-all-read"]');
    await a.waitForSelector(`${sel.item(x.alert_id)}[data-read="true"]`, { timeout: 3000 });
    await a.waitForSelector(`${sel.item(y.alert_id)}[data-read="true"]`, { timeout: 3000 });
    await a.waitForFunction((s) => Number(document.querySelector(s).textContent) === 0, sel.unread, { timeout: 3000 });
    await a.close();
    await b.close();
  });

  // (d) restart: user 3
  await check('(d) after a restart the page reconnects and shows alerts created while it was down, once each', async () => {
    const { page } = await openDashboard(context, '3', mintJwt('3'));
    await waitLive(page);
    await recordAlertEvents(page);
    const first = await trigger('3', { title: 'Before the restart', severity: 'LOW', confidence: 0.3 });
    await page.waitForSelector(sel.item(first.alert_id), { timeout: 2000 });

    await stopServer(server);
    await page.waitForSelector('[data-testid="status-badge"]:is([data-state="reconnecting"],[data-state="connecting"])', { timeout: 5000 });

    // While the page cannot reach its port, another process on the same database takes alerts.
    const sidePort = await freePort();
    const mainBase = base;
    base = `http://127.0.0.1:${sidePort}`;
    const side = await startServer(sidePort, 'side');
    const missed = [];
    try {
      for (const [sev, title] of [['HIGH', 'Created while down #1'], ['CRITICAL', 'Created while down #2'], ['MEDIUM', 'Created while down #3']]) {
        missed.push(await trigger('3', { title, severity: sev, confidence: 0.8 }));
      }
    } finally {
      await stopServer(side);
      base = mainBase;
    }
    assert((await page.$$(sel.item(missed[0].alert_id))).length === 0, 'shown before the page could reconnect?');

    // The same server comes back on the same port and database.
    server = await startServer(port, 'restarted');
    // One more right away: it arrives by replay or live, depending on the page's backoff.
    const racing = await trigger('3', { title: 'Created right after the restart', severity: 'HIGH', confidence: 0.7 });
    await waitLive(page, 35_000);
    const all = [first, ...missed, racing];
    for (const a of all) await page.waitForSelector(sel.item(a.alert_id), { timeout: 5000 });
    for (const a of all) {
      const n = (await page.$$(sel.item(a.alert_id))).length;
      assert(n === 1, `alert ${a.alert_id} shown ${n} times`);
    }
    const events = await page.evaluate(() => window.__alertEvents);
    for (const a of missed) {
      const got = events.filter(([id]) => id === a.alert_id);
      assert(got.length === 1 && got[0][1] === true, `alert ${a.alert_id} events ${JSON.stringify(got)} (want one replayed)`);
    }
    const ids = events.map(([id]) => id);
    assert(new Set(ids).size === ids.length, `duplicate alert events ${JSON.stringify(events)}`);
    // replayed alerts get no toast
    for (const a of missed) assert((await page.$$(sel.toast(a.alert_id))).length === 0, `toast for replayed alert ${a.alert_id}`);
    const total = await page.$$eval('[data-testid="alert-item"]', (els) => els.length);
    assert(total === all.length, `${total} items, want ${all.length}`);
    // newest first
    const order = await page.$$eval('[data-testid="alert-item"]', (els) => els.map((e) => Number(e.dataset.alertId)));
    assert(order.every((id, i) => i === 0 || order[i - 1] > id), `order ${order}`);
    await page.waitForFunction((s) => Number(document.querySelector(s).textContent) === 5, sel.unread, { timeout: 3000 });
    await page.close();
  });

  // (e) bad tokens
  await check('(e) a bad token shows "authentication failed" and the client stops retrying', async () => {
    const { page, sockets } = await openDashboard(context, '4', mintJwt('4', { secret: 'not-the-secret' }));
    await page.waitForSelector('[data-testid="status-badge"][data-state="stopped"]', { timeout: 5000 });
    const text = await page.textContent(sel.badge);
    assert(/authentication failed/i.test(text), `badge says "${text}"`);
    assert(await page.isVisible('[data-testid="notice"]'), 'no notice shown');
    const n = sockets.length;
    assert(n === 1, `${n} WebSocket attempts before stopping`);
    // waiting for something NOT to happen: a fixed quiet period is the check itself
    await sleep(4000);
    assert(sockets.length === 1, `${sockets.length} WebSocket attempts after stopping`);
    assert((await page.getAttribute(sel.badge, 'data-state')) === 'stopped', 'left the stopped state');
    await page.close();
  });

  await check('(e2) a token of another user shows "user mismatch" and stops', async () => {
    const { page, sockets } = await openDashboard(context, '4', mintJwt('5'));
    await page.waitForSelector('[data-testid="status-badge"][data-state="stopped"]', { timeout: 5000 });
    const text = await page.textContent(sel.badge);
    assert(/user mismatch/i.test(text), `badge says "${text}"`);
    await sleep(2000);
    assert(sockets.length === 1, `${sockets.length} WebSocket attempts`);
    await page.close();
  });

  await check('(e3) the sign-in form takes a JWT and reads the user id from it', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector('[data-testid="login-form"]', { state: 'visible', timeout: 5000 });
    await page.fill('[data-testid="login-token"]', mintJwt('6'));
    await page.click('[data-testid="login-submit"]');
    await waitLive(page);
    assert((await page.textContent('[data-testid="user-chip"]')).includes('User 6'), 'user chip');
    assert(!page.url().includes('token='), 'token left in the URL');
    await page.close();
  });

  // (f) screenshot: user 7
  await check('(f) screenshot of the dashboard with alerts of mixed severities', async () => {
    const ago = (mins) => new Date(Date.now() - mins * 60_000).toISOString();
    const seed = [
      { severity: 'LOW', title: 'New device signed in to your account', breach_id: 'DEVICE_2291', confidence: 0.42, detected_at: ago(5 * 60) },
      { severity: 'MEDIUM', title: 'Email exposed in a retailer breach', breach_id: 'BREACH_SHOPLY_2025', confidence: 0.74, detected_at: ago(47), description: 'Your email address and order history were part of a 2.1M-record leak from an online retailer.' },
      { severity: 'HIGH', title: 'Credentials offered on a dark-web market', breach_id: 'DW_MKT_88213', confidence: 0.91, detected_at: ago(6), description: 'A listing offers your email with a plaintext password. Rotate the password and enable two-factor authentication.' },
    ];
    const created = [];
    for (const s of seed) created.push(await trigger('7', s));
    // one already read, over REST as the user
    const token = mintJwt('7');
    const res = await fetch(`${base}/api/v1/alerts/${created[1].alert_id}/read`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    assert(res.status === 200, `mark read over REST -> ${res.status}`);

    const { page } = await openDashboard(context, '7', token, { viewport: { width: 1280, height: 800 } });
    await waitLive(page);
    for (const a of created) await page.waitForSelector(sel.item(a.alert_id));
    await page.waitForFunction(() => /\d+ ms/.test(document.querySelector('[data-testid="rtt"]').textContent), null, { timeout: 5000 });
    const live = await trigger('7', {
      severity: 'CRITICAL',
      title: 'Admin API key leaked in a public repository',
      breach_id: 'SECRETS_GH_5530',
      confidence: 0.99,
      description: 'An API key with admin scope for your workspace was committed to a public repository 2 minutes ago.',
    });
    await page.waitForSelector(sel.toast(live.alert_id), { state: 'visible', timeout: 2000 });
    await page.waitForFunction((s) => Number(document.querySelector(s).textContent) === 3, sel.unread, { timeout: 3000 });
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });
    const size = fs.statSync(SCREENSHOT).size;
    assert(size > 20_000, `screenshot is only ${size} bytes`);
    log(`       wrote ${path.relative(repoRoot, SCREENSHOT)} (${size} bytes)`);
    await page.close();
  });

  await context.close();
}

async function cleanup() {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  for (const srv of [...servers]) await stopServer(srv).catch(() => {});
  if (process.env.E2E_KEEP || failed) {
    for (const f of fs.readdirSync(tmpDir).filter((f) => f.endsWith('.log'))) {
      log(`# --- ${f} (last lines) ---\n${tail(path.join(tmpDir, f), 15)}`);
    }
  }
  if (!process.env.E2E_KEEP) fs.rmSync(tmpDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  log(`FAIL - watchdog: the run took longer than ${WATCHDOG_MS / 1000} s`);
  failed++;
  await cleanup();
  log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}, WATCHDOG_MS);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

try {
  await main();
} catch (err) {
  failed++;
  log(`FAIL - setup: ${err && err.stack ? err.stack : err}`);
}
clearTimeout(watchdog);
await cleanup();
log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
