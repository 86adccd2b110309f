// The socket of one client: opening it (asking getToken() first when there is no usable token or
// the last one expired), the keep-alive, and what each close means — 4003 stops for good, 4029
// waits 30–60 s, 4001 (token expired) reconnects with a fresh token, anything else backs off with
// jitter. The client (alerthub-client.js) owns the state and the events; this module only drives
// the WebSocket and tells the client what happened.

import { CLOSE_AUTH, CLOSE_EXPIRED, CLOSE_RATE_LIMITED, backoffDelay, bareToken, buildSocketUrl, rateLimitDelay } from './protocol.js';
import { Heartbeat } from './heartbeat.js';
import { acquireToken } from './token-refresh.js';
import { RestClient } from '../rest-client.js';

const OPEN = 1;

export class Connection {
  /** @param {import('../alerthub-client.js').AlertHubClient} client */
  constructor(client, { WebSocketImpl, pingIntervalMs, pongTimeoutMs }) {
    this.c = client;
    this.WebSocketImpl = WebSocketImpl;
    this.ws = null;
    this._retryTimer = null;
    this._needsToken = false; // set by a 4001 close: the next attempt asks getToken() first
    this._tokenGen = 0;
    this.heartbeat = new Heartbeat(
      {
        send: (m) => this.send(m),
        onQuality: (q, rtt) => client._onQuality(q, rtt),
        onDead: () => {
          this.teardown(4000, 'pong timeout');
          this.scheduleReconnect({ code: null, reason: 'no pong from server' });
        },
        now: client.now,
        setTimeout: client._setTimeout,
        clearTimeout: client._clearTimeout,
      },
      { intervalMs: pingIntervalMs, timeoutMs: pongTimeoutMs },
    );
  }

  get url() {
    return buildSocketUrl(this.c.url, this.c.userId, this.c.token, this.c.lastAlertId);
  }

  send(obj) {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.c.state !== 'open') return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  /** Opens a socket now, or once getToken() has given a token. */
  open() {
    const c = this.c;
    this.clearRetry();
    this.teardown(1000, 'client reconnecting');
    this._tokenGen += 1;
    if (!this._needsToken && bareToken(c.token) !== '') {
      this._openNow();
      return;
    }
    if (!c.getToken) {
      if (this._needsToken) c._setState('stopped', { code: CLOSE_EXPIRED, reason: 'token expired' });
      else c._setState('unauthenticated', { reason: 'no token: pass a token or getToken()' });
      return;
    }
    c._setState('connecting', { attempt: c.attempt });
    const gen = this._tokenGen;
    acquireToken(c.getToken).then(
      (tok) => {
        if (gen !== this._tokenGen) return;
        if (tok == null) {
          c._setState('unauthenticated', { reason: 'no token: getToken() gave none' });
        } else if (this._needsToken && tok === bareToken(c.token)) {
          c._setState('stopped', { code: CLOSE_EXPIRED, reason: 'token expired (getToken() gave the same token)' });
        } else {
          this._needsToken = false;
          c._adoptToken(tok);
          this._openNow();
        }
      },
      (err) => {
        if (gen === this._tokenGen) this.scheduleReconnect({ code: null, reason: `getToken failed: ${err?.message ?? err}` });
      },
    );
  }

  _openNow() {
    const c = this.c;
    c._setState('connecting', { attempt: c.attempt });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.scheduleReconnect({ code: null, reason: `cannot connect: ${err && err.message}` });
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (ws === this.ws) c._onSocketFrame(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this._onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A failed handshake fires error then close; the close handler decides what to do.
    };
  }

  /** `connection_established` arrived on our socket. */
  onEstablished(expiresAt) {
    this.heartbeat.start();
    this.c._tokens.onEstablished(expiresAt);
    if (this.c.lastAlertId == null) this._fetchResumePoint();
  }

  /** Closes the socket (if any) without reporting it; cancels a pending getToken(). */
  teardown(code, reason) {
    this.heartbeat.stop();
    this.c._tokens.stop();
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
    try {
      if (ws.readyState === 0 || ws.readyState === OPEN) ws.close(code, reason);
    } catch {
      /* already closing */
    }
  }

  /** Stops everything: socket, retry timer, a getToken() in flight. */
  stop(code, reason) {
    this.clearRetry();
    this._tokenGen += 1;
    this.teardown(code, reason);
  }

  _onClose(code, reason) {
    const c = this.c;
    this.heartbeat.stop();
    c._tokens.stop();
    this.ws = null;
    c.lastClose = { code, reason };
    if (code === CLOSE_AUTH) {
      this.clearRetry();
      c._setState('stopped', { code, reason: reason || 'authentication failed' });
      c._flushUnreadWaiters();
      return;
    }
    if (code === CLOSE_EXPIRED) this._needsToken = true;
    this.scheduleReconnect({ code, reason });
  }

  scheduleReconnect({ code, reason }) {
    const c = this.c;
    this.clearRetry();
    const delay = code === CLOSE_RATE_LIMITED ? rateLimitDelay({ random: c.random }) : backoffDelay(c.attempt, { random: c.random });
    c.attempt += 1;
    c._setState('reconnecting', {
      code: code ?? null,
      reason: reason || (code ? `connection closed (${code})` : 'connection lost'),
      attempt: c.attempt,
      delay,
      retryAt: Date.now() + delay,
    });
    c._flushUnreadWaiters();
    this._retryTimer = c._setTimeout(() => {
      this._retryTimer = null;
      this.open();
    }, delay);
  }

  clearRetry() {
    if (this._retryTimer != null) this.c._clearTimeout(this._retryTimer);
    this._retryTimer = null;
  }

  /**
   * A session that started without `since` and has seen no alert yet: ask REST for the newest id,
   * so that a reconnect (or another tab taking over) resumes from there and misses nothing.
   */
  _fetchResumePoint() {
    const c = this.c;
    if (!c.fetchImpl) return;
    const ws = this.ws;
    new RestClient({ url: c.url, token: () => c.token, fetch: c.fetchImpl })
      .listAlerts({ limit: 1 })
      .then((page) => {
        if (ws !== this.ws || !Array.isArray(page?.alerts)) return;
        c._noteAlertId(page.alerts.length ? page.alerts[0].alert_id : 0);
      })
      .catch(() => {
        /* best effort: without it a reconnect simply starts live */
      });
  }
}
