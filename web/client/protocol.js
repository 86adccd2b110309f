// Wire-level constants and pure helpers of the alerthub client: backoff, connection quality, the
// de-duplication set, token shapes, the socket URL and when to refresh a token. No state, no I/O,
// so every rule here is unit-tested on its own (test/logic.test.mjs) and shared by every module.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
export const RATE_LIMIT_DELAY_MS = 30_000;
export const PING_INTERVAL_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
export const DEDUPE_CAPACITY = 5_000;
export const QUALITY_GOOD_MS = 150;
export const QUALITY_FAIR_MS = 500;

/** Close codes of the contract (§1, §5). */
export const CLOSE_EXPIRED = 4001;
export const CLOSE_AUTH = 4003;
export const CLOSE_RATE_LIMITED = 4029;

/** Tokens that live this long or longer are refreshed 30–60 s before they expire (§5). */
export const REFRESH_LEAD_MIN_MS = 30_000;
export const REFRESH_LEAD_MAX_MS = 60_000;
/** Below this lifetime the refresh happens at 80–90 % of what is left (the two rules meet here). */
export const REFRESH_SHORT_LIFETIME_MS = 300_000;

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

/**
 * How long to wait before refreshing a token that expires in `remainingMs`:
 * 30–60 s before expiry for tokens with 5 min or more left, else at 80–90 % of the remaining
 * lifetime (a 60 s token is refreshed 48–54 s in). Jittered so that the tabs and users whose
 * tokens were issued together do not all refresh in the same second. Never negative.
 */
export function refreshDelay(remainingMs, { random = Math.random } = {}) {
  const r = Number(remainingMs);
  if (!Number.isFinite(r) || r <= 0) return 0;
  const j = clamp01(random());
  if (r >= REFRESH_SHORT_LIFETIME_MS) {
    return Math.floor(r - (REFRESH_LEAD_MAX_MS - j * (REFRESH_LEAD_MAX_MS - REFRESH_LEAD_MIN_MS)));
  }
  return Math.floor(r * (0.8 + 0.1 * j));
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

/** A token without its optional `Bearer ` / `Token ` prefix, trimmed; '' for nothing. */
export function bareToken(token) {
  return String(token ?? '')
    .trim()
    .replace(/^(Bearer|Token)\s+/i, '');
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
  if (token != null && token !== '') params.set('token', bareToken(token));
  if (since != null) params.set('since', String(since));
  u.search = params.toString();
  return u.toString();
}

/** The http(s) base for REST calls from a client base URL (ws(s) is mapped back, the prefix kept). */
export function httpBase(base) {
  const u = new URL(base);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

export function clamp01(x) {
  const n = Number(x);
  if (!Number.isFinite(n) || n < 0) return 0;
  return n >= 1 ? 0.9999999999 : n;
}

function normalizeId(id) {
  return typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : id;
}
