// One socket for all tabs: leader election over (fake) Web Locks, frames and sends over a (fake)
// BroadcastChannel, takeover with `since` when the leader's tab goes away, late tabs catching up,
// and the fallback to one socket per tab where the APIs are missing.
import test from 'node:test';
import assert from 'node:assert/strict';
import { AlertHubClient, canShareTabs } from '../alerthub-client.js';
import { FakeClock, FakeLocks, makeBroadcastBus, makeFakeWebSocket, alertFrame, record, flush } from '../test-support/fakes.mjs';

function browser() {
  const clock = new FakeClock();
  const WS = makeFakeWebSocket();
  const locks = new FakeLocks();
  const bus = makeBroadcastBus();
  const tabs = new Map();
  function openTab(name, opts = {}) {
    const client = new AlertHubClient({
      url: 'http://alerthub.test:8000',
      userId: '1',
      token: 'tok',
      WebSocketImpl: WS,
      random: () => 0.5,
      now: clock.now,
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      pingIntervalMs: 24 * 3_600_000,
      shareAcrossTabs: true,
      locks: locks.tab(name),
      BroadcastChannel: bus.forTab(name),
      ...opts,
    });
    const log = record(client, 'status', 'alert', 'update', 'unread');
    const tab = { name, client, log };
    tabs.set(name, tab);
    return tab;
  }
  /** The tab is closed without any goodbye: the browser drops its lock, channel and socket. */
  function killTab(name) {
    const tab = tabs.get(name);
    for (const ws of WS.instances) if (ws.openedBy === name) ws.readyState = 3;
    locks.kill(name);
    bus.kill(name);
    tabs.delete(name);
    return tab;
  }
  const openSockets = () => WS.instances.filter((ws) => ws.readyState !== 3);
  return { clock, WS, locks, bus, openTab, killTab, openSockets };
}

test('the APIs are detected; without them every tab keeps its own socket', async () => {
  assert.equal(canShareTabs(undefined, class {}), false);
  assert.equal(canShareTabs(new FakeLocks(), undefined), false);
  assert.equal(canShareTabs(new FakeLocks(), class {}), true);
  const b = browser();
  const a = b.openTab('a', { locks: null });
  const c = b.openTab('c', { BroadcastChannel: null });
  assert.equal(a.client.sharing, false);
  a.client.connect();
  c.client.connect();
  await flush();
  assert.equal(b.WS.instances.length, 2);
  assert.equal(a.client.role, 'solo');
});

test('three tabs, one socket: every tab gets every alert, read-state change and count; sends go through the leader', async () => {
  const b = browser();
  const [a, c, d] = ['a', 'c', 'd'].map((n) => b.openTab(n));
  a.client.connect();
  await flush();
  c.client.connect();
  d.client.connect();
  await flush();
  assert.equal(b.WS.instances.length, 1, 'one socket for three tabs');
  assert.equal(a.client.role, 'leader');
  assert.equal(c.client.role, 'follower');
  assert.equal(d.client.role, 'follower');
  for (const t of [a, c, d]) assert.equal(t.client.state, 'connecting');

  b.WS.last.establish();
  await flush();
  for (const t of [a, c, d]) assert.equal(t.client.state, 'open', `${t.name} open`);
  b.WS.last.serverSend({ type: 'unread_count', count: 2 });
  b.WS.last.serverSend(alertFrame(10));
  b.WS.last.serverSend(alertFrame(10)); // a duplicate stays one
  await flush();
  for (const t of [a, c, d]) {
    assert.deepEqual(t.log.alert.map((e) => [e.alert.alert_id, e.replayed]), [[10, false]], t.name);
    assert.equal(t.client.unreadCount, 3, `${t.name} counts the live alert`);
  }

  // a follower marks read: sent once, on the leader's socket; every tab sees the update
  assert.equal(c.client.markRead(10), true);
  await flush();
  assert.deepEqual(b.WS.last.sentOfType('mark_read'), [{ type: 'mark_read', alert_id: 10 }]);
  b.WS.last.serverSend({ type: 'alert_update', message: { alert_id: 10, update_type: 'marked_read', timestamp: 't' } });
  b.WS.last.serverSend({ type: 'unread_count', count: 2 });
  await flush();
  for (const t of [a, c, d]) {
    assert.deepEqual(t.log.update.map((u) => u.alert_id), [10], t.name);
    assert.equal(t.client.unreadCount, 2);
  }
  // a follower's unread-count request is answered to it through the leader
  const p = d.client.getUnreadCount();
  await flush();
  b.WS.last.serverSend({ type: 'unread_count', count: 2 });
  await flush();
  assert.equal(await p, 2);
  assert.equal(b.WS.instances.length, 1);
});

test('when the leader tab closes, the next tab takes over with since and nothing is lost', async () => {
  const b = browser();
  const [a, c, d] = ['a', 'c', 'd'].map((n) => b.openTab(n));
  a.client.connect();
  await flush();
  c.client.connect();
  await flush();
  d.client.connect();
  await flush();
  b.WS.last.openedBy = 'a';
  b.WS.last.establish();
  b.WS.last.serverSend(alertFrame(20));
  await flush();

  b.killTab('a'); // no goodbye: the browser just releases the lock
  await flush();
  assert.equal(c.client.role, 'leader', 'the first tab in the lock queue leads');
  assert.equal(d.client.role, 'follower');
  assert.equal(b.WS.instances.length, 2);
  assert.match(b.WS.last.url, /since=20(&|$)/, 'resumes after the newest alert the tabs saw');
  assert.equal(b.openSockets().length, 1);
  // the alert created while nobody held the socket comes back as a replay, once per tab
  b.WS.last.establish();
  b.WS.last.serverSend(alertFrame(21, { replayed: true }));
  b.WS.last.serverSend(alertFrame(22));
  await flush();
  for (const t of [c, d]) {
    assert.equal(t.client.state, 'open');
    assert.deepEqual(t.log.alert.map((e) => [e.alert.alert_id, e.replayed]), [[20, false], [21, true], [22, false]], t.name);
  }
  // sends from the remaining follower now go through the new leader
  d.client.markAllRead();
  await flush();
  assert.equal(b.WS.last.sentOfType('mark_all_read').length, 1);
});

test('a leader that closes hands over at once and its followers say so meanwhile', async () => {
  const b = browser();
  const a = b.openTab('a');
  const c = b.openTab('c');
  a.client.connect();
  await flush();
  c.client.connect();
  b.WS.last.establish();
  await flush();
  a.client.close();
  assert.equal(b.WS.instances[0].closedWith.code, 1000);
  await flush();
  assert.equal(c.client.role, 'leader');
  assert.equal(b.WS.instances.length, 2);
  assert.ok(c.log.status.some((s) => s.state === 'connecting' && /another tab/.test(s.reason)), 'followers show the handover');
  // a follower that closes leaves the leader alone
  const d = b.openTab('d');
  d.client.connect();
  b.WS.last.establish();
  await flush();
  d.client.close();
  await flush();
  assert.equal(c.client.state, 'open');
  assert.equal(b.WS.instances.length, 2);
});

test('a tab that joins late gets the state and the alerts it missed after its since', async () => {
  const b = browser();
  const a = b.openTab('a');
  a.client.connect();
  await flush();
  b.WS.last.establish();
  b.WS.last.serverSend({ type: 'unread_count', count: 0 });
  for (const id of [30, 31, 32]) b.WS.last.serverSend(alertFrame(id));
  const rtt = b.WS.last.sentOfType('ping')[0];
  b.WS.last.serverSend({ type: 'pong', timestamp: rtt.timestamp });
  await flush();

  const late = b.openTab('late', { since: 30 }); // e.g. it loaded alerts up to 30 over REST
  late.client.connect();
  await flush();
  assert.equal(late.client.state, 'open');
  assert.equal(late.client.role, 'follower');
  assert.deepEqual(late.log.alert.map((e) => [e.alert.alert_id, e.replayed]), [[31, true], [32, true]]);
  assert.equal(late.client.unreadCount, 3);
  assert.equal(late.client.quality, 'good');
  assert.equal(b.WS.instances.length, 1);
});

test('reconnect() in a follower reconnects the shared socket; a stop (4003) reaches every tab', async () => {
  const b = browser();
  const a = b.openTab('a');
  const c = b.openTab('c');
  a.client.connect();
  await flush();
  c.client.connect();
  b.WS.last.establish();
  await flush();
  c.client.reconnect();
  await flush();
  assert.equal(b.WS.instances.length, 2);
  assert.equal(b.WS.instances[0].closedWith.code, 1000);
  b.WS.last.serverClose(4003, 'token revoked');
  await flush();
  for (const t of [a, c]) {
    assert.equal(t.client.state, 'stopped');
    assert.equal(t.client.status.reason, 'token revoked');
  }
});

test('a token refreshed by the leader is handed to the followers', async () => {
  const b = browser();
  const T0 = Date.parse('2025-11-25T12:00:00Z');
  const opts = { wallNow: () => T0 + b.clock.t, getToken: async () => 'newer' };
  const a = b.openTab('a', opts);
  const c = b.openTab('c', opts);
  a.client.connect();
  await flush();
  c.client.connect();
  b.WS.last.serverOpen();
  b.WS.last.serverSend({ type: 'connection_established', user_id: '1', session_id: 's', expires_at: new Date(T0 + 60_000).toISOString() });
  await flush();
  assert.equal(c.client.expiresAt, new Date(T0 + 60_000).toISOString());
  b.clock.advance(51_000);
  await flush();
  assert.equal(b.WS.last.sentOfType('refresh_token').length, 1, 'only the leader refreshes');
  b.WS.last.serverSend({ type: 'token_refreshed', expires_at: new Date(T0 + 600_000).toISOString() });
  await flush();
  assert.equal(a.client.token, 'newer');
  assert.equal(c.client.token, 'newer');
  assert.equal(c.client.expiresAt, new Date(T0 + 600_000).toISOString());
});
