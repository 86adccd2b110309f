// Shared pieces of the end-to-end suites: the real alerthub server (started and stopped by the
// test), HS256 JWTs as Django Simple JWT issues them, the trigger, Debian's Chromium through
// playwright-core, and the check/skip bookkeeping that ends in "N passed, N failed, N skipped".

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(webDir, '..');
export const BIN = process.env.ALERTHUB_BIN ? path.resolve(process.env.ALERTHUB_BIN) : path.join(repoRoot, 'target/debug/alerthub');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const UPDATE_SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';

export const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerthub-e2e-'));
/** Where screenshots go: the tracked docs/ only when UPDATE_SCREENSHOTS=1, else a temp dir. */
export const shotDir = UPDATE_SCREENSHOTS ? path.join(repoRoot, 'docs') : path.join(tmpDir, 'screenshots');
fs.mkdirSync(shotDir, { recursive: true });

const dbUrl = `sqlite://${path.join(tmpDir, 'e2e.db')}`;
const jwtSecret = crypto.randomBytes(32).toString('hex');
const serviceKey = `svc_${crypto.randomBytes(24).toString('hex')}`;
const servers = new Set();

export const counts = { passed: 0, failed: 0, skipped: 0 };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(...args) {
  console.log(...args);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** One named check: "ok - name (ms)" or "FAIL - name" with the stack; never throws. */
export async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    counts.passed++;
    log(`ok   - ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    counts.failed++;
    log(`FAIL - ${name} (${Date.now() - t0} ms)\n       ${String(err && err.stack ? err.stack : err).split('\n').join('\n       ')}`);
  }
}

export function skip(name, why) {
  counts.skipped++;
  log(`SKIPPED - ${name}: ${why}`);
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeout` ms. */
export async function waitFor(fn, what, { timeout = 10_000, every = 50 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

function b64url(data) {
  return Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64url');
}

/** An HS256 JWT as Django Simple JWT would issue it. */
export function mintJwt(userId, { secret = jwtSecret, ttl = 3600, extra = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url({ alg: 'HS256', typ: 'JWT' });
  const claims = b64url({ user_id: String(userId), iat: now, exp: now + ttl, jti: crypto.randomBytes(6).toString('hex'), token_type: 'access', ...extra });
  const sig = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${sig}`;
}

export function freePort() {
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

export function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The server the suites talk to; `base` changes while (d) runs a stand-in on another port. */
export const env = { base: '', port: 0, server: null };

export async function startServer(port, label = 'server') {
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

export async function stopServer(srv) {
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

/** POST /api/v1/alerts as an internal service; returns the stored alert. */
export async function trigger(userId, fields = {}) {
  const body = {
    user_id: String(userId),
    breach_id: `BR_${crypto.randomBytes(5).toString('hex').toUpperCase()}`,
    title: 'Data Breach Detected',
    severity: 'HIGH',
    confidence: 0.9,
    ...fields,
  };
  const res = await fetch(`${env.base}/api/v1/alerts`, {
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

/** Open WebSocket sessions on the server, from /health. */
export async function openConnections() {
  const res = await fetch(`${env.base}/health`);
  return (await res.json()).connections;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function stopAllServers() {
  for (const srv of [...servers]) await stopServer(srv).catch(() => {});
}

export function serverLogs() {
  return fs
    .readdirSync(tmpDir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => `# --- ${f} (last lines) ---\n${tail(path.join(tmpDir, f), 15)}`);
}

// ---- the served dashboard ----

export const sel = {
  badge: '[data-testid="status-badge"]',
  live: '[data-testid="status-badge"][data-state="open"]',
  item: (id) => `[data-testid="alert-item"][data-alert-id="${id}"]`,
  toast: (id) => `[data-testid="toast"][data-alert-id="${id}"]`,
  unread: '[data-testid="unread-count"]',
};

export async function openDashboard(context, userId, token, { viewport } = {}) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  page.on('pageerror', (err) => log(`       [page error] ${err.message}`));
  const q = new URLSearchParams();
  if (userId != null) q.set('user', String(userId));
  q.set('token', token);
  await page.goto(`${env.base}/?${q}`);
  return { page, sockets };
}

export async function waitLive(page, timeout = 10_000) {
  await page.waitForSelector(sel.live, { timeout });
  const text = (await page.textContent(sel.badge)).trim();
  assert(/live/i.test(text), `badge says "${text}"`);
}

/**
 * Waits for the page's first keep-alive round trip. The server reads nothing
 * from a socket while its replay runs, so this pong means the replay is over:
 * an alert triggered after it arrives live, with a toast. One triggered right
 * after `connection_established` may arrive inside the replay instead
 * (`"replayed":true`, no toast: not lost, as the contract allows).
 */
export async function waitPastReplay(page, timeout = 5000) {
  await page.waitForFunction(() => /\d+ ms/.test(document.querySelector('[data-testid="rtt"]').textContent), null, { timeout });
}

export async function unreadCount(page) {
  return Number((await page.textContent(sel.unread)).trim());
}

export async function waitUnread(page, n, timeout = 3000) {
  await page.waitForFunction(([s, want]) => Number(document.querySelector(s).textContent) === want, [sel.unread, n], { timeout });
}
