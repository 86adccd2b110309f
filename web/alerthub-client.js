// alerthub browser client — a dependency-free ES module (no build step).
//
//   import { AlertHubClient } from '/web/alerthub-client.js';
//
//   const client = new AlertHubClient({ userId: '1', token: jwtOrOpaqueToken });
//   client.addEventListener('alert', (e) => console.log(e.detail.alert, e.detail.replayed));
//   client.addEventListener('status', (e) => console.log(e.detail.state, e.detail.reason));
//   client.connect();
//   client.markRead(123);
//
// Wire contract: docs/API (WebSocket `GET /ws/breach-alerts/{user_id}/`).
//
// Events (all are CustomEvents; the payload is in `event.detail`):
//   alert    { alert, replayed }            a new breach_alert (duplicates by alert_id are dropped)
//   update   { alert_id, update_type, timestamp }   alert_update: 'marked_read' | 'marked_all_read'
//   unread   { count }                      unread count (from the server, or +1 for a live unread alert)
//   status   { state, reason, code, attempt, delay, retryAt }
//            state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped'
//   quality  { quality, rtt }               quality: 'good' | 'fair' | 'poor'; rtt in ms (null on a missed pong)
//   error    { code, message }              an `error` frame from the server (the session stays open)
//   replay_truncated { oldest_alert_id }    older missed alerts were skipped: page them with REST
//   subscribed, message                     the `subscribed` ack and every raw frame, for the curious
//
// Behaviour:
//   * reconnects with exponential backoff and full jitter: delay = random() * min(30 s, 500 ms * 2^attempt);
//     the attempt counter resets once a session is established (`connection_established`).
//   * close code 4003 (authentication failed / user mismatch) stops for good, with the server's reason.
//   * close code 4029 (rate limited / too many sessions) waits 30–60 s (jittered) before the next try.
//   * sends {"type":"ping"} every 25 s (and once right after connecting); the round trip gives the
//     connection quality: good < 150 ms, fair < 500 ms, poor otherwise or when a pong is missed.
//     Two pongs missed in a row mean a dead connection: the socket is dropped and re-opened.
//   * resumes with `?since=<newest alert id seen>` so alerts created while disconnected are replayed,
//     and drops duplicates by alert_id (the last 5,000 ids are remembered).

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
export const RATE_LIMIT_DELAY_MS = 30_000;
export const PING_INTERVAL_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
export const DEDUPE_CAPACITY = 5_000;
export const QUALITY_GOOD_MS = 150;
export const QUALITY_FAIR_MS = 500;

export const CLOSE_AUTH = 4003;
export const CLOSE_RATE_LIMITED = 4029;

/**
 * Full-jitter exponential backoff: a uniformly random delay in [0, min(cap, base * 2^attempt)).
 * `attempt` counts failed tries since the last good session, starting at 0.
 */
export function backoffDelay(attempt, { base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS, random = Math.random } = {}) {
  const n = Math.max(0, Math.floor(Number(attempt) || 0));
  // 2^n overflows to Infinity for large n; Math.min keeps the ceiling at the cap.
  const ceiling = Math.min(cap, base * 2 ** n);
  return Math.floor(clamp01(random()) * ceiling);
}

/** The wait after a 4029 close: at least `min` (30 s), up to twice that, jittered. */
export function rateLimitDelay({ min = RATE_LIMIT_DELAY_MS, random = Math.random } = {}) {
  return Math.floor(min + clamp01(random()) * min);
}

/** Connection quality from a round trip in ms; a missing/invalid round trip (missed pong) is 'poor'. */
export function qualityFromRtt(rtt) {
  if (typeof rtt !== 'number' || !Number.isFinite(rtt) || rtt < 0) return 'poor';
  if (rtt < QUALITY_GOOD_MS) return 'good';
  if (rtt < QUALITY_FAIR_MS) return 'fair';
  return 'poor';
}

/** A set of ids that remembers only the `capacity` most recently added ones (oldest evicted first). */
export class BoundedIdSet {
  constructor(capacity = DEDUPE_CAPACITY) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.capacity = Math.floor(capacity);
    this._set = new Set();
  }

  get size() {
    return this._set.size;
  }

  has(id) {
    return this._set.has(normalizeId(id));
  }

  /** Adds `id`; returns true when it was new, false for a duplicate. */
  add(id) {
    const key = normalizeId(id);
    if (this._set.has(key)) return false;
    this._set.add(key);
    while (this._set.size > this.capacity) {
      // A Set iterates in insertion order, so the first key is the oldest.
      this._set.delete(this._set.values().next().value);
    }
    return true;
  }

  clear() {
    this._set.clear();
  }
}

/** True when `token` looks like a JWT: three base64url parts separated by dots. */
export function isJwt(token) {
  return typeof token === 'string' && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** The HTTP Authorization header value for a user token: `Bearer <JWT>` or `Token <opaque>`. */
export function authorizationHeader(token) {
  const t = String(token ?? '').trim();
  if (/^(Bearer|Token)\s+/i.test(t)) return t;
  return isJwt(t) ? `Bearer ${t}` : `Token ${t}`;
}

/**
 * The WebSocket URL for a user: `ws(s)://host/ws/breach-alerts/{userId}/?token=..&since=..`.
 * `base` is an http(s) or ws(s) URL; a path prefix in it (a reverse proxy mount) is kept.
 */
export function buildSocketUrl(base, userId, token, since) {
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  const prefix = u.pathname.replace(/\/+$/, '');
  u.pathname = `${prefix}/ws/breach-alerts/${encodeURIComponent(String(userId))}/`;
  u.hash = '';
  const params = new URLSearchParams();
  if (token != null && token !== '') params.set('token', String(token).replace(/^(Bearer|Token)\s+/i, ''));
  if (since != null) params.set('since', String(since));
  u.search = params.toString();
  return u.toString();
}

function clamp01(x) {
  const n = Number(x);
  if (!Number.isFinite(n) || n < 0) return 0;
  return n >= 1 ? 0.9999999999 : n;
}

function normalizeId(id) {
  return typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
}

function makeEvent(type, detail) {
  if (typeof CustomEvent === 'function') return new CustomEvent(type, { detail });
  const ev = new Event(type);
  Object.defineProperty(ev, 'detail', { value: detail });
  return ev;
}

const OPEN = 1;

export class AlertHubClient extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} [opts.url]  base http(s) URL of the alerthub server (default: location.origin)
   * @param {string|number} opts.userId
   * @param {string} opts.token  a JWT or an opaque API token
   * @param {Function} [opts.WebSocketImpl]  WebSocket constructor (default: globalThis.WebSocket)
   * @param {number} [opts.pingIntervalMs=25000]
   * @param {number} [opts.pongTimeoutMs=10000]
   * @param {number} [opts.since]  resume after this alert id on the first connect
   * @param {() => number} [opts.random=Math.random]
   * @param {() => number} [opts.now=performance.now]
   * @param {Function} [opts.setTimeout] / [opts.clearTimeout]  timer functions (for tests)
   */
  constructor(opts = {}) {
    super();
    const {
      url,
      userId,
      token,
      WebSocketImpl,
      pingIntervalMs = PING_INTERVAL_MS,
      pongTimeoutMs = Math.min(PONG_TIMEOUT_MS, pingIntervalMs),
      since,
      dedupeCapacity = DEDUPE_CAPACITY,
      random = Math.random,
      now = () => (globalThis.performance ? globalThis.performance.now() : Date.now()),
      setTimeout: setTimer = globalThis.setTimeout.bind(globalThis),
      clearTimeout: clearTimer = globalThis.clearTimeout.bind(globalThis),
    } = opts;
    if (userId == null || userId === '') throw new TypeError('AlertHubClient: userId is required');
    this.url = url ?? (globalThis.location ? globalThis.location.origin : undefined);
    if (!this.url) throw new TypeError('AlertHubClient: url is required outside a browser page');
    this.userId = String(userId);
    this.token = token;
    this.WebSocketImpl = WebSocketImpl ?? globalThis.WebSocket;
    if (typeof this.WebSocketImpl !== 'function') throw new TypeError('AlertHubClient: no WebSocket implementation');
    this.pingIntervalMs = pingIntervalMs;
    this.pongTimeoutMs = pongTimeoutMs;
    this.random = random;
    this.now = now;
    this._setTimeout = setTimer;
    this._clearTimeout = clearTimer;

    this.state = 'idle';
    this.attempt = 0;
    this.lastAlertId = since == null ? null : Number(since);
    this.unreadCount = null;
    this.quality = null;
    this.rtt = null;
    this.lastClose = null;
    this.seen = new BoundedIdSet(dedupeCapacity);

    this._ws = null;
    this._retryTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._pendingPing = null;
    this._missedPongs = 0;
    this._pingSeq = 0;
    this._unreadWaiters = [];
    this._onOnline = () => {
      if (this.state === 'reconnecting') this._openSocket();
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

  /** The URL the next connection attempt will use. */
  get socketUrl() {
    return buildSocketUrl(this.url, this.userId, this.token, this.lastAlertId);
  }

  /** Opens the connection (no-op while one is open or being opened). */
  connect() {
    if (this.state === 'connecting' || this.state === 'open') return this;
    this._clearRetry();
    if (this.state === 'stopped' || this.state === 'idle') this.attempt = 0;
    if (globalThis.addEventListener && globalThis.window === globalThis) {
      globalThis.addEventListener('online', this._onOnline);
    }
    this._openSocket();
    return this;
  }

  /** Closes the connection for good (until connect() or reconnect() is called). */
  close(reason = 'closed') {
    this._clearRetry();
    this._teardownSocket(1000, 'client closed');
    if (globalThis.removeEventListener && globalThis.window === globalThis) {
      globalThis.removeEventListener('online', this._onOnline);
    }
    this._setState('stopped', { reason });
    this._flushUnreadWaiters();
  }

  /** Drops the current connection (if any) and connects again at once, with a fresh backoff. */
  reconnect() {
    this._clearRetry();
    this._teardownSocket(1000, 'client reconnecting');
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

  /**
   * Asks the server for the unread count. Resolves with the next count received
   * (or at once with the last known count when not connected).
   */
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

  /**
   * Records alerts the page already has (e.g. from `GET /api/v1/alerts`): their ids are
   * remembered for de-duplication and the newest one becomes the `since` of the next connect.
   */
  seed(alerts) {
    for (const a of alerts ?? []) {
      const id = typeof a === 'object' && a !== null ? a.alert_id : a;
      if (id == null) continue;
      this.seen.add(id);
      this._noteAlertId(id);
    }
  }

  /** Sends a JSON message; returns false when the socket is not open. */
  send(obj) {
    const ws = this._ws;
    if (!ws || ws.readyState !== OPEN || this.state !== 'open') return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  // ---- internals -----------------------------------------------------------

  _emit(type, detail) {
    this.dispatchEvent(makeEvent(type, detail));
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit('status', {
      state,
      reason: extra.reason ?? null,
      code: extra.code ?? null,
      attempt: extra.attempt ?? this.attempt,
      delay: extra.delay ?? null,
      retryAt: extra.retryAt ?? null,
    });
  }

  _openSocket() {
    this._clearRetry();
    this._teardownSocket(1000, 'client reconnecting');
    this._setState('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.socketUrl);
    } catch (err) {
      this._scheduleReconnect({ code: null, reason: `cannot connect: ${err && err.message}` });
      return;
    }
    this._ws = ws;
    this._established = false;
    ws.onmessage = (ev) => {
      if (ws === this._ws) this._onFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this._ws) this._onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A failed handshake fires error then close; the close handler decides what to do.
    };
  }

  _teardownSocket(code, reason) {
    this._stopPing();
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
    try {
      if (ws.readyState === 0 || ws.readyState === OPEN) ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  _onClose(code, reason) {
    this._stopPing();
    this._ws = null;
    this.lastClose = { code, reason };
    if (code === CLOSE_AUTH) {
      this._clearRetry();
      this._setState('stopped', { code, reason: reason || 'authentication failed' });
      this._flushUnreadWaiters();
      return;
    }
    this._scheduleReconnect({ code, reason });
  }

  _scheduleReconnect({ code, reason }) {
    this._clearRetry();
    let delay;
    if (code === CLOSE_RATE_LIMITED) {
      delay = rateLimitDelay({ random: this.random });
    } else {
      delay = backoffDelay(this.attempt, { random: this.random });
    }
    this.attempt += 1;
    this._setState('reconnecting', {
      code: code ?? null,
      reason: reason || (code ? `connection closed (${code})` : 'connection lost'),
      attempt: this.attempt,
      delay,
      retryAt: Date.now() + delay,
    });
    this._flushUnreadWaiters();
    this._retryTimer = this._setTimeout(() => {
      this._retryTimer = null;
      this._openSocket();
    }, delay);
  }

  _clearRetry() {
    if (this._retryTimer != null) this._clearTimeout(this._retryTimer);
    this._retryTimer = null;
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
    switch (msg.type) {
      case 'connection_established':
        this.attempt = 0;
        this._established = true;
        this._setState('open', { attempt: 0 });
        this._startPing();
        this.send({ type: 'get_unread_count' });
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
        this._onPong(msg.timestamp);
        break;
      case 'subscribed':
        this._emit('subscribed', { user_id: msg.user_id, timestamp: msg.timestamp });
        break;
      case 'error':
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

  _startPing() {
    this._stopPing();
    this._missedPongs = 0;
    this._sendPing();
    const tick = () => {
      this._pingTimer = this._setTimeout(() => {
        this._sendPing();
        tick();
      }, this.pingIntervalMs);
    };
    tick();
  }

  _stopPing() {
    if (this._pingTimer != null) this._clearTimeout(this._pingTimer);
    if (this._pongTimer != null) this._clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
    this._pendingPing = null;
  }

  _sendPing() {
    // A unique, increasing millisecond timestamp identifies the pong that answers it.
    const ts = Math.max(Date.now(), this._pingSeq + 1);
    this._pingSeq = ts;
    if (!this.send({ type: 'ping', timestamp: ts })) return;
    this._pendingPing = { ts, sentAt: this.now() };
    if (this._pongTimer != null) this._clearTimeout(this._pongTimer);
    this._pongTimer = this._setTimeout(() => {
      this._pongTimer = null;
      if (!this._pendingPing || this._pendingPing.ts !== ts) return;
      this._pendingPing = null;
      this._missedPongs += 1;
      this._setQuality(null);
      if (this._missedPongs >= 2 && this._ws) {
        // Nothing came back twice in a row: the connection is dead even if the socket looks open.
        this._teardownSocket(4000, 'pong timeout');
        this._scheduleReconnect({ code: null, reason: 'no pong from server' });
      }
    }, this.pongTimeoutMs);
  }

  _onPong(timestamp) {
    const p = this._pendingPing;
    if (!p || Number(timestamp) !== p.ts) return; // not the answer to our last ping
    this._pendingPing = null;
    if (this._pongTimer != null) this._clearTimeout(this._pongTimer);
    this._pongTimer = null;
    this._missedPongs = 0;
    this._setQuality(Math.max(0, this.now() - p.sentAt));
  }

  _setQuality(rtt) {
    this.rtt = rtt == null ? null : Math.round(rtt * 10) / 10;
    this.quality = qualityFromRtt(rtt);
    this._emit('quality', { quality: this.quality, rtt: this.rtt });
  }
}

export default AlertHubClient;
