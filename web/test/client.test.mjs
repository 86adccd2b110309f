import test from 'node:test';
import assert from 'node:assert/strict';
import { AlertHubClient } from '../alerthub-client.js';
import { FakeClock, makeFakeWebSocket, alertFrame, record } from '../test-support/fakes.mjs';

function setup(opts = {}) {
  const clock = new FakeClock();
  const WS = makeFakeWebSocket();
  const client = new AlertHubClient({
    url: 'http://alerthub.test:8000',
    userId: '1',
    token: 'tok',
    WebSocketImpl: WS,
    random: () => 0.5,
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    ...opts,
  });
  const log = record(client, 'status', 'alert', 'update', 'unread', 'quality', 'error', 'replay_truncated', 'subscribed');
  return { clock, WS, client, log };
}

const states = (log) => log.status.map((s) => s.state);

test('connects to the user path with the token and no since; open after connection_established', () => {
  const { WS, client, log } = setup();
  client.connect();
  assert.equal(WS.instances.length, 1);
  assert.equal(WS.last.url, 'ws://alerthub.test:8000/ws/breach-alerts/1/?token=tok');
  assert.equal(client.state, 'connecting');
  WS.last.serverOpen();
  assert.equal(client.isConnected, false, 'not open before connection_established');
  WS.last.establish();
  assert.equal(client.isConnected, true);
  assert.deepEqual(states(log), ['connecting', 'open']);
  // asks for the unread count and measures the round trip at once
  assert.equal(WS.last.sentOfType('get_unread_count').length, 1);
  assert.equal(WS.last.sentOfType('ping').length, 1);
  assert.equal(typeof WS.last.sentOfType('ping')[0].timestamp, 'number');
  client.connect(); // no-op while open
  assert.equal(WS.instances.length, 1);
});

test('breach alerts are emitted once, the newest id becomes since, live ones count as unread', () => {
  const { WS, client, log } = setup();
  client.connect();
  WS.last.establish();
  WS.last.serverSend({ type: 'unread_count', count: 2 });
  assert.deepEqual(log.unread.at(-1), { count: 2 });

  WS.last.serverSend(alertFrame(10));
  WS.last.serverSend(alertFrame(10)); // duplicate
  WS.last.serverSend(alertFrame(12, { severity: 'CRITICAL', description: 'x' }));
  assert.deepEqual(log.alert.map((a) => a.alert.alert_id), [10, 12]);
  assert.equal(log.alert[0].replayed, false);
  assert.equal(log.alert[1].alert.severity, 'CRITICAL');
  assert.equal(client.lastAlertId, 12);
  assert.equal(client.unreadCount, 4, 'two live unread alerts on top of the server count');

  // a live alert that is already read does not count
  WS.last.serverSend(alertFrame(13, { read: true }));
  assert.equal(client.unreadCount, 4);
  // the server's count always wins
  WS.last.serverSend({ type: 'unread_count', count: 1 });
  assert.equal(client.unreadCount, 1);

  // reconnect resumes after the newest id seen
  WS.last.serverClose(1006);
  assert.equal(client.state, 'reconnecting');
  client.reconnect();
  assert.match(WS.last.url, /[?&]since=13(&|$)/);
});

test('replayed alerts are flagged, de-duplicated and not counted locally', () => {
  const { WS, client, log } = setup({ since: 5 });
  client.seed([{ alert_id: 6 }, { alert_id: 7 }]);
  client.connect();
  assert.match(WS.last.url, /since=7/);
  WS.last.establish();
  WS.last.serverSend({ type: 'unread_count', count: 3 });
  WS.last.serverSend(alertFrame(7, { replayed: true })); // already seeded
  WS.last.serverSend(alertFrame(8, { replayed: true }));
  WS.last.serverSend(alertFrame(9, { replayed: true }));
  WS.last.serverSend({ type: 'replay_truncated', oldest_alert_id: 8 });
  assert.deepEqual(log.alert.map((a) => [a.alert.alert_id, a.replayed]), [[8, true], [9, true]]);
  assert.equal(client.unreadCount, 3);
  assert.deepEqual(log.replay_truncated, [{ oldest_alert_id: 8 }]);
  assert.equal(client.lastAlertId, 9);
});

test('alert_update, subscribed, error and unknown frames', () => {
  const { WS, client, log } = setup();
  client.connect();
  WS.last.establish();
  WS.last.serverSend({ type: 'alert_update', message: { alert_id: 3, update_type: 'marked_read', timestamp: 't' } });
  WS.last.serverSend({ type: 'unread_count', count: 0 });
  WS.last.serverSend({ type: 'alert_update', message: { alert_id: null, update_type: 'marked_all_read', timestamp: 't' } });
  WS.last.serverSend({ type: 'subscribed', user_id: '1', timestamp: 't' });
  WS.last.serverSend({ type: 'error', code: 'not_found', message: 'no such alert' });
  WS.last.serverSend({ type: 'something_new', x: 1 });
  WS.last.serverSend('not json');
  WS.last.serverSend({ type: 'breach_alert', message: {} }); // no id: ignored
  assert.deepEqual(log.update, [
    { alert_id: 3, update_type: 'marked_read', timestamp: 't' },
    { alert_id: null, update_type: 'marked_all_read', timestamp: 't' },
  ]);
  assert.deepEqual(log.unread, [{ count: 0 }]);
  assert.deepEqual(log.subscribed, [{ user_id: '1', timestamp: 't' }]);
  assert.deepEqual(log.error, [{ code: 'not_found', message: 'no such alert' }]);
  assert.equal(log.alert.length, 0);
  assert.equal(client.state, 'open', 'an error frame does not close the session');
});

test('markRead / markAllRead / getUnreadCount send the contract messages', async () => {
  const { WS, client } = setup();
  assert.equal(client.markRead(1), false, 'nothing is sent while disconnected');
  client.connect();
  assert.equal(client.markAllRead(), false);
  WS.last.establish();
  assert.equal(client.markRead(123), true);
  assert.equal(client.markRead('124'), true);
  assert.equal(client.markAllRead(), true);
  assert.throws(() => client.markRead('abc'), TypeError);
  assert.deepEqual(WS.last.sentOfType('mark_read'), [
    { type: 'mark_read', alert_id: 123 },
    { type: 'mark_read', alert_id: 124 },
  ]);
  assert.deepEqual(WS.last.sentOfType('mark_all_read'), [{ type: 'mark_all_read' }]);
  const p = client.getUnreadCount();
  assert.equal(WS.last.sentOfType('get_unread_count').length, 2);
  WS.last.serverSend({ type: 'unread_count', count: 7 });
  assert.equal(await p, 7);
});

test('ping every interval; the round trip becomes the quality; missed pongs are poor, then a reconnect', () => {
  const { WS, client, clock, log } = setup({ pingIntervalMs: 25_000, pongTimeoutMs: 10_000 });
  client.connect();
  const ws = WS.last;
  ws.establish();
  const first = ws.sentOfType('ping')[0];
  clock.advance(40);
  ws.serverSend({ type: 'pong', timestamp: first.timestamp + 999 }); // not ours: ignored
  assert.equal(log.quality.length, 0);
  ws.serverSend({ type: 'pong', timestamp: first.timestamp, server_time: 't' });
  assert.deepEqual(log.quality.at(-1), { quality: 'good', rtt: 40 });

  clock.advance(25_000 - 40); // next ping
  assert.equal(ws.sentOfType('ping').length, 2);
  clock.advance(200);
  ws.serverSend({ type: 'pong', timestamp: ws.sentOfType('ping')[1].timestamp });
  assert.deepEqual(log.quality.at(-1), { quality: 'fair', rtt: 200 });

  clock.advance(25_000 - 200);
  clock.advance(700);
  ws.serverSend({ type: 'pong', timestamp: ws.sentOfType('ping')[2].timestamp });
  assert.deepEqual(log.quality.at(-1), { quality: 'poor', rtt: 700 });

  // no answer to the fourth ping: poor
  clock.advance(25_000 - 700);
  assert.equal(ws.sentOfType('ping').length, 4);
  clock.advance(10_000);
  assert.deepEqual(log.quality.at(-1), { quality: 'poor', rtt: null });
  assert.equal(client.state, 'open', 'one missed pong is not yet a dead connection');
  // and none to the fifth: the socket is dropped and a reconnect scheduled
  clock.advance(25_000);
  assert.equal(client.state, 'reconnecting');
  assert.equal(ws.closedWith.code, 4000);
  clock.advance(1000);
  assert.equal(WS.instances.length, 2);
});

test('close 4003 stops for good with the server reason', () => {
  for (const reason of ['authentication failed', 'user mismatch']) {
    const { WS, client, clock, log } = setup();
    client.connect();
    WS.last.serverOpen();
    WS.last.serverClose(4003, reason);
    assert.equal(client.state, 'stopped');
    assert.deepEqual(log.status.at(-1), { state: 'stopped', reason, code: 4003, attempt: 0, delay: null, retryAt: null });
    clock.advance(10 * 60_000);
    assert.equal(WS.instances.length, 1, 'never retried');
    assert.equal(clock.pending, 0, 'no timer left behind');
  }
});

test('unexpected closes back off exponentially with the injected random, reset by a good session', () => {
  const { WS, client, clock, log } = setup({ random: () => 0.5 });
  client.connect();
  const delays = [];
  for (let i = 0; i < 8; i++) {
    WS.last.serverClose(1006);
    const s = log.status.at(-1);
    assert.equal(s.state, 'reconnecting');
    assert.equal(s.attempt, i + 1);
    delays.push(s.delay);
    const before = WS.instances.length;
    clock.advance(s.delay - 1);
    assert.equal(WS.instances.length, before, 'not before the delay');
    clock.advance(1);
    assert.equal(WS.instances.length, before + 1, 'right at the delay');
  }
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
  WS.last.establish();
  assert.equal(client.attempt, 0);
  WS.last.serverClose(1001, 'server shutting down');
  assert.equal(log.status.at(-1).delay, 250, 'backoff restarts after a session that was established');
  assert.equal(log.status.at(-1).reason, 'server shutting down');
});

test('close 4029 waits at least 30 s (jittered)', () => {
  const { WS, client, clock, log } = setup({ random: () => 0.25 });
  client.connect();
  WS.last.serverOpen();
  WS.last.serverClose(4029, 'rate limited');
  const s = log.status.at(-1);
  assert.equal(s.state, 'reconnecting');
  assert.equal(s.code, 4029);
  assert.equal(s.reason, 'rate limited');
  assert.equal(s.delay, 37_500);
  clock.advance(37_499);
  assert.equal(WS.instances.length, 1);
  clock.advance(1);
  assert.equal(WS.instances.length, 2);
});

test('close() stops without reconnecting; reconnect() connects at once with a fresh backoff', () => {
  const { WS, client, clock, log } = setup();
  client.connect();
  WS.last.establish();
  const ws = WS.last;
  client.close();
  assert.equal(ws.closedWith.code, 1000);
  assert.equal(client.state, 'stopped');
  clock.advance(120_000);
  assert.equal(WS.instances.length, 1);
  assert.equal(clock.pending, 0, 'no ping or retry timers left');

  client.reconnect();
  assert.equal(WS.instances.length, 2);
  WS.last.serverClose(1006);
  WS.last.serverClose(1006); // a stale second close is ignored
  assert.equal(log.status.filter((s) => s.state === 'reconnecting').length, 1);
  client.reconnect(); // skips the wait
  assert.equal(WS.instances.length, 3);
  assert.equal(client.state, 'connecting');
  assert.equal(clock.pending, 0, 'the pending retry was cancelled');
  // events from a replaced socket are ignored
  WS.instances[1].serverSend(alertFrame(99));
  assert.equal(log.alert.length, 0);
});

test('a constructor that throws (bad URL) is retried with backoff', () => {
  let n = 0;
  class Throwing {
    constructor() {
      n++;
      throw new Error('boom');
    }
  }
  const { client, clock, log } = setup({ WebSocketImpl: Throwing });
  client.connect();
  assert.equal(client.state, 'reconnecting');
  assert.match(log.status.at(-1).reason, /boom/);
  clock.advance(250);
  assert.equal(n, 2);
});

test('a session started without since asks REST for the newest id once, so a reconnect misses nothing', async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.headers.Authorization]);
    return { ok: true, status: 200, json: async () => ({ alerts: [{ alert_id: 77 }], next_before: 77 }) };
  };
  const { WS, client } = setup({ fetch });
  client.connect();
  WS.last.establish();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [['http://alerthub.test:8000/api/v1/alerts?limit=1', 'Token tok']]);
  assert.equal(client.lastAlertId, 77);
  client.reconnect();
  assert.match(WS.last.url, /since=77$/);
  WS.last.establish();
  await new Promise((r) => setImmediate(r));
  assert.equal(calls.length, 1, 'not asked again once an id is known');

  // an empty history resumes from 0; a failing REST call changes nothing
  const empty = setup({ fetch: async () => ({ ok: true, json: async () => ({ alerts: [], next_before: null }) }) });
  empty.client.connect();
  empty.WS.last.establish();
  await new Promise((r) => setImmediate(r));
  assert.equal(empty.client.lastAlertId, 0);
  const down = setup({ fetch: async () => ({ ok: false, status: 503, statusText: 'x', json: async () => ({}) }) });
  down.client.connect();
  down.WS.last.establish();
  await new Promise((r) => setImmediate(r));
  assert.equal(down.client.lastAlertId, null);
});
