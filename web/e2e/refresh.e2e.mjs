// Issue 11, acceptance 5 (the browser side of contract §5): a short-lived token refreshed in band
// by getToken() without a reconnect, and a 4001 close followed by a reconnect with a new token and
// `since` that loses no alert. The server must carry `expires_at` in `connection_established`:
// a server without it fails the first check rather than skipping it.

import { env, assert, check, log, mintJwt, trigger, waitFor, sleep } from './harness.mjs';

/** A blank page on alerthub's origin with the plain client loaded unbundled from /web/. */
async function clientPage(context) {
  const page = await context.newPage();
  page.on('pageerror', (err) => log(`       [page error] ${err.message}`));
  await page.goto(`${env.base}/health`);
  await page.addScriptTag({ type: 'module', content: "import { AlertHubClient } from '/web/alerthub-client.js'; window.AlertHubClient = AlertHubClient;" });
  await page.waitForFunction(() => window.AlertHubClient);
  return page;
}

/** The first frame the server sends to a session with this token. */
async function firstFrame(page, userId, token) {
  return page.evaluate(
    ([u, t]) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/ws/breach-alerts/${u}/?token=${encodeURIComponent(t)}`);
        ws.onmessage = (e) => {
          resolve(JSON.parse(e.data));
          ws.close();
        };
        ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
      }),
    [userId, token],
  );
}

export async function run(browser) {
  const context = await browser.newContext();
  const page = await clientPage(context);
  const names = [
    '(r0) connection_established carries session_id and expires_at',
    '(r1) a short-lived token is refreshed in band by getToken(), without a reconnect',
    '(r2) after close 4001 the client reconnects with a new token and since, losing no alert',
  ];
  await check(names[0], async () => {
    const hello = await firstFrame(page, '51', mintJwt('51'));
    assert(hello.type === 'connection_established', JSON.stringify(hello));
    assert(typeof hello.session_id === 'string' && hello.session_id, JSON.stringify(hello));
    assert(typeof hello.expires_at === 'string' && Date.parse(hello.expires_at) > Date.now(), JSON.stringify(hello));
  });

  await check(names[1], async () => {
    let minted = 0;
    await page.exposeFunction('mintToken', () => {
      minted++;
      return mintJwt('52', { ttl: 120 });
    });
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const token = mintJwt('52', { ttl: 6 });
    await page.evaluate((t) => {
      window.events = [];
      const c = new window.AlertHubClient({ userId: '52', token: t, getToken: () => window.mintToken() });
      for (const type of ['status', 'token', 'error']) c.addEventListener(type, (e) => window.events.push([type, e.detail]));
      window.c1 = c;
      c.connect();
    }, token);
    await page.waitForFunction(() => window.c1.isConnected, null, { timeout: 5000 });
    const session = await page.evaluate(() => [window.c1.sessionId, window.c1.expiresAt]);
    assert(session[0] && session[1], `session ${JSON.stringify(session)}`);
    // 80–90 % of 6 s: the refresh is in flight at 4.8–5.4 s; wait for the answer
    await page.waitForFunction(() => window.events.some(([t, d]) => t === 'token' && d.refreshed), null, { timeout: 10_000 });
    const exp = await page.evaluate(() => window.c1.expiresAt);
    assert(Date.parse(exp) > Date.parse(session[1]) + 60_000, `expiry moved from ${session[1]} to ${exp}`);
    // past the old exp the same session is still open and still delivers
    await sleep(Math.max(0, Date.parse(session[1]) - Date.now() + 1500));
    const alert = await trigger('52', { title: 'After the refresh' });
    await page.waitForFunction((id) => window.c1.seen.has(id), alert.alert_id, { timeout: 3000 });
    const state = await page.evaluate(() => [window.c1.state, window.c1.sessionId, window.events.filter(([t]) => t === 'status').map(([, d]) => d.state)]);
    assert(state[0] === 'open' && state[1] === session[0], `state ${JSON.stringify(state)}`);
    assert(sockets.length === 1, `${sockets.length} sockets: the refresh reconnected`);
    assert(minted === 1, `getToken called ${minted} times`);
  });

  await check(names[2], async () => {
    let release;
    const gate = new Promise((r) => (release = r));
    await page.exposeFunction('nextToken', async () => {
      await gate; // held until an alert was created while the session was closed
      return mintJwt('53', { ttl: 120 });
    });
    await page.evaluate((t) => {
      window.alerts53 = [];
      const c = new window.AlertHubClient({ userId: '53', token: t, getToken: () => window.nextToken(), refreshInBand: false });
      c.addEventListener('alert', (e) => window.alerts53.push([e.detail.alert.alert_id, e.detail.replayed]));
      window.c2 = c;
      c.connect();
    }, mintJwt('53', { ttl: 4 }));
    await page.waitForFunction(() => window.c2.isConnected, null, { timeout: 5000 });
    const first = await trigger('53', { title: 'Before expiry' });
    await page.waitForFunction((id) => window.c2.seen.has(id), first.alert_id, { timeout: 3000 });
    await page.waitForFunction(() => window.c2.lastClose?.code === 4001, null, { timeout: 8000 });
    const close = await page.evaluate(() => [window.c2.lastClose, window.c2.state]);
    assert(close[0].reason === 'token expired' && close[1] !== 'stopped', `close ${JSON.stringify(close)}`);
    const missed = await trigger('53', { title: 'While expired' });
    release();
    await page.waitForFunction(() => window.c2.isConnected, null, { timeout: 5000 });
    const after = await trigger('53', { title: 'After the new token' });
    await waitFor(() => page.evaluate((id) => window.c2.seen.has(id), after.alert_id), 'the live alert after reconnecting');
    const got = await page.evaluate(() => window.alerts53);
    const ids = got.map(([id]) => id);
    assert(JSON.stringify(ids) === JSON.stringify([first.alert_id, missed.alert_id, after.alert_id]), `alerts ${JSON.stringify(got)}`);
    assert(got[1][1] === true, 'the alert created while expired came back as a replay');
  });
  await context.close();
}
