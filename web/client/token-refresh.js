// The credential's lifetime on a live session (contract §5): `connection_established` says when
// the token expires (`expires_at`, null for opaque tokens); before that, with jitter, the app's
// `getToken()` is asked for a fresh token, which is sent in band as `refresh_token`. The server
// answers `token_refreshed` (new expiry) or `error` `invalid_token` (the session keeps its old
// binding; we try again later, and if the old token runs out the server closes with 4001, which
// the client handles by reconnecting with a new token). Only the tab holding the socket refreshes.

import { bareToken, refreshDelay } from './protocol.js';

/** Calls the app's `getToken()` (sync or async) and normalizes what it gives: a bare token or null. */
export async function acquireToken(getToken) {
  const t = await getToken();
  const bare = bareToken(t);
  return bare === '' ? null : bare;
}

export class TokenRefresher {
  /** @param {import('../alerthub-client.js').AlertHubClient} client */
  constructor(client) {
    this.client = client;
    this.expiresAt = null;
    this._timer = null;
    this._pending = null; // the token sent in refresh_token, until the answer
    this._gen = 0;
  }

  /** Milliseconds until the current token expires (null when it does not). */
  get remainingMs() {
    if (this.expiresAt == null) return null;
    const t = Date.parse(this.expiresAt);
    return Number.isFinite(t) ? t - this.client.wallNow() : null;
  }

  /** A session was established (this tab holds the socket): plan the next refresh. */
  onEstablished(expiresAt) {
    this.stop();
    this.expiresAt = expiresAt ?? null;
    this._schedule(null);
  }

  /** Another tab's session: remember the expiry, plan nothing. */
  observe(expiresAt) {
    this.expiresAt = expiresAt ?? null;
  }

  onRefreshed(expiresAt) {
    const token = this._pending;
    if (token == null) {
      this.observe(expiresAt); // another tab's refresh, seen over the shared channel
      return;
    }
    this._pending = null;
    this.client._adoptToken(token); // the other tabs get it too
    this.expiresAt = expiresAt ?? null;
    this.client._emit('token', { refreshed: true, expires_at: this.expiresAt, error: null });
    this._schedule(null);
  }

  /** `error` `invalid_token`: the refresh was refused, the session is unchanged. */
  onInvalid(message) {
    if (this._pending == null) return;
    this._pending = null;
    this._failed(`refresh refused: ${message || 'invalid_token'}`);
  }

  stop() {
    this._gen += 1;
    if (this._timer != null) this.client._clearTimeout(this._timer);
    this._timer = null;
    this._pending = null;
  }

  _schedule(delay) {
    const c = this.client;
    if (this._timer != null) c._clearTimeout(this._timer);
    this._timer = null;
    if (!c.getToken || !c.refreshInBand) return;
    const remaining = this.remainingMs;
    if (remaining == null) return;
    const wait = delay ?? refreshDelay(remaining, { random: c.random });
    this._timer = c._setTimeout(() => {
      this._timer = null;
      this._refresh();
    }, wait);
  }

  async _refresh() {
    const c = this.client;
    const gen = this._gen;
    let token;
    try {
      token = await acquireToken(c.getToken);
    } catch (err) {
      if (gen === this._gen) this._failed(`getToken failed: ${err && err.message ? err.message : err}`);
      return;
    }
    if (gen !== this._gen || !c.isConnected) return;
    if (token == null || token === bareToken(c.token)) {
      this._failed('getToken gave no new token');
      return;
    }
    this._pending = token;
    if (!c.send({ type: 'refresh_token', token })) this._pending = null;
  }

  _failed(reason) {
    const c = this.client;
    c.lastError = reason;
    c._emit('token', { refreshed: false, expires_at: this.expiresAt, error: reason });
    const remaining = this.remainingMs;
    // Try again while there is time; once it has run out the server closes with 4001.
    if (remaining != null && remaining > 1000) this._schedule(Math.min(30_000, Math.max(1000, remaining / 2)));
  }
}
