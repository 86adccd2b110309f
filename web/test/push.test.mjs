// Web Push in the browser (contract §6), the parts that run without a browser: the notification
// a payload becomes, the click that focuses an open dashboard or opens one, and the key decoding.

import test from 'node:test';
import assert from 'node:assert/strict';
import { focusOrOpen, notificationFor } from '../client/notify.js';
import { base64UrlToBytes, pushSupported } from '../client/push.js';

const full = {
  type: 'breach_alert',
  alert: { alert_id: 42, breach_id: 'B-7', title: 'Password found in a dump', severity: 'CRITICAL', description: 'Change it.' },
};

test('a full payload shows the title, severity and breach, tagged with the alert id', () => {
  const [title, options] = notificationFor(full);
  assert.equal(title, 'Password found in a dump');
  assert.match(options.body, /Critical severity · breach B-7/);
  assert.match(options.body, /Change it\./);
  assert.equal(options.tag, '42');
  assert.equal(options.renotify, false);
  assert.equal(options.requireInteraction, true);
  assert.deepEqual(options.data, { alertId: 42, severity: 'CRITICAL', url: '/' });
});

test('a minimal payload shows no breach details', () => {
  const [title, options] = notificationFor({ type: 'breach_alert', alert_id: 9, severity: 'HIGH' });
  assert.equal(title, 'High security alert');
  assert.doesNotMatch(options.body, /breach B/);
  assert.equal(options.tag, '9');
  assert.equal(options.requireInteraction, false);
});

test('anything else is not shown', () => {
  assert.equal(notificationFor(null), null);
  assert.equal(notificationFor({ type: 'unread_count', count: 1 }), null);
  assert.equal(notificationFor({ type: 'breach_alert' }), null);
});

function fakeClients(urls) {
  const calls = [];
  const windows = urls.map((url) => ({ url, focus: async () => (calls.push(['focus', url]), { url }) }));
  return {
    calls,
    matchAll: async (opts) => (calls.push(['matchAll', opts]), windows),
    openWindow: async (url) => (calls.push(['open', url]), { url }),
  };
}

test('a click focuses the open dashboard tab', async () => {
  const clients = fakeClients(['https://a.example/other', 'https://a.example/?user=1']);
  const got = await focusOrOpen(clients, 'https://a.example', '/');
  assert.equal(got.url, 'https://a.example/?user=1');
  assert.deepEqual(clients.calls.at(-1), ['focus', 'https://a.example/?user=1']);
  assert.deepEqual(clients.calls[0], ['matchAll', { type: 'window', includeUncontrolled: true }]);
});

test('a click opens the dashboard when no tab shows it', async () => {
  const clients = fakeClients(['https://a.example/docs', 'https://b.example/']);
  const got = await focusOrOpen(clients, 'https://a.example', '/');
  assert.equal(got.url, 'https://a.example/');
  assert.deepEqual(clients.calls.at(-1), ['open', 'https://a.example/']);
});

test('base64url keys decode with or without padding', () => {
  assert.deepEqual([...base64UrlToBytes('-_8')], [0xfb, 0xff]);
  assert.deepEqual([...base64UrlToBytes('-_8=')], [0xfb, 0xff]);
});

test('no service worker, no push', () => {
  assert.equal(pushSupported({}, {}), false);
  assert.equal(pushSupported({ serviceWorker: {} }, { PushManager: {}, Notification: {} }), true);
});
