// The React hook of the old breach-alert front end — `useBreachWebSocket(userId, onAlert, options?)`
// with its old defaults (token from localStorage 'token', socket on the page's origin) — written
// against whatever React it is given, so it never imports 'react' itself: react/use-breach-websocket.js
// binds it to the application's React (the package's normal import), and the legacy module
// useBreachWebSocket.js keeps the factory for code that injects React.
//
// Its state is alerts-state.js folded over the client's events: the returned `alerts`,
// `unreadCount`, `status`, `lastError`, `reconnectCount` are exactly what the served dashboard shows.
// Options and the returned object are documented in react/index.d.ts.

import { AlertHubClient } from '../alerthub-client.js';
import { RestClient } from '../rest-client.js';
import { initialState, reduce } from '../alerts-state.js';

export const DEFAULT_TOKEN_KEY = 'token';

/** The token the old front end kept in localStorage (null when there is none or no storage). */
export function readStoredToken(key = DEFAULT_TOKEN_KEY) {
  try {
    const t = globalThis.localStorage?.getItem(key);
    return t && t.trim() ? t.trim() : null;
  } catch {
    return null; // storage disabled
  }
}

const CALLBACKS = ['onAlert', 'onUpdate', 'onUnread', 'onStatus', 'onError', 'onReplayTruncated', 'onToken'];

/** Binds the hook to a React (anything with useState, useRef, useEffect and useCallback). */
export function createBreachWebSocketHook(React) {
  if (!React || typeof React.useEffect !== 'function') {
    throw new TypeError('createBreachWebSocketHook: pass your React module (import * as React from "react")');
  }
  const { useEffect, useRef, useState, useCallback } = React;

  return function useBreachWebSocket(userId, onAlert, options = {}) {
    const {
      token: tokenOption,
      getToken,
      url,
      enabled = true,
      shareAcrossTabs = true,
      tokenStorageKey = DEFAULT_TOKEN_KEY,
      history = 0,
      maxAlerts = 200,
      pingIntervalMs,
      WebSocketImpl,
      fetch: fetchImpl,
    } = options;

    // No token given: the old system's place for it, read now and again whenever one is needed.
    const fromStorage = tokenOption === undefined;
    const token = fromStorage ? readStoredToken(tokenStorageKey) : tokenOption || null;
    const handlers = useRef(null);
    handlers.current = {
      ...Object.fromEntries(CALLBACKS.map((k) => [k, options[k]])),
      onAlert,
      getToken: typeof getToken === 'function' ? getToken : fromStorage ? () => readStoredToken(tokenStorageKey) : null,
    };
    const canGetToken = handlers.current.getToken !== null;

    const [state, setState] = useState(() => initialState({ maxAlerts }));
    const [, setStorageTick] = useState(0);
    const clientRef = useRef(null);
    const restRef = useRef(null);
    const stateRef = useRef(state);
    stateRef.current = state;
    const stateUser = useRef(userId);

    const hasUser = userId != null && userId !== '';
    const active = Boolean(enabled) && hasUser && (Boolean(token) || (!fromStorage && canGetToken));
    // A token from storage is read by getToken() on every refresh and reconnect: its changes do
    // not tear the connection down. A token passed in options reconnects when it changes.
    const tokenKey = fromStorage ? Boolean(token) : token;

    useEffect(() => {
      if (!active) return undefined;
      const dispatch = (event) => setState((s) => reduce(s, event));
      const call = (name, ...args) => {
        const fn = handlers.current[name];
        if (typeof fn === 'function') fn(...args);
      };
      const client = new AlertHubClient({
        url,
        userId,
        token,
        getToken: canGetToken ? () => handlers.current.getToken() : undefined,
        shareAcrossTabs,
        ...(WebSocketImpl ? { WebSocketImpl } : {}),
        ...(pingIntervalMs ? { pingIntervalMs } : {}),
        ...(fetchImpl ? { fetch: fetchImpl } : {}),
      });
      if (stateUser.current !== userId) {
        stateUser.current = userId;
        dispatch({ type: 'reset' });
      } else {
        client.seed(stateRef.current.alerts); // a new token or URL: resume after what is shown
      }
      clientRef.current = client;
      restRef.current = fetchImpl || globalThis.document ? new RestClient({ url: client.url, token: () => client.token, fetch: fetchImpl }) : null;
      const offs = [
        client.on('status', (d) => {
          dispatch({ type: 'status', ...d });
          call('onStatus', d);
        }),
        client.on('quality', (d) => dispatch({ type: 'quality', ...d })),
        client.on('unread', (d) => {
          dispatch({ type: 'unread', count: d.count });
          call('onUnread', d.count);
        }),
        client.on('alert', (d) => {
          dispatch({ type: 'alert', alert: d.alert });
          call('onAlert', d.alert, { replayed: d.replayed });
        }),
        client.on('update', (d) => {
          dispatch({ type: 'update', ...d });
          call('onUpdate', d);
        }),
        client.on('error', (d) => {
          dispatch({ type: 'error', ...d });
          call('onError', d);
        }),
        client.on('replay_truncated', (d) => {
          dispatch({ type: 'replay_truncated', ...d });
          call('onReplayTruncated', d);
        }),
        client.on('token', (d) => call('onToken', d)),
      ];
      let cancelled = false;
      if (history > 0 && restRef.current) {
        // History first, then the socket resumes after the newest alert loaded.
        dispatch({ type: 'status', state: 'connecting', attempt: 0 });
        const rest = restRef.current;
        Promise.all([rest.listAlerts({ limit: history }), rest.unreadCount().catch(() => null)])
          .then(([page, unread]) => {
            if (cancelled) return;
            const alerts = page?.alerts ?? [];
            dispatch({ type: 'history', alerts, next_before: page?.next_before ?? null, ...(unread == null ? {} : { unread }) });
            client.seed(alerts);
            if (client.lastAlertId == null) client.lastAlertId = 0;
          })
          .catch((err) => {
            if (!cancelled) dispatch({ type: 'error', code: err.code ?? 'history', message: err.message });
          })
          .finally(() => {
            if (!cancelled) client.connect();
          });
      } else {
        client.connect();
      }
      return () => {
        cancelled = true;
        for (const off of offs) off();
        client.close();
        if (clientRef.current === client) clientRef.current = null;
      };
    }, [active, userId, tokenKey, url, WebSocketImpl, pingIntervalMs, shareAcrossTabs, canGetToken, history, fetchImpl]);

    // Another tab that signs in (or out) changes localStorage: look again.
    useEffect(() => {
      if (!fromStorage || !globalThis.addEventListener || globalThis.window !== globalThis) return undefined;
      const onStorage = (e) => {
        if (e.key === null || e.key === tokenStorageKey) setStorageTick((n) => n + 1);
      };
      globalThis.addEventListener('storage', onStorage);
      return () => globalThis.removeEventListener('storage', onStorage);
    }, [fromStorage, tokenStorageKey]);

    const reconnect = useCallback(() => {
      clientRef.current?.reconnect();
    }, []);

    const markRead = useCallback((alertId) => {
      const id = Number(alertId);
      const client = clientRef.current;
      if (!client || !Number.isSafeInteger(id)) return false;
      setState((s) => reduce(s, { type: 'mark_pending', alert_id: id }));
      if (client.markRead(id)) return true;
      return restFallback(restRef.current, setState, (rest) => rest.markRead(id), { type: 'read', alert_id: id }, id);
    }, []);

    const markAllRead = useCallback(() => {
      const client = clientRef.current;
      if (!client) return false;
      if (client.markAllRead()) return true;
      return restFallback(restRef.current, setState, (rest) => rest.markAllRead(), { type: 'read', update_type: 'marked_all_read' }, null);
    }, []);

    const loadOlder = useCallback(() => {
      const rest = restRef.current;
      const client = clientRef.current;
      const before = stateRef.current.nextBefore;
      if (!rest || before == null) return Promise.resolve(false);
      return rest.listAlerts({ limit: 50, before }).then((page) => {
        setState((s) => reduce(s, { type: 'history', alerts: page.alerts ?? [], next_before: page.next_before ?? null }));
        client?.seed(page.alerts ?? []);
        return true;
      });
    }, []);
    let status = state.status;
    let lastError = state.lastError;
    if (!active) {
      const reason = !enabled
        ? null
        : !hasUser
          ? 'no user id'
          : fromStorage
            ? `no token: localStorage has no "${tokenStorageKey}" (sign in first, or pass { token } or { getToken })`
            : 'no token: pass { token } or { getToken }';
      status = { state: reason && hasUser ? 'unauthenticated' : 'idle', reason, code: null, attempt: 0, delay: null, retryAt: null };
      lastError = reason;
    }
    const isConnected = active && status.state === 'open';
    const client = clientRef.current;
    return {
      isConnected,
      connectionQuality: isConnected ? state.quality ?? 'unknown' : 'disconnected',
      reconnect,
      rtt: isConnected ? state.rtt : null,
      status,
      state: status.state,
      lastError,
      unreadCount: active ? state.unread : null,
      alerts: active ? state.alerts : [],
      pending: state.pending,
      hasOlder: state.nextBefore != null,
      markRead,
      markAllRead,
      loadOlder,
      reconnectCount: state.reconnects,
      sessionId: client?.sessionId ?? null,
      expiresAt: client?.expiresAt ?? null,
      role: client?.role ?? null,
      client,
    };
  };
}

/** Marks read over REST while the socket is down; the server pushes the change to other tabs. */
function restFallback(rest, setState, request, readEvent, pendingId) {
  if (!rest) {
    if (pendingId != null) setState((s) => reduce(s, { type: 'mark_failed', alert_id: pendingId }));
    return false;
  }
  request(rest)
    .then(() => rest.unreadCount())
    .then((count) => {
      setState((s) => reduce(reduce(s, readEvent), { type: 'unread', count }));
    })
    .catch((err) => setState((s) => reduce(s, { type: 'mark_failed', alert_id: pendingId, message: err.message })));
  return true;
}
