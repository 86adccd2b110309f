// Issue 12, acceptance 3: three tabs of one user hold exactly one WebSocket (counted on the
// server's /health), all three get every alert and read-state change, and closing the leader
// tab moves the socket to another tab within 2 s without losing an alert.

import { env, assert, check, log, sel, mintJwt, trigger, openConnections, openDashboard, waitLive, waitUnread, waitFor } from './harness.mjs';

const USER = '21';

async function roles(pages) {
  return Promise.all(pages.map((p) => p.evaluate(() => window.alerthub?.role ?? null)));
}

export async function run(browser) {
  // A context of its own: the tabs of one browser profile share Web Locks and BroadcastChannel.
  const context = await browser.newContext({ viewport: { width: 1024, height: 760 } });
  let pages = [];
  await check('(t1) three tabs of one user share one WebSocket', async () => {
    await waitFor(async () => (await openConnections()) === 0, 'no session left over from earlier suites');
    const token = mintJwt(USER);
    const opened = [];
    for (let i = 0; i < 3; i++) opened.push(await openDashboard(context, USER, token));
    pages = opened.map((o) => o.page);
    for (const p of pages) await waitLive(p);
    await waitFor(async () => (await openConnections()) === 1, 'exactly one session on the server');
    const socketsOpened = opened.reduce((n, o) => n + o.sockets.length, 0);
    assert(socketsOpened === 1, `${socketsOpened} WebSockets opened by three tabs`);
    const r = await roles(pages);
    assert(r.filter((x) => x === 'leader').length === 1 && r.filter((x) => x === 'follower').length === 2, `roles ${r}`);
  });

  await check('(t2) every tab gets every alert and every read-state change', async () => {
    assert(pages.length === 3, 'no tabs from (t1)');
    const alerts = [];
    for (const severity of ['HIGH', 'CRITICAL', 'LOW']) alerts.push(await trigger(USER, { severity, title: `Shared ${severity}` }));
    for (const p of pages) {
      for (const a of alerts) await p.waitForSelector(sel.item(a.alert_id), { timeout: 3000 });
      await waitUnread(p, 3);
    }
    // a follower marks one read; a follower's mark-all-read reaches everyone
    const r = await roles(pages);
    const followers = pages.filter((_, i) => r[i] === 'follower');
    await followers[0].click(`${sel.item(alerts[0].alert_id)} [data-testid="mark-read"]`);
    for (const p of pages) {
      await p.waitForSelector(`${sel.item(alerts[0].alert_id)}[data-read="true"]`, { timeout: 3000 });
      await waitUnread(p, 2);
    }
    await followers[1].click('[data-testid="mark-all-read"]');
    for (const p of pages) {
      for (const a of alerts) await p.waitForSelector(`${sel.item(a.alert_id)}[data-read="true"]`, { timeout: 3000 });
      await waitUnread(p, 0);
    }
    assert((await openConnections()) === 1, 'still one session');
  });

  await check('(t3) closing the leader tab moves the socket to another tab within 2 s, losing no alert', async () => {
    assert(pages.length === 3, 'no tabs from (t1)');
    const r = await roles(pages);
    const leader = pages[r.indexOf('leader')];
    const rest = pages.filter((p) => p !== leader);
    const before = await trigger(USER, { title: 'Before the handover' });
    for (const p of pages) await p.waitForSelector(sel.item(before.alert_id), { timeout: 3000 });

    const t0 = Date.now();
    await leader.close();
    // Alerts created while no tab holds a socket must arrive too (replayed with since).
    const during = [];
    for (let i = 0; i < 3; i++) during.push(await trigger(USER, { title: `During the handover #${i + 1}`, severity: 'MEDIUM' }));
    const newLeader = await waitFor(
      async () => {
        const now = await roles(rest);
        const i = now.indexOf('leader');
        if (i < 0) return null;
        const open = await rest[i].evaluate(() => window.alerthub.isConnected);
        return open ? rest[i] : null;
      },
      'a new leader with an open session',
      { timeout: 5000, every: 20 },
    );
    const elapsed = Date.now() - t0;
    log(`       socket moved to another tab after ${elapsed} ms`);
    assert(elapsed < 2000, `handover took ${elapsed} ms`);
    await waitFor(async () => (await openConnections()) === 1, 'one session after the handover', { timeout: 3000 });
    const after = await trigger(USER, { title: 'After the handover', severity: 'CRITICAL' });
    for (const p of rest) {
      for (const a of [before, ...during, after]) await p.waitForSelector(sel.item(a.alert_id), { timeout: 3000 });
      for (const a of [before, ...during, after]) {
        const n = (await p.$$(sel.item(a.alert_id))).length;
        assert(n === 1, `alert ${a.alert_id} shown ${n} times`);
      }
      await waitUnread(p, 5);
    }
    assert(newLeader !== leader, 'same tab');
  });
  await context.close();
}
