// alerthub browser client — a dependency-free ES module (no build step); the package's main entry.
// It owns one user's connection: the socket's state machine (connect, backoff, 4003/4029/4001),
// turning server frames into events (duplicates dropped, unread counted), resuming with `since`,
// the token's lifetime (client/token-refresh.js) and, when asked, one socket shared by all tabs
// (client/tab-group.js). Wire contract: docs/protocol.md; events and options: alerthub-client.d.ts.
//
//   import { AlertHubClient } from '/web/alerthub-client.js';
//   const client = new AlertHubClient({ userId: '1', token, getToken, shareAcrossTabs: true });
//   client.addEventListener('alert', (e) => console.log(e.detail.alert, e.detail.replayed));
//   client.connect();
//
// States: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped' | 'unauthenticated'.
// 4003 stops for good; 4029 waits 30–60 s; 4001 (token expired) asks getToken() and reconnects.

import { PING_INTERVAL_MS, PONG_TIMEOUT_MS, DEDUPE_CAPACITY, BoundedIdSet } from './client/protocol.js';
import { Connection } from './client/connection.js';
import { TokenRefresher } from './client/token-refresh.js';
import { TabLink, canShareTabs } from './client/tab-group.js';
import { RestClient } from './rest-client.js';
import { enablePush, disablePush } from './client/push.js';

export * from './client/protocol.js';
export { canShareTabs } from './client/tab-group.js';
export { RestClient, ApiError } from './rest-client.js';
export { pushSupported, pushEnabled } from './client/push.js';

const RECENT_CAPACITY = 500;
const isPage = () => Boolean(globalThis.addEventListener && globalThis.window === globalThis);

function makeEvent(type, detail) {
  if (typeof CustomEvent === 'function') return new CustomEvent(type, { detail });
  const ev = new Event(type);
  Object.defineProperty(ev, 'detail', { value: detail });
  return ev;
}

export class AlertHubClient extends EventTarget {
  /** Options and events are documented in alerthub-client.d.ts. */
  constructor(opts = {}) {
    super();
    const {
      url,
      userId,
      token,
      getToken,
      refreshInBand = true,
      shareAcrossTabs = false,
      WebSocketImpl,
      pingIntervalMs = PING_INTERVAL_MS,
      pongTimeoutMs = Math.min(PONG_TIMEOUT_MS, pingIntervalMs),
      since,
      dedupeCapacity = DEDUPE_CAPACITY,
      random = Math.random,
      now = () => (globalThis.performance ? globalThis.performance.now() : Date.now()),
      wallNow = () => Date.now(),
      setTimeout: setTimer = globalThis.setTimeout.bind(globalThis),
      clearTimeout: clearTimer = globalThis.clearTimeout.bind(globalThis),
      locks = globalThis.navigator?.locks,
      BroadcastChannel: BroadcastChannelImpl = globalThis.BroadcastChannel,
      fetch: fetchImpl = globalThis.document && globalThis.fetch ? globalThis.fetch.bind(globalThis) : null,
    } = opts;
    if (userId == null || userId === '') throw new TypeError('AlertHubClient: userId is required');
    this.url = url ?? (globalThis.location ? globalThis.location.origin : undefined);
    if (!this.url) throw new TypeError('AlertHubClient: url is required outside a browser page');
    this.userId = String(userId);
    this.token = token ?? null;
    this.getToken = typeof getToken === 'function' ? getToken : null;
    this.refreshInBand = refreshInBand;
    this.WebSocketImpl = WebSocketImpl ?? globalThis.WebSocket;
    if (typeof this.WebSocketImpl !== 'function') throw new TypeError('AlertHubClient: no WebSocket implementation');
    this.random = random;
    this.now = now;
    this.wallNow = wallNow;
    this.fetchImpl = fetchImpl;
    this._setTimeout = setTimer;
    this._clearTimeout = clearTimer;

    this.state = 'idle';
    this.status = { state: 'idle', reason: null, code: null, attempt: 0, delay: null, retryAt: null };
    this.attempt = 0;
    this.lastAlertId = since == null ? null : Number(since);
    this.unreadCount = null;
    this.quality = null;
    this.rtt = null;
    this.lastClose = null;
    this.lastError = null;
    this.sessionId = null;
    this.seen = new BoundedIdSet(dedupeCapacity);

    this._unreadWaiters = [];
    this._recent = []; // the last alerts received, for tabs that join late
    this._tokens = new TokenRefresher(this);
    this._conn = new Connection(this, { WebSocketImpl: this.WebSocketImpl, pingIntervalMs, pongTimeoutMs });
    this._share = shareAcrossTabs && canShareTabs(locks, BroadcastChannelImpl) ? { locks, BroadcastChannelImpl } : null;
    this._link = null;
    this._onOnline = () => {
      if (this.state === 'reconnecting' && this.role !== 'follower') this._conn.open();
    };
  }

  /** Convenience: `client.on('alert', (detail) => ...)`; returns an unsubscribe function. */
  on(type, fn) {
    const listener = (e) => fn(e.detail, e);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  get isConnected() {
    return this.state === 'open';
  }

  /** True when tabs share one socket (the option is on and the browser has Web Locks and BroadcastChannel). */
  get sharing() {
    return this._share !== null;
  }

  /** 'solo' (own socket), 'leader' (holds the socket for all tabs) or 'follower'. */
  get role() {
    if (!this._link) return 'solo';
    return this._link.isLeader ? 'leader' : 'follower';
  }

  /** When the current token expires (RFC 3339, from the server), or null. */
  get expiresAt() {
    return this._tokens.expiresAt;
  }

  /** The URL the next connection attempt will use. */
  get socketUrl() {
    return this._conn.url;
  }

  /** Opens the connection (no-op while one is open or being opened). */
  connect() {
    if (this.state === 'connecting' || this.state === 'open') return this;
    this._conn.clearRetry();
    if (['stopped', 'idle', 'unauthenticated'].includes(this.state)) this.attempt = 0;
    if (isPage()) globalThis.addEventListener('online', this._onOnline);
    if (this._share && !this._link) {
      this._setState('connecting', { attempt: 0 });
      this._link = new TabLink(this, { name: `alerthub:${this.url}:${this.userId}`, ...this._share });
      this._link.join();
    } else if (this.role === 'follower') {
      this._link.post({ t: 'reconnect' });
    } else {
      this._conn.open();
    }
    return this;
  }

  /** Closes the connection for good (until connect() or reconnect() is called). */
  close(reason = 'closed') {
    this._conn.stop(1000, 'client closed');
    if (isPage()) globalThis.removeEventListener('online', this._onOnline);
    this._link?.leave(); // a leader hands the socket over to the next tab
    this._link = null;
    this._setState('stopped', { reason });
    this._flushUnreadWaiters();
  }

  /** Drops the current connection (if any) and connects again at once, with a fresh backoff. */
  reconnect() {
    if (this.role === 'follower') {
      this._link.post({ t: 'reconnect' });
      return this;
    }
    this._conn.stop(1000, 'client reconnecting');
    this.attempt = 0;
    this.state = 'idle';
    return this.connect();
  }

  /** Asks the server to mark an alert read. Returns false when not connected (nothing sent). */
  markRead(alertId) {
    const id = Number(alertId);
    if (!Number.isSafeInteger(id)) throw new TypeError('markRead: alert id must be an integer');
    return this.send({ type: 'mark_read', alert_id: id });
  }

  /** Asks the server to mark all the user's alerts read. Returns false when not connected. */
  markAllRead() {
    return this.send({ type: 'mark_all_read' });
  }

  /** Web Push (§6): subscribes this browser for the user (asks for permission; see client/push.js). */
  enablePush(options) {
    return enablePush(this._rest(), options);
  }

  /** Web Push: removes this browser's subscription, on the server and in the browser. */
  disablePush(options) {
    return disablePush(this._rest(), options);
  }

  _rest() {
    return new RestClient({ url: this.url, token: () => this.token, fetch: this.fetchImpl ?? undefined });
  }

  /** Resolves with the next unread count received (at once with the last known one when not connected). */
  getUnreadCount({ timeoutMs = 10_000 } = {}) {
    if (!this.send({ type: 'get_unread_count' })) return Promise.resolve(this.unreadCount);
    return new Promise((resolve) => {
      const waiter = { resolve, timer: null };
      waiter.timer = this._setTimeout(() => {
        this._unreadWaiters = this._unreadWaiters.filter((w) => w !== waiter);
        resolve(this.unreadCount);
      }, timeoutMs);
      this._unreadWaiters.push(waiter);
    });
  }

  /** Records alerts the page already has (e.g. from REST): de-duplicated, and the newest id becomes `since`. */
  seed(alerts) {
    for (const a of alerts ?? []) {
      const id = typeof a === 'object' && a !== null ? a.alert_id : a;
      if (id == null) continue;
      this.seen.add(id);
      this._noteAlertId(id);
    }
  }

  /** Sends a JSON message (through the leader tab when shared); false when not connected. */
  send(obj) {
    if (this.role === 'follower') {
      if (this.state !== 'open') return false;
      this._link.post({ t: 'send', msg: obj });
      return true;
    }
    return this._conn.send(obj);
  }

  // ---- internals (also called by the tab link and the token refresher) ------------------------

  _emit(type, detail) {
    this.dispatchEvent(makeEvent(type, detail));
  }

  _setState(state, extra = {}) {
    this.state = state;
    if (extra.attempt != null && this.role === 'follower') this.attempt = extra.attempt;
    const detail = {
      state,
      reason: extra.reason ?? null,
      code: extra.code ?? null,
      attempt: extra.attempt ?? this.attempt,
      delay: extra.delay ?? null,
      retryAt: extra.retryAt ?? null,
    };
    this.status = detail;
    if (detail.reason && state !== 'open' && state !== 'connecting') this.lastError = detail.reason;
    if (state !== 'open') {
      this.quality = null;
      this.rtt = null;
    }
    if (this.role === 'leader') this._link.post({ t: 'status', detail });
    this._emit('status', detail);
  }

  _onQuality(quality, rtt) {
    this.quality = quality;
    this.rtt = rtt;
    if (this.role === 'leader') this._link.post({ t: 'quality', detail: { quality, rtt } });
    this._emit('quality', { quality, rtt });
  }

  /** This tab was elected to hold the socket for all tabs. */
  _lead() {
    this.attempt = 0;
    this._conn.open();
  }

  /** A token from getToken(): used from now on, and handed to the other tabs. */
  _adoptToken(token) {
    this.token = token;
    if (this.role === 'leader') this._link.post({ t: 'token', token });
  }

  /** A frame from our own socket: shared with the other tabs first when we lead. */
  _onSocketFrame(data) {
    if (this.role === 'leader') this._link.post({ t: 'frame', data });
    this._onFrame(data);
  }

  _onFrame(data) {
    if (typeof data !== 'string') return; // the server only sends text frames
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    this._emit('message', msg);
    const follower = this.role === 'follower';
    switch (msg.type) {
      case 'connection_established':
        this.sessionId = msg.session_id ?? null;
        if (follower) {
          this._tokens.observe(msg.expires_at); // the leader tab's session: it refreshes, not us
          break;
        }
        this.attempt = 0;
        this._setState('open', { attempt: 0 });
        this.send({ type: 'get_unread_count' });
        this._conn.onEstablished(msg.expires_at);
        break;
      case 'breach_alert':
        this._onAlert(msg.message, msg);
        break;
      case 'replay_truncated':
        this._emit('replay_truncated', { oldest_alert_id: msg.oldest_alert_id });
        break;
      case 'unread_count': {
        const count = Number(msg.count);
        if (Number.isFinite(count)) this._setUnread(count);
        const waiters = this._unreadWaiters;
        this._unreadWaiters = [];
        for (const w of waiters) {
          this._clearTimeout(w.timer);
          w.resolve(count);
        }
        break;
      }
      case 'alert_update':
        if (msg.message && typeof msg.message === 'object') this._emit('update', { ...msg.message });
        break;
      case 'pong':
        if (!follower) this._conn.heartbeat.onPong(msg.timestamp);
        break;
      case 'token_refreshed':
        this._tokens.onRefreshed(msg.expires_at);
        break;
      case 'subscribed':
        this._emit('subscribed', { user_id: msg.user_id, timestamp: msg.timestamp });
        break;
      case 'error':
        this.lastError = `${msg.code ?? 'error'}: ${msg.message ?? ''}`;
        if (msg.code === 'invalid_token') this._tokens.onInvalid(msg.message);
        this._emit('error', { code: msg.code ?? 'error', message: msg.message ?? '' });
        break;
      default:
        break; // unknown types are ignored, as the contract asks
    }
  }

  _onAlert(alert, frame) {
    if (!alert || typeof alert !== 'object' || alert.alert_id == null) return;
    const replayed = alert.replayed === true;
    this._noteAlertId(alert.alert_id);
    if (!this.seen.add(alert.alert_id)) return; // duplicate
    this._recent.push(alert);
    if (this._recent.length > RECENT_CAPACITY) this._recent.shift();
    // A live alert is not followed by an unread_count: count it ourselves.
    if (!replayed && !alert.read && this.unreadCount != null) this._setUnread(this.unreadCount + 1);
    this._emit('alert', { alert, replayed, timestamp: frame.timestamp ?? null });
  }

  _noteAlertId(id) {
    const n = Number(id);
    if (!Number.isFinite(n)) return;
    if (this.lastAlertId == null || n > this.lastAlertId) this.lastAlertId = n;
  }

  _setUnread(count) {
    this.unreadCount = Math.max(0, count);
    this._emit('unread', { count: this.unreadCount });
  }

  _flushUnreadWaiters() {
    const waiters = this._unreadWaiters;
    this._unreadWaiters = [];
    for (const w of waiters) {
      this._clearTimeout(w.timer);
      w.resolve(this.unreadCount);
    }
  }
}

export default AlertHubClient;
