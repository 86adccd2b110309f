// The React entry with the real React (server rendering: no effects, no socket), and the hook's
// new behaviour driven by the fake React runtime of test-support.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as React from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import * as entry from '../react/index.js';
import * as components from '../react/components.js';
import { createBreachWebSocketHook } from '../react/hook.js';
import { createFakeReact, makeFakeWebSocket, alertFrame, FakeClock } from '../test-support/fakes.mjs';

const h = React.createElement;

test('the React entry imports React itself: the old call works without a factory or a global', () => {
  assert.equal(globalThis.React, undefined);
  for (const name of ['useBreachWebSocket', 'createBreachWebSocketHook', 'BreachAlertsDashboard', 'ConnectionStatusBadge', 'ConnectionHealthMonitor']) {
    assert.equal(typeof entry[name], 'function', name);
  }
  assert.equal(entry.default, entry.useBreachWebSocket);
  assert.equal(components.BreachAlertsDashboard, entry.BreachAlertsDashboard);
  let seen;
  function Legacy({ userId }) {
    const { isConnected, connectionQuality, reconnect, status, lastError } = entry.useBreachWebSocket(userId, () => {});
    seen = { isConnected, connectionQuality, reconnect, status, lastError };
    return h('span', null, String(isConnected));
  }
  assert.equal(renderToStaticMarkup(h(Legacy, { userId: '1' })), '<span>false</span>');
  assert.equal(seen.connectionQuality, 'disconnected');
  assert.equal(typeof seen.reconnect, 'function');
  assert.equal(seen.status.state, 'unauthenticated', 'no localStorage token is a visible state');
  assert.match(seen.lastError, /^no token: localStorage has no "token"/);
});

test('components render their parts with stable test ids and accessible names', () => {
  const dash = renderToStaticMarkup(h(entry.BreachAlertsDashboard, { userId: '1' }));
  assert.match(dash, /data-testid="ah-dashboard"/);
  assert.match(dash, /aria-label="Security alerts"/);
  assert.match(dash, /data-testid="ah-unread"[^>]*>0</);
  assert.match(dash, /data-state="unauthenticated"/);
  assert.match(dash, /role="alert"[^>]*>Signed out · no token/);
  assert.match(dash, /Mark all read/);
  assert.match(dash, /No breach alerts\./);

  const badge = renderToStaticMarkup(h(entry.ConnectionStatusBadge, { status: { state: 'stopped', reason: 'token revoked', code: 4003 } }));
  assert.match(badge, /data-state="stopped"/);
  assert.match(badge, /Stopped · token revoked/);
  assert.match(renderToStaticMarkup(h(entry.ConnectionStatusBadge, { isConnected: true })), /Live/);
  assert.match(renderToStaticMarkup(h(entry.ConnectionStatusBadge, { status: 'connecting' })), /Connecting…/);

  const health = renderToStaticMarkup(
    h(entry.ConnectionHealthMonitor, { status: { state: 'open' }, rtt: 12.4, connectionQuality: 'good', reconnectCount: 2, lastError: 'connection lost' }),
  );
  for (const part of ['Live', '12 ms', 'good', '>2<', 'connection lost']) assert.ok(health.includes(part), `${part} in ${health}`);
  assert.match(renderToStaticMarkup(h(entry.ConnectionHealthMonitor, {})), /none/);
});

async function withBrowserGlobals(fn) {
  const store = new Map();
  const saved = { localStorage: globalThis.localStorage, location: globalThis.location };
  globalThis.localStorage = { getItem: (k) => (store.has(k) ? store.get(k) : null), setItem: (k, v) => store.set(k, String(v)) };
  globalThis.location = { origin: 'https://app.example' };
  try {
    return await fn(store);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete globalThis[k];
      else globalThis[k] = v;
    }
  }
}

test('old defaults: the token comes from localStorage and the URL from the page origin; a later token connects', async () => {
  await withBrowserGlobals((store) => {
    const WS = makeFakeWebSocket();
    const r = createFakeReact();
    const useHook = createBreachWebSocketHook(r.React);
    r.mount(() => useHook('1', () => {}, { WebSocketImpl: WS }));
    let res = r.act();
    assert.equal(WS.instances.length, 0);
    assert.equal(res.status.state, 'unauthenticated');
    assert.equal(res.state, 'unauthenticated');
    assert.match(res.lastError, /no token/);
    store.set('token', 'stored-jwt.a.b');
    r.rerender();
    assert.equal(WS.instances.length, 1);
    assert.equal(WS.last.url, 'wss://app.example/ws/breach-alerts/1/?token=stored-jwt.a.b');
    r.act(() => WS.last.establish());
    // a refreshed token in storage does not tear the session down…
    store.set('token', 'newer.a.b');
    res = r.rerender();
    assert.equal(WS.instances.length, 1);
    assert.equal(res.isConnected, true);
    // …but is what the next connection uses after the server says it expired
    r.act(() => WS.last.serverClose(4001, 'token expired'));
    r.unmount();
  });
});

test('4001 reconnects with the token now in localStorage', async () => {
  await withBrowserGlobals(async (store) => {
    const WS = makeFakeWebSocket();
    const r = createFakeReact();
    const useHook = createBreachWebSocketHook(r.React);
    store.set('token', 'old.a.b');
    r.mount(() => useHook('1', () => {}, { WebSocketImpl: WS }));
    r.act(() => WS.last.establish());
    r.act(() => WS.last.serverSend(alertFrame(3)));
    store.set('token', 'new.a.b');
    r.act(() => WS.last.serverClose(4001, 'token expired'));
    assert.equal(r.result.status.state, 'reconnecting');
    await new Promise((res) => setTimeout(res, 600)); // the real backoff of the first retry is < 500 ms
    r.act();
    assert.equal(WS.instances.length, 2);
    assert.match(WS.last.url, /token=new\.a\.b&since=3$/);
    r.unmount();
  });
});

test('the hook keeps the feed: alerts, unread count, pending marks, reconnect count', () => {
  const WS = makeFakeWebSocket();
  const r = createFakeReact();
  const useHook = createBreachWebSocketHook(r.React);
  r.mount(() => useHook('1', () => {}, { token: 't', url: 'http://h:1', WebSocketImpl: WS }));
  let res = r.act(() => WS.last.establish());
  assert.equal(res.reconnectCount, 0);
  res = r.act(() => {
    WS.last.serverSend({ type: 'unread_count', count: 0 });
    WS.last.serverSend(alertFrame(1));
    WS.last.serverSend(alertFrame(2, { severity: 'CRITICAL' }));
  });
  assert.deepEqual(res.alerts.map((a) => a.alert_id), [2, 1]);
  assert.equal(res.unreadCount, 2);
  assert.equal(res.markRead(1), true);
  res = r.act();
  assert.deepEqual(res.pending, [1]);
  res = r.act(() => {
    WS.last.serverSend({ type: 'alert_update', message: { alert_id: 1, update_type: 'marked_read', timestamp: 't' } });
    WS.last.serverSend({ type: 'unread_count', count: 1 });
  });
  assert.deepEqual(res.pending, []);
  assert.equal(res.alerts.find((a) => a.alert_id === 1).read, true);
  assert.equal(res.unreadCount, 1);
  assert.equal(res.markAllRead(), true);
  assert.deepEqual(WS.last.sentOfType('mark_all_read'), [{ type: 'mark_all_read' }]);
  res = r.act(() => WS.last.serverClose(1006));
  assert.equal(res.lastError, 'connection closed (1006)');
  r.act(() => res.reconnect());
  res = r.act(() => WS.last.establish());
  assert.equal(res.reconnectCount, 1);
  assert.deepEqual(res.alerts.map((a) => a.alert_id), [2, 1], 'the feed survives a reconnect');
  r.unmount();
});

test('history: the newest alerts are loaded over REST first, then the socket resumes after them', async () => {
  const WS = makeFakeWebSocket();
  const r = createFakeReact();
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.headers.Authorization]);
    const body = url.includes('unread-count') ? { count: 1 } : { alerts: [{ alert_id: 7, title: 'Old', read: false }, { alert_id: 5, read: true }], next_before: 5 };
    return { ok: true, status: 200, json: async () => body };
  };
  const useHook = createBreachWebSocketHook(r.React);
  r.mount(() => useHook('1', () => {}, { token: 'opaque', url: 'http://h:1', WebSocketImpl: WS, history: 2, fetch }));
  assert.equal(WS.instances.length, 0, 'not before the history');
  await new Promise((res) => setTimeout(res, 10));
  const res = r.act();
  assert.equal(WS.instances.length, 1);
  assert.match(WS.last.url, /since=7$/);
  assert.deepEqual(calls.map((c) => c[0]), ['http://h:1/api/v1/alerts?limit=2', 'http://h:1/api/v1/alerts/unread-count']);
  assert.equal(calls[0][1], 'Token opaque');
  assert.deepEqual(res.alerts.map((a) => a.alert_id), [7, 5]);
  assert.equal(res.unreadCount, 1);
  assert.equal(res.hasOlder, true);
  r.unmount();
});
