// The pure state module shared by the dashboard and the React components.
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  initialState,
  reduce,
  stats,
  visibleAlerts,
  statusLabel,
  relativeTime,
  formatConfidence,
  confidencePercent,
  severityOf,
  isPending,
} from '../alerts-state.js';

const alert = (id, extra = {}) => ({ alert_id: id, breach_id: `B${id}`, title: `Alert ${id}`, severity: 'HIGH', confidence: 0.9, read: false, ...extra });
const fold = (events, s = initialState()) => events.reduce(reduce, s);

test('alerts are kept newest first, once each, whatever order they arrive in', () => {
  const s = fold([
    { type: 'alert', alert: alert(5), replayed: false },
    { type: 'alert', alert: alert(9, { replayed: true }), replayed: true },
    { type: 'alert', alert: alert(7) },
    { type: 'alert', alert: alert(7) },
    { type: 'alert', alert: { title: 'no id' } },
  ]);
  assert.deepEqual(s.alerts.map((a) => a.alert_id), [9, 7, 5]);
  assert.equal('replayed' in s.alerts[0], false, 'the replay flag is not part of the alert');
});

test('a known alert merges, and read never turns back to unread', () => {
  let s = fold([{ type: 'alert', alert: alert(1, { read: true }) }]);
  const before = s;
  s = reduce(s, { type: 'alert', alert: alert(1, { read: true }) });
  assert.equal(s, before, 'no change, same object');
  s = reduce(s, { type: 'alert', alert: alert(1, { read: false, title: 'New title' }) });
  assert.equal(s.alerts[0].read, true);
  assert.equal(s.alerts[0].title, 'New title');
});

test('the input state is never mutated', () => {
  const s0 = fold([{ type: 'alert', alert: alert(1) }, { type: 'alert', alert: alert(2) }]);
  const snapshot = structuredClone(s0);
  fold(
    [
      { type: 'alert', alert: alert(3) },
      { type: 'update', alert_id: 1, update_type: 'marked_read' },
      { type: 'update', alert_id: null, update_type: 'marked_all_read' },
      { type: 'unread', count: 4 },
      { type: 'status', state: 'open' },
      { type: 'mark_pending', alert_id: 2 },
    ],
    s0,
  );
  assert.deepEqual(s0, snapshot);
});

test('alert_update marks one or all read and clears what was pending', () => {
  let s = fold([
    { type: 'alert', alert: alert(1) },
    { type: 'alert', alert: alert(2) },
    { type: 'alert', alert: alert(3) },
    { type: 'mark_pending', alert_id: 2 },
    { type: 'mark_pending', alert_id: 2 },
    { type: 'mark_pending', alert_id: 3 },
  ]);
  assert.deepEqual(s.pending, [2, 3]);
  assert.ok(isPending(s, '2'));
  s = reduce(s, { type: 'update', alert_id: 2, update_type: 'marked_read', timestamp: 't' });
  assert.deepEqual(s.alerts.map((a) => [a.alert_id, a.read]), [[3, false], [2, true], [1, false]]);
  assert.deepEqual(s.pending, [3]);
  s = reduce(s, { type: 'update', alert_id: null, update_type: 'marked_all_read' });
  assert.ok(s.alerts.every((a) => a.read));
  assert.deepEqual(s.pending, []);
  // REST confirmations use the same path
  s = fold([{ type: 'alert', alert: alert(4) }, { type: 'read', alert_id: 4 }]);
  assert.equal(s.alerts[0].read, true);
  assert.equal(reduce(s, { type: 'update', alert_id: 'x', update_type: 'marked_read' }), s);
});

test('a failed mark read and a not_found error release pending ids and say why', () => {
  let s = fold([{ type: 'alert', alert: alert(1) }, { type: 'mark_pending', alert_id: 1 }, { type: 'mark_failed', alert_id: 1, message: '503 unavailable' }]);
  assert.deepEqual(s.pending, []);
  assert.match(s.lastError, /mark read failed: 503/);
  s = fold([{ type: 'mark_pending', alert_id: 1 }, { type: 'error', code: 'not_found', message: 'no such alert' }], s);
  assert.deepEqual(s.pending, []);
  assert.equal(s.lastError, 'not_found: no such alert');
  s = fold([{ type: 'mark_pending', alert_id: 1 }, { type: 'error', code: 'rate_limited', message: 'slow down' }], s);
  assert.deepEqual(s.pending, [1], 'other errors keep it pending');
});

test('unread count follows the server (never negative); history merges a page and its cursor', () => {
  let s = fold([{ type: 'unread', count: 3 }, { type: 'unread', count: -2 }]);
  assert.equal(s.unread, 0);
  assert.equal(reduce(s, { type: 'unread', count: 'x' }), s);
  s = reduce(s, { type: 'history', alerts: [alert(10), alert(8, { read: true })], next_before: 8, unread: 1 });
  assert.deepEqual(s.alerts.map((a) => a.alert_id), [10, 8]);
  assert.equal(s.nextBefore, 8);
  assert.equal(s.unread, 1);
  s = reduce(s, { type: 'history', alerts: [alert(6)], next_before: null });
  assert.deepEqual(s.alerts.map((a) => a.alert_id), [10, 8, 6]);
  assert.equal(s.nextBefore, null);
  s = reduce(s, { type: 'replay_truncated', oldest_alert_id: 40 });
  assert.equal(s.nextBefore, 40);
  assert.equal(s.truncated, true);
});

test('status: sessions and reconnects are counted, quality is dropped while not open, failures are the last error', () => {
  let s = fold([
    { type: 'status', state: 'connecting', attempt: 0 },
    { type: 'status', state: 'open' },
    { type: 'quality', quality: 'good', rtt: 12.5 },
  ]);
  assert.equal(s.sessions, 1);
  assert.equal(s.reconnects, 0);
  assert.equal(s.rtt, 12.5);
  s = fold(
    [
      { type: 'status', state: 'reconnecting', reason: 'connection lost', attempt: 1, delay: 250, retryAt: 1000 },
      { type: 'status', state: 'connecting', attempt: 1 },
      { type: 'status', state: 'open' },
      { type: 'status', state: 'open' },
    ],
    s,
  );
  assert.equal(s.sessions, 2);
  assert.equal(s.reconnects, 1);
  assert.equal(s.quality, null);
  assert.equal(s.lastError, 'connection lost');
  s = reduce(s, { type: 'status', state: 'stopped', code: 4003, reason: 'token revoked' });
  assert.deepEqual(s.status, { state: 'stopped', reason: 'token revoked', code: 4003, attempt: 0, delay: null, retryAt: null });
  assert.equal(s.lastError, 'token revoked');
  assert.deepEqual(reduce(s, { type: 'reset' }), initialState());
});

test('maxAlerts keeps only the newest', () => {
  const s = fold([1, 2, 3, 4, 5].map((id) => ({ type: 'alert', alert: alert(id) })), initialState({ maxAlerts: 3 }));
  assert.deepEqual(s.alerts.map((a) => a.alert_id), [5, 4, 3]);
});

test('derived values: stats, filter, labels and formatting', () => {
  const s = fold([
    { type: 'alert', alert: alert(1, { severity: 'critical' }) },
    { type: 'alert', alert: alert(2, { severity: 'HIGH', read: true }) },
    { type: 'alert', alert: alert(3, { severity: 'bogus' }) },
  ]);
  assert.deepEqual(
    { ...stats(s), newest: stats(s).newest.alert_id },
    { critical: 1, high: 1, unreadLoaded: 2, total: 3, newest: 3 },
  );
  assert.deepEqual(visibleAlerts(s, 'unread').map((a) => a.alert_id), [3, 1]);
  assert.equal(visibleAlerts(s).length, 3);
  assert.equal(severityOf(s.alerts[0]), 'LOW');
  assert.equal(severityOf({ severity: 'critical' }), 'CRITICAL');
  assert.equal(formatConfidence(0.974), '97%');
  assert.equal(formatConfidence(7), '100%');
  assert.equal(formatConfidence(null), '—');
  assert.equal(confidencePercent('x'), null);
  const now = Date.parse('2025-11-25T12:00:00Z');
  assert.equal(relativeTime('2025-11-25T11:59:30Z', now), 'just now');
  assert.equal(relativeTime('2025-11-25T11:55:00Z', now), '5 min ago');
  assert.equal(relativeTime('2025-11-25T09:00:00Z', now), '3 h ago');
  assert.equal(relativeTime('2025-11-23T12:00:00Z', now), '2 d ago');
  assert.equal(relativeTime('nope', now), '—');
  assert.equal(statusLabel({ state: 'open' }), 'Live');
  assert.equal(statusLabel({ state: 'connecting', attempt: 2 }), 'Connecting… (attempt 3)');
  assert.equal(statusLabel({ state: 'reconnecting', retryAt: now + 3200 }, now), 'Reconnecting in 4s');
  assert.equal(statusLabel({ state: 'reconnecting', retryAt: now - 1 }, now), 'Reconnecting…');
  assert.equal(statusLabel({ state: 'stopped', reason: 'token revoked' }), 'Stopped · token revoked');
  assert.equal(statusLabel({ state: 'unauthenticated', reason: 'no token' }), 'Signed out · no token');
  assert.equal(statusLabel(undefined), 'Offline');
});
