import test from 'node:test';
import assert from 'node:assert/strict';
import {
  backoffDelay,
  rateLimitDelay,
  qualityFromRtt,
  BoundedIdSet,
  isJwt,
  authorizationHeader,
  buildSocketUrl,
  BACKOFF_CAP_MS,
} from '../alerthub-client.js';

test('backoff: full jitter stays within [0, min(cap, 500 * 2^attempt))', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(30_000, 500 * 2 ** attempt);
    for (const r of [0, 0.25, 0.5, 0.999999]) {
      const d = backoffDelay(attempt, { random: () => r });
      assert.ok(d >= 0 && d < ceiling, `attempt ${attempt} random ${r}: ${d}`);
    }
  }
});

test('backoff: the ceiling doubles from 500 ms and is capped at 30 s', () => {
  const top = (a) => backoffDelay(a, { random: () => 0.9999999 });
  assert.equal(top(0), 499);
  assert.equal(top(1), 999);
  assert.equal(top(2), 1999);
  assert.equal(top(5), 15_999);
  assert.equal(top(6), 29_999); // 32 s ceiling capped to 30 s
  assert.equal(top(100), BACKOFF_CAP_MS - 1);
  assert.equal(top(5000), BACKOFF_CAP_MS - 1); // 2^5000 is Infinity: still capped
  for (let a = 0; a < 6; a++) assert.ok(top(a + 1) > top(a), `grows at ${a}`);
});

test('backoff: the jitter comes from the injected random', () => {
  let calls = 0;
  const random = () => {
    calls++;
    return 0.5;
  };
  assert.equal(backoffDelay(3, { random }), 2000); // 0.5 * 4000
  assert.equal(calls, 1);
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
  assert.equal(backoffDelay(10, { random: () => 0.1 }), 3000); // 0.1 * 30000
  // bad random values are clamped rather than producing NaN or negative waits
  assert.equal(backoffDelay(2, { random: () => NaN }), 0);
  assert.equal(backoffDelay(2, { random: () => -1 }), 0);
  assert.ok(backoffDelay(2, { random: () => 7 }) < 2000);
  // the default random works
  const d = backoffDelay(4);
  assert.ok(d >= 0 && d < 8000);
});

test('rate-limit delay: at least 30 s, jittered up to 60 s', () => {
  assert.equal(rateLimitDelay({ random: () => 0 }), 30_000);
  assert.equal(rateLimitDelay({ random: () => 0.5 }), 45_000);
  assert.ok(rateLimitDelay({ random: () => 0.9999999 }) < 60_000);
  for (let i = 0; i < 100; i++) {
    const d = rateLimitDelay();
    assert.ok(d >= 30_000 && d < 60_000);
  }
});

test('quality: good < 150 ms, fair < 500 ms, poor otherwise or missing', () => {
  assert.equal(qualityFromRtt(0), 'good');
  assert.equal(qualityFromRtt(12.5), 'good');
  assert.equal(qualityFromRtt(149.99), 'good');
  assert.equal(qualityFromRtt(150), 'fair');
  assert.equal(qualityFromRtt(499.9), 'fair');
  assert.equal(qualityFromRtt(500), 'poor');
  assert.equal(qualityFromRtt(10_000), 'poor');
  assert.equal(qualityFromRtt(null), 'poor'); // missed pong
  assert.equal(qualityFromRtt(undefined), 'poor');
  assert.equal(qualityFromRtt(Infinity), 'poor');
  assert.equal(qualityFromRtt(NaN), 'poor');
  assert.equal(qualityFromRtt(-1), 'poor');
});

test('dedupe set: drops duplicates', () => {
  const s = new BoundedIdSet(10);
  assert.equal(s.add(1), true);
  assert.equal(s.add(1), false);
  assert.equal(s.add('1'), false, 'a numeric string is the same id');
  assert.equal(s.add(2), true);
  assert.equal(s.size, 2);
  assert.ok(s.has(2));
  assert.ok(!s.has(3));
});

test('dedupe set: bounded, evicting the oldest ids first', () => {
  const s = new BoundedIdSet(5000);
  for (let i = 1; i <= 12_000; i++) s.add(i);
  assert.equal(s.size, 5000);
  assert.ok(!s.has(1));
  assert.ok(!s.has(7000));
  assert.ok(s.has(7001));
  assert.ok(s.has(12_000));
  const small = new BoundedIdSet(3);
  small.add('a');
  small.add('b');
  small.add('c');
  assert.equal(small.add('a'), false, 'still remembered');
  small.add('d'); // evicts 'a' (inserted first)
  assert.equal(small.has('a'), false);
  assert.equal(small.add('a'), true);
  assert.throws(() => new BoundedIdSet(0), RangeError);
});

test('token helpers: JWT detection, Authorization header and socket URL', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiMSJ9.c2ln';
  assert.ok(isJwt(jwt));
  assert.ok(!isJwt('a3f9c2d1e0'));
  assert.ok(!isJwt('a.b'));
  assert.equal(authorizationHeader(jwt), `Bearer ${jwt}`);
  assert.equal(authorizationHeader('opaque-key_123'), 'Token opaque-key_123');
  assert.equal(authorizationHeader('Token abc'), 'Token abc');
  assert.equal(buildSocketUrl('http://localhost:8000', '1', 'abc'), 'ws://localhost:8000/ws/breach-alerts/1/?token=abc');
  assert.equal(
    buildSocketUrl('https://example.test/alerthub/', 'u_7', 'a b', 42),
    'wss://example.test/alerthub/ws/breach-alerts/u_7/?token=a+b&since=42',
  );
  assert.equal(buildSocketUrl('ws://h:1', 2, 'Bearer x.y.z', 0), 'ws://h:1/ws/breach-alerts/2/?token=x.y.z&since=0');
});
