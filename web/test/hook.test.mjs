import test from 'node:test';
import assert from 'node:assert/strict';
import { createBreachWebSocketHook, useBreachWebSocket } from '../useBreachWebSocket.js';
import { createFakeReact, makeFakeWebSocket, alertFrame } from '../test-support/fakes.mjs';

test('useBreachWebSocket keeps the old signature and reports connection, quality and alerts', () => {
  const WS = makeFakeWebSocket();
  const r = createFakeReact();
  const useHook = createBreachWebSocketHook(r.React);
  const alerts = [];
  let onAlert = (a, meta) => alerts.push(['first', a.alert_id, meta.replayed]);
  const opts = { token: 'tok', url: 'http://h:1', WebSocketImpl: WS };
  r.mount(() => useHook('1', onAlert, opts));

  assert.equal(WS.instances.length, 1);
  assert.equal(WS.last.url, 'ws://h:1/ws/breach-alerts/1/?token=tok');
  let res = r.act();
  assert.equal(res.isConnected, false);
  assert.equal(res.connectionQuality, 'disconnected');
  assert.equal(typeof res.reconnect, 'function');
  assert.equal(res.status.state, 'connecting');

  res = r.act(() => WS.last.establish());
  assert.equal(res.isConnected, true);
  assert.equal(res.connectionQuality, 'unknown');
  const ping = WS.last.sentOfType('ping')[0];
  res = r.act(() => WS.last.serverSend({ type: 'pong', timestamp: ping.timestamp }));
  assert.ok(['good', 'fair', 'poor'].includes(res.connectionQuality));
  assert.equal(typeof res.rtt, 'number');

  res = r.act(() => WS.last.serverSend({ type: 'unread_count', count: 4 }));
  assert.equal(res.unreadCount, 4);
  r.act(() => WS.last.serverSend(alertFrame(5)));
  // a new callback identity on re-render does not reconnect, and is the one called
  onAlert = (a, meta) => alerts.push(['second', a.alert_id, meta.replayed]);
  res = r.rerender();
  assert.equal(WS.instances.length, 1);
  r.act(() => WS.last.serverSend(alertFrame(6, { replayed: true })));
  assert.deepEqual(alerts, [['first', 5, false], ['second', 6, true]]);
  assert.equal(r.result.unreadCount, 5);

  assert.equal(r.result.markRead(5), true);
  assert.deepEqual(WS.last.sentOfType('mark_read'), [{ type: 'mark_read', alert_id: 5 }]);

  r.act(() => r.result.reconnect());
  assert.equal(WS.instances.length, 2);
  assert.match(WS.last.url, /since=6/);

  res = r.act(() => WS.last.serverClose(4003, 'authentication failed'));
  assert.equal(res.isConnected, false);
  assert.equal(res.status.state, 'stopped');
  assert.equal(res.status.reason, 'authentication failed');

  r.unmount();
});

test('a new token reconnects; unmount closes; no token means no connection', () => {
  const WS = makeFakeWebSocket();
  const r = createFakeReact();
  let token = '';
  const render = () => useBreachWebSocket('7', () => {}, { React: r.React, token, url: 'http://h:1', WebSocketImpl: WS });
  r.mount(render);
  assert.equal(WS.instances.length, 0);
  token = 'a';
  r.rerender();
  assert.equal(WS.instances.length, 1);
  r.act(() => WS.last.establish('7'));
  token = 'b';
  r.rerender();
  assert.equal(WS.instances.length, 2);
  assert.equal(WS.instances[0].closedWith.code, 1000);
  assert.match(WS.last.url, /token=b/);
  r.unmount();
  assert.equal(WS.instances[1].closedWith.code, 1000);
  assert.equal(WS.instances.length, 2);
});

test('a missing React is a clear error', () => {
  assert.throws(() => useBreachWebSocket('1', () => {}, { token: 't' }), /React not found/);
  assert.throws(() => createBreachWebSocketHook({}), TypeError);
});
