// Contract §5 on the client side: refresh in band before expires_at, invalid_token keeps the
// session, 4001 reconnects with a fresh token and `since`, 4003 stays terminal, and a missing
// token is a visible state.
import test from 'node:test';
import assert from 'node:assert/strict';
import { AlertHubClient, refreshDelay } from '../alerthub-client.js';
import { FakeClock, makeFakeWebSocket, alertFrame, record, flush } from '../test-support/fakes.mjs';

const T0 = Date.parse('2025-11-25T12:00:00Z');

function setup(opts = {}) {
  const clock = new FakeClock();
  const WS = makeFakeWebSocket();
  const tokens = [];
  let next = 1;
  const getToken =
    'getToken' in opts
      ? opts.getToken
      : async () => {
          const t = `fresh${next++}`;
          tokens.push(t);
          return t;
        };
  const client = new AlertHubClient({
    url: 'http://alerthub.test:8000',
    userId: '1',
    token: 'tok0',
    WebSocketImpl: WS,
    random: () => 0.5,
    now: clock.now,
    wallNow: () => T0 + clock.t,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    pingIntervalMs: 24 * 3_600_000, // the fake server answers no pings
    ...opts,
    getToken,
  });
  const log = record(client, 'status', 'alert', 'token', 'error');
  return { clock, WS, client, log, tokens };
}

const iso = (ms) => new Date(ms).toISOString();

function establish(ws, expiresAt, sessionId = 's-1') {
  ws.serverOpen();
  ws.serverSend({
    type: 'connection_established',
    message: 'Connected to ML-powered breach alert system',
    user_id: '1',
    timestamp: iso(T0),
    session_id: sessionId,
    expires_at: expiresAt,
  });
}

test('refresh delay: 30–60 s before expiry for long tokens, 80–90 % of the lifetime for short ones', () => {
  assert.equal(refreshDelay(3_600_000, { random: () => 0 }), 3_540_000);
  assert.equal(refreshDelay(3_600_000, { random: () => 0.9999999999 }), 3_569_999);
  assert.equal(refreshDelay(600_000, { random: () => 0.5 }), 555_000);
  assert.equal(refreshDelay(60_000, { random: () => 0 }), 48_000);
  assert.equal(refreshDelay(60_000, { random: () => 0.5 }), 51_000);
  assert.ok(refreshDelay(60_000, { random: () => 0.9999999 }) < 54_000);
  // the two rules meet at 5 minutes
  assert.equal(refreshDelay(300_000, { random: () => 0 }), 240_000);
  assert.equal(refreshDelay(299_999, { random: () => 0 }), 239_999);
  assert.equal(refreshDelay(0), 0);
  assert.equal(refreshDelay(-5), 0);
  assert.equal(refreshDelay(NaN), 0);
  for (let i = 0; i < 200; i++) {
    const life = 1000 + Math.random() * 7_200_000;
    const d = refreshDelay(life);
    assert.ok(d > 0 && d < life, `refresh at ${d} of ${life}`);
    assert.ok(life - d >= Math.min(30_000, life * 0.1) - 1, 'leaves time before expiry');
  }
});

test('session id and expiry are read from connection_established; refresh in band before expires_at', async () => {
  const { WS, client, clock, log, tokens } = setup();
  client.connect();
  establish(WS.last, iso(T0 + 600_000));
  assert.equal(client.sessionId, 's-1');
  assert.equal(client.expiresAt, iso(T0 + 600_000));
  clock.advance(555_000 - 1);
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 0, 'not before 45 s ahead of expiry (random 0.5)');
  clock.advance(1);
  await flush();
  assert.deepEqual(WS.last.sentOfType('refresh_token'), [{ type: 'refresh_token', token: 'fresh1' }]);
  assert.equal(client.token, 'tok0', 'the new token is used only once the server accepted it');
  WS.last.serverSend({ type: 'token_refreshed', expires_at: iso(T0 + 1_200_000) });
  assert.equal(client.token, 'fresh1');
  assert.equal(client.expiresAt, iso(T0 + 1_200_000));
  assert.deepEqual(log.token, [{ refreshed: true, expires_at: iso(T0 + 1_200_000), error: null }]);
  assert.equal(WS.instances.length, 1, 'no reconnect');
  assert.equal(client.state, 'open');
  // the next refresh is planned from the new expiry
  clock.advance(1_155_000 - 555_000);
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 2);
  assert.deepEqual(tokens, ['fresh1', 'fresh2']);
  // a reconnect uses the refreshed token
  WS.last.serverSend({ type: 'token_refreshed', expires_at: iso(T0 + 2_000_000) });
  client.reconnect();
  assert.match(WS.last.url, /token=fresh2/);
});

test('a short-lived token is refreshed at 80–90 % of its lifetime; opaque tokens (expires_at null) never', async () => {
  const { WS, client, clock } = setup();
  client.connect();
  establish(WS.last, iso(T0 + 60_000));
  clock.advance(50_999);
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 0);
  clock.advance(1);
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 1);

  const other = setup();
  other.client.connect();
  establish(other.WS.last, null);
  assert.equal(other.client.expiresAt, null);
  other.clock.advance(24 * 3_600_000);
  await flush();
  assert.equal(other.WS.last.sentOfType('refresh_token').length, 0);
  assert.equal(other.tokens.length, 0, 'getToken never called for a token without expiry');
});

test('error invalid_token keeps the session and its token, and the refresh is tried again later', async () => {
  const { WS, client, clock, log } = setup();
  client.connect();
  establish(WS.last, iso(T0 + 120_000));
  clock.advance(102_000); // 85 % of 120 s
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 1);
  WS.last.serverSend({ type: 'error', code: 'invalid_token', message: 'token refused' });
  assert.equal(client.state, 'open');
  assert.equal(client.token, 'tok0');
  assert.equal(client.expiresAt, iso(T0 + 120_000));
  assert.match(client.lastError, /refresh refused: token refused/);
  assert.equal(log.token.at(-1).refreshed, false);
  assert.equal(log.error.at(-1).code, 'invalid_token', 'the error event is still emitted');
  // 18 s were left: the next try comes after half of that
  clock.advance(8_999);
  await flush();
  assert.equal(WS.last.sentOfType('refresh_token').length, 1);
  clock.advance(1);
  await flush();
  assert.deepEqual(WS.last.sentOfType('refresh_token').at(-1), { type: 'refresh_token', token: 'fresh2' });
  WS.last.serverSend({ type: 'token_refreshed', expires_at: iso(T0 + 400_000) });
  assert.equal(client.token, 'fresh2');
  assert.equal(WS.instances.length, 1);
});

test('a getToken that fails or gives the same token does not touch the session', async () => {
  let calls = 0;
  const { WS, client, clock } = setup({
    getToken: async () => {
      calls++;
      if (calls === 1) throw new Error('auth server down');
      return 'tok0';
    },
  });
  client.connect();
  establish(WS.last, iso(T0 + 100_000));
  clock.advance(85_000);
  await flush();
  assert.equal(calls, 1);
  assert.match(client.lastError, /getToken failed: auth server down/);
  clock.advance(7_500); // half of the 15 s left
  await flush();
  assert.equal(calls, 2);
  assert.match(client.lastError, /no new token/);
  assert.equal(WS.last.sentOfType('refresh_token').length, 0, 'the same token is not sent again');
  assert.equal(client.state, 'open');
});

test('close 4001 (token expired) asks getToken and reconnects with the new token and since', async () => {
  const { WS, client, clock, log } = setup({ refreshInBand: false });
  client.connect();
  establish(WS.last, iso(T0 + 30_000));
  WS.last.serverSend(alertFrame(41));
  WS.last.serverClose(4001, 'token expired');
  assert.equal(client.state, 'reconnecting', '4001 is not terminal');
  assert.equal(log.status.at(-1).code, 4001);
  assert.equal(log.status.at(-1).reason, 'token expired');
  clock.advance(log.status.at(-1).delay);
  await flush();
  assert.equal(WS.instances.length, 2);
  assert.match(WS.last.url, /token=fresh1/);
  assert.match(WS.last.url, /since=41/);
  establish(WS.last, iso(T0 + 90_000), 's-2');
  assert.equal(client.state, 'open');
  assert.equal(client.sessionId, 's-2');
  WS.last.serverSend(alertFrame(42, { replayed: true }));
  assert.deepEqual(log.alert.map((a) => a.alert.alert_id), [41, 42]);
});

test('close 4001 without getToken, or when getToken has nothing new, stops with the reason', async () => {
  const a = setup({ getToken: undefined });
  a.client.connect();
  establish(a.WS.last, iso(T0 + 1000));
  a.WS.last.serverClose(4001, 'token expired');
  a.clock.advance(1000);
  await flush();
  assert.equal(a.client.state, 'stopped');
  assert.equal(a.log.status.at(-1).code, 4001);
  assert.match(a.log.status.at(-1).reason, /token expired/);
  assert.equal(a.WS.instances.length, 1, 'no reconnect with a token known to be expired');

  const b = setup({ getToken: () => 'tok0' });
  b.client.connect();
  establish(b.WS.last, iso(T0 + 1000));
  b.WS.last.serverClose(4001, 'token expired');
  b.clock.advance(1000);
  await flush();
  assert.equal(b.client.state, 'stopped');
  assert.match(b.client.lastError, /same token/);
  assert.equal(b.WS.instances.length, 1);
  assert.equal(b.clock.pending, 0);
});

test('a getToken that rejects after 4001 is retried with backoff', async () => {
  let calls = 0;
  const { WS, client, clock } = setup({
    refreshInBand: false,
    getToken: async () => {
      calls++;
      if (calls < 3) throw new Error('offline');
      return 'later';
    },
  });
  client.connect();
  establish(WS.last, iso(T0 + 1000));
  WS.last.serverClose(4001, 'token expired');
  for (let i = 0; i < 3; i++) {
    clock.advance(60_000);
    await flush();
  }
  assert.equal(calls, 3);
  assert.equal(WS.instances.length, 2);
  assert.match(WS.last.url, /token=later/);
});

test('close 4003 stays terminal even with getToken, and shows its reason', async () => {
  const { WS, client, clock, tokens } = setup();
  client.connect();
  establish(WS.last, iso(T0 + 600_000));
  WS.last.serverClose(4003, 'token revoked');
  assert.equal(client.state, 'stopped');
  assert.equal(client.status.reason, 'token revoked');
  assert.equal(client.lastError, 'token revoked');
  clock.advance(3_600_000);
  await flush();
  assert.equal(WS.instances.length, 1);
  assert.equal(tokens.length, 0);
});

test('no token: a visible unauthenticated state; with getToken the token is fetched first', async () => {
  const a = setup({ token: undefined, getToken: undefined });
  a.client.connect();
  assert.equal(a.client.state, 'unauthenticated');
  assert.match(a.client.lastError, /no token/);
  assert.equal(a.WS.instances.length, 0);

  const b = setup({ token: '' });
  b.client.connect();
  assert.equal(b.client.state, 'connecting');
  assert.equal(b.WS.instances.length, 0, 'waits for getToken');
  await flush();
  assert.equal(b.WS.instances.length, 1);
  assert.match(b.WS.last.url, /token=fresh1/);

  const c = setup({ token: null, getToken: async () => null });
  c.client.connect();
  await flush();
  assert.equal(c.client.state, 'unauthenticated');
  assert.match(c.client.status.reason, /getToken\(\) gave none/);
});

test('close() during a pending getToken opens nothing', async () => {
  let release;
  const { WS, client } = setup({ token: null, getToken: () => new Promise((r) => (release = r)) });
  client.connect();
  client.close();
  release('late');
  await flush();
  assert.equal(WS.instances.length, 0);
  assert.equal(client.state, 'stopped');
});
