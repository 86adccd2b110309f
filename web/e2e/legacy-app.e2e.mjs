// Issue 12, acceptance 1: the old React front end's calls, verbatim (e2e/legacy-app/src/App.jsx),
// bundled with esbuild from npm at test time with `@hooks/useBreachWebSocket` and
// `@components/security/components/BreachAlertsDashboard` aliased to this package. A small static
// server serves the bundle and passes `/ws/` and `/api/` through to alerthub, so the page reaches
// the socket on its own host, as the old front end did behind its dev server or nginx.

import * as esbuild from 'esbuild';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { env, assert, check, log, mintJwt, trigger, openConnections, tmpDir, waitFor, webDir } from './harness.mjs';

const appDir = path.join(webDir, 'e2e', 'legacy-app');
const USER = '41';
const VERBATIM = [
  "import { useBreachWebSocket } from '@hooks/useBreachWebSocket';",
  'const { isConnected, connectionQuality, reconnect } = useBreachWebSocket(userId, handleAlert);',
  "import { BreachAlertsDashboard } from '@components/security/components/BreachAlertsDashboard';",
  '<BreachAlertsDashboard userId={userId} />',
];

async function build() {
  const outfile = path.join(tmpDir, 'legacy-app', 'app.js');
  await esbuild.build({
    entryPoints: [path.join(appDir, 'src', 'main.jsx')],
    outfile,
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    target: 'es2022',
    absWorkingDir: webDir,
    alias: {
      '@hooks/useBreachWebSocket': '@alerthub/client/react',
      '@components/security/components/BreachAlertsDashboard': '@alerthub/client/components',
    },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  fs.copyFileSync(path.join(appDir, 'index.html'), path.join(path.dirname(outfile), 'index.html'));
  return path.dirname(outfile);
}

/** Serves `dir`; `/ws/…` upgrades and `/api/…` requests go to alerthub unchanged. */
function startFrontServer(dir, upstreamPort) {
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/api/')) {
      const up = http.request({ host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
      return;
    }
    const file = req.url.split('?')[0] === '/app.js' ? 'app.js' : 'index.html';
    res.writeHead(200, { 'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html' });
    res.end(fs.readFileSync(path.join(dir, file)));
  });
  server.on('upgrade', (req, socket, head) => {
    if (!req.url.startsWith('/ws/')) return socket.destroy();
    const up = net.connect(upstreamPort, '127.0.0.1', () => {
      const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join('\r\n');
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket).pipe(up);
    });
    const end = () => {
      up.destroy();
      socket.destroy();
    };
    up.on('error', end);
    socket.on('error', end);
    up.on('close', end);
    socket.on('close', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export async function run(browser) {
  let front = null;
  let page = null;
  let context = null;
  let sockets = [];
  const handled = (id) => `[data-testid="legacy-received"] li[data-alert-id="${id}"]`;
  const inDashboard = (id) => `[data-testid="ah-alert"][data-alert-id="${id}"]`;

  await check('(g1) the old calls, verbatim, bundled with esbuild against the package, connect with the token from localStorage', async () => {
    const source = fs.readFileSync(path.join(appDir, 'src', 'App.jsx'), 'utf8');
    for (const line of VERBATIM) assert(source.includes(line), `App.jsx lost the verbatim line: ${line}`);
    const t0 = Date.now();
    const dir = await build();
    log(`       esbuild bundled the legacy app in ${Date.now() - t0} ms`);
    front = await startFrontServer(dir, env.port);
    const origin = `http://127.0.0.1:${front.address().port}`;
    await waitFor(async () => (await openConnections()) === 0, 'no session left over');
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const token = mintJwt(USER);
    await context.addInitScript((t) => window.localStorage.setItem('token', t), token);
    page = await context.newPage();
    page.on('pageerror', (err) => log(`       [page error] ${err.message}`));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${origin}/?user=${USER}`);
    await page.waitForSelector('[data-testid="legacy-status"][data-connected="true"]', { timeout: 10_000 });
    await page.waitForSelector('[data-testid="ah-status-badge"][data-state="open"]', { timeout: 10_000 });
    assert(sockets.length === 1, `${sockets.length} sockets for the hook and the dashboard of one tab`);
    const url = new URL(sockets[0]);
    assert(url.host === new URL(origin).host, `socket on ${url.host}, not the page's host`);
    assert(url.pathname === `/ws/breach-alerts/${USER}/` && url.searchParams.get('token') === token, `socket URL ${sockets[0]}`);
    await waitFor(async () => (await openConnections()) === 1, 'one session on the server');
    await page.waitForFunction(() => /good|fair|poor/.test(document.querySelector('[data-testid="legacy-status"]').textContent), null, { timeout: 5000 });
  });

  await check('(g2) a triggered alert reaches handleAlert and shows in BreachAlertsDashboard; mark read works', async () => {
    assert(page, 'no page from (g1)');
    const alert = await trigger(USER, { title: 'Password exposed in a breach', severity: 'CRITICAL' });
    await page.waitForSelector(handled(alert.alert_id), { timeout: 3000 });
    await page.waitForSelector(inDashboard(alert.alert_id), { timeout: 3000 });
    await page.waitForSelector(`[data-testid="ah-toast"][data-alert-id="${alert.alert_id}"]`, { timeout: 3000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="ah-unread"]').textContent === '1', null, { timeout: 3000 });
    const text = await page.textContent(inDashboard(alert.alert_id));
    assert(text.includes('Password exposed in a breach') && text.includes('CRITICAL'), `dashboard item "${text}"`);
    await page.click(`${inDashboard(alert.alert_id)} [data-testid="ah-mark-read"]`);
    await page.waitForSelector(`${inDashboard(alert.alert_id)}[data-read="true"]`, { timeout: 3000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="ah-unread"]').textContent === '0', null, { timeout: 3000 });
    const health = await page.textContent('[data-testid="ah-health-rtt"]');
    assert(/\d+ ms/.test(health), `health monitor round trip "${health}"`);
  });

  await check('(g3) reconnect() reconnects, and alerts keep arriving once each', async () => {
    assert(page, 'no page from (g1)');
    const before = sockets.length;
    await page.click('[data-testid="legacy-reconnect"]');
    await waitFor(() => sockets.length === before + 1, 'a new WebSocket after reconnect()');
    await page.waitForSelector('[data-testid="legacy-status"][data-connected="true"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="ah-health-reconnects"]').textContent === '1', null, { timeout: 5000 });
    await waitFor(async () => (await openConnections()) === 1, 'one session after the reconnect');
    const alert = await trigger(USER, { title: 'After reconnect', severity: 'LOW' });
    await page.waitForSelector(handled(alert.alert_id), { timeout: 3000 });
    await page.waitForSelector(inDashboard(alert.alert_id), { timeout: 3000 });
    const n = await page.$$eval('[data-testid="legacy-received"] li', (els) => els.length);
    assert(n === 2, `handleAlert saw ${n} alerts, want 2`);
  });

  await check('(g4) without a token in localStorage the hook says so instead of idling', async () => {
    assert(front, 'no front server from (g1)');
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${front.address().port}/?user=${USER}`);
    await p.waitForSelector('[data-testid="ah-status-badge"][data-state="unauthenticated"]', { timeout: 5000 });
    const notice = await p.textContent('[data-testid="ah-notice"]');
    assert(/no token/.test(notice), `notice "${notice}"`);
    const err = await p.textContent('[data-testid="ah-health-error"]');
    assert(/localStorage has no "token"/.test(err), `last error "${err}"`);
    await ctx.close();
  });

  await context?.close();
  front?.closeAllConnections();
  await new Promise((r) => (front ? front.close(r) : r()));
}
