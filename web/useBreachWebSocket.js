// useBreachWebSocket — the React hook of the old breach-alert front end, built on AlertHubClient.
//
// React is your application's dependency, not alerthub's: this module never imports it. Bind the
// hook to your React once, then use it with the old signature:
//
//   // alerts.js
//   import * as React from 'react';
//   import { createBreachWebSocketHook } from './useBreachWebSocket.js';
//   export const useBreachWebSocket = createBreachWebSocketHook(React);
//
//   // AlertsPanel.jsx
//   const { isConnected, connectionQuality, reconnect, unreadCount, markRead } =
//     useBreachWebSocket(userId, (alert, { replayed }) => showToast(alert), {
//       token,                          // a JWT (access token) or an opaque alerthub API token
//       url: 'https://alerts.example',  // optional: the alerthub base URL (default: the page's origin)
//     });
//
// Or call `useBreachWebSocket(userId, onAlert, { React, token })` from this module directly,
// passing React in the options (a page that loads React as a global `React` may omit it).
//
// Returns:
//   isConnected        true while a session is established
//   connectionQuality  'good' | 'fair' | 'poor' from the ping round trip; 'unknown' before the
//                      first pong; 'disconnected' while not connected
//   reconnect()        drop the connection and connect again at once
//   rtt                last round trip in ms (or null)
//   status             { state, reason, code, attempt, delay, retryAt } — state is 'idle' |
//                      'connecting' | 'open' | 'reconnecting' | 'stopped' (reason: e.g.
//                      'authentication failed' after a 4003 close, which stops retrying)
//   unreadCount        the user's unread count (null until known)
//   markRead(id), markAllRead()   send the read-state changes (false when not connected)
//   client             the underlying AlertHubClient (null while disconnected/disabled)
//
// Options: token (required), url, enabled (default true), pingIntervalMs, WebSocketImpl,
// and callbacks onUpdate(update), onUnread(count), onStatus(status), onError(error),
// onReplayTruncated({ oldest_alert_id }). `onAlert(alert, { replayed })` and the callbacks may
// change on every render without reconnecting; a change of userId, token or url reconnects.

import { AlertHubClient } from './alerthub-client.js';

function useBreachWebSocketWith(React, userId, onAlert, options = {}) {
  const { useEffect, useRef, useState, useCallback } = React;
  const {
    token,
    url,
    enabled = true,
    pingIntervalMs,
    WebSocketImpl,
    onUpdate,
    onUnread,
    onStatus,
    onError,
    onReplayTruncated,
  } = options;

  const handlers = useRef(null);
  handlers.current = { onAlert, onUpdate, onUnread, onStatus, onError, onReplayTruncated };
  const clientRef = useRef(null);
  const [status, setStatus] = useState(() => ({ state: 'idle', reason: null, code: null, attempt: 0, delay: null, retryAt: null }));
  const [quality, setQuality] = useState(() => ({ quality: null, rtt: null }));
  const [unreadCount, setUnreadCount] = useState(null);

  const active = Boolean(enabled) && userId != null && userId !== '' && Boolean(token);

  useEffect(() => {
    if (!active) return undefined;
    const client = new AlertHubClient({
      url,
      userId,
      token,
      ...(WebSocketImpl ? { WebSocketImpl } : {}),
      ...(pingIntervalMs ? { pingIntervalMs } : {}),
    });
    clientRef.current = client;
    const call = (name, ...args) => {
      const fn = handlers.current[name];
      if (typeof fn === 'function') fn(...args);
    };
    const offs = [
      client.on('status', (d) => {
        setStatus(d);
        if (d.state !== 'open') setQuality({ quality: null, rtt: null });
        call('onStatus', d);
      }),
      client.on('quality', (d) => setQuality(d)),
      client.on('unread', (d) => {
        setUnreadCount(d.count);
        call('onUnread', d.count);
      }),
      client.on('alert', (d) => call('onAlert', d.alert, { replayed: d.replayed })),
      client.on('update', (d) => call('onUpdate', d)),
      client.on('error', (d) => call('onError', d)),
      client.on('replay_truncated', (d) => call('onReplayTruncated', d)),
    ];
    client.connect();
    return () => {
      for (const off of offs) off();
      client.close();
      if (clientRef.current === client) clientRef.current = null;
    };
  }, [active, userId, token, url, WebSocketImpl, pingIntervalMs]);

  const reconnect = useCallback(() => {
    clientRef.current?.reconnect();
  }, []);
  const markRead = useCallback((alertId) => clientRef.current?.markRead(alertId) ?? false, []);
  const markAllRead = useCallback(() => clientRef.current?.markAllRead() ?? false, []);

  const isConnected = status.state === 'open';
  const connectionQuality = isConnected ? quality.quality ?? 'unknown' : 'disconnected';
  return {
    isConnected,
    connectionQuality,
    reconnect,
    rtt: isConnected ? quality.rtt : null,
    status,
    unreadCount,
    markRead,
    markAllRead,
    client: clientRef.current,
  };
}

/** Binds the hook to your React (anything with useEffect, useRef, useState and useCallback). */
export function createBreachWebSocketHook(React) {
  if (!React || typeof React.useEffect !== 'function') {
    throw new TypeError('createBreachWebSocketHook: pass your React module (import * as React from "react")');
  }
  return function useBreachWebSocket(userId, onAlert, options) {
    return useBreachWebSocketWith(React, userId, onAlert, options);
  };
}

/** `useBreachWebSocket(userId, onAlert, { React, token, ... })` — React from the options or a global. */
export function useBreachWebSocket(userId, onAlert, options = {}) {
  const React = options.React ?? globalThis.React;
  if (!React || typeof React.useEffect !== 'function') {
    throw new TypeError(
      'useBreachWebSocket: React not found. Pass { React } in the options, or bind once with createBreachWebSocketHook(React).',
    );
  }
  return useBreachWebSocketWith(React, userId, onAlert, options);
}

export default useBreachWebSocket;
