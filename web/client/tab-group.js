// One socket for all tabs of a browser (per alerthub URL and user): the tabs elect a leader with
// Web Locks — the tab holding the lock owns the WebSocket; the others queue for the lock — and
// talk over a BroadcastChannel of the same name. The leader forwards every server frame and its
// connection status to the followers and sends on their behalf. When the leader's tab closes, the
// browser releases its lock, the next tab in the queue becomes leader and connects with `since`
// set to the newest alert id it has seen, so the server replays whatever arrived in between.
//
// Messages on the channel (`t` is the kind):
//   follower → leader  hello {from, since}   send {msg}   reconnect
//   leader → all       welcome {to, status, quality, unread, sessionId, expiresAt, token, alerts}
//                      frame {data}   status {detail}   quality {detail}   token {token}
//                      leader {from}  (a new leader: followers say hello again)   leaving
// A late tab's hello carries the newest id it knows; the leader answers with the alerts it has
// seen after that id (up to the last 500), so a tab that loaded its history over REST misses
// nothing between that load and joining.

/** True when this browser has what sharing needs; otherwise every tab keeps its own socket. */
export function canShareTabs(locks, BroadcastChannelImpl) {
  return Boolean(locks && typeof locks.request === 'function' && typeof BroadcastChannelImpl === 'function');
}

import { bareToken } from './protocol.js';

let tabCounter = 0;

export class TabLink {
  /**
   * @param {object} client  the AlertHubClient of this tab (its `_lead`, `_onFrame`, … are called)
   * @param {{ name: string, locks: LockManager, BroadcastChannelImpl: typeof BroadcastChannel }} opts
   */
  constructor(client, { name, locks, BroadcastChannelImpl }) {
    this.client = client;
    this.name = name;
    this.locks = locks;
    this.BC = BroadcastChannelImpl;
    this.id = `${Date.now().toString(36)}-${(++tabCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.isLeader = false;
    this.left = false;
    this.channel = null;
    this._abort = null;
    this._release = null;
    this._onPageHide = () => {
      if (this.isLeader) this.post({ t: 'leaving' });
    };
  }

  join() {
    this.channel = new this.BC(this.name);
    this.channel.onmessage = (e) => this._onMessage(e.data);
    const held = new Promise((resolve) => {
      this._release = resolve;
    });
    this._abort = typeof AbortController === 'function' ? new AbortController() : null;
    const opts = this._abort ? { signal: this._abort.signal } : {};
    Promise.resolve()
      .then(() =>
        this.locks.request(this.name, opts, () => {
          if (this.left) return undefined;
          this._becomeLeader();
          return held; // the lock is ours until leave() (or until the tab goes away)
        }),
      )
      .catch(() => {
        /* aborted by leave() before it was granted */
      });
    if (globalThis.addEventListener && globalThis.window === globalThis) {
      globalThis.addEventListener('pagehide', this._onPageHide);
    }
    // Whoever leads answers with the current state; if nobody does, the lock is free and we lead.
    this.post({ t: 'hello', from: this.id, since: this.client.lastAlertId });
  }

  leave() {
    if (this.left) return;
    if (this.isLeader) this.post({ t: 'leaving' });
    this.left = true;
    this.isLeader = false;
    this._abort?.abort();
    this._release?.();
    if (globalThis.removeEventListener && globalThis.window === globalThis) {
      globalThis.removeEventListener('pagehide', this._onPageHide);
    }
    try {
      this.channel?.close();
    } catch {
      /* already closed */
    }
    this.channel = null;
  }

  post(msg) {
    if (!this.channel) return;
    try {
      this.channel.postMessage(msg);
    } catch {
      /* the channel is closing */
    }
  }

  _becomeLeader() {
    this.isLeader = true;
    this.post({ t: 'leader', from: this.id });
    this.client._lead();
  }

  _onMessage(m) {
    if (this.left || !m || typeof m !== 'object') return;
    const c = this.client;
    if (this.isLeader) {
      if (m.t === 'hello') this.post(this._welcome(m.from, m.since));
      else if (m.t === 'send' && m.msg) c._conn.send(m.msg);
      else if (m.t === 'reconnect') c.reconnect();
      return;
    }
    switch (m.t) {
      case 'welcome':
        if (m.to === this.id) this._adopt(m);
        break;
      case 'frame':
        c._onFrame(m.data);
        break;
      case 'status':
        c._setState(m.detail.state, m.detail);
        break;
      case 'quality':
        c._onQuality(m.detail.quality, m.detail.rtt);
        break;
      case 'token':
        if (m.token) c.token = m.token;
        break;
      case 'leaving':
        c._setState('connecting', { reason: 'another tab takes over the connection', attempt: 0 });
        break;
      case 'leader':
        this.post({ t: 'hello', from: this.id, since: c.lastAlertId });
        break;
      default:
        break;
    }
  }

  /** The leader's answer to a tab that joins: the state, and the alerts seen after its `since`. */
  _welcome(to, since) {
    const c = this.client;
    const after = since == null ? null : Number(since);
    return {
      t: 'welcome',
      to,
      status: c.status,
      quality: c.quality ? { quality: c.quality, rtt: c.rtt } : null,
      unread: c.unreadCount,
      sessionId: c.sessionId,
      expiresAt: c.expiresAt,
      token: bareToken(c.token) || null,
      alerts: after == null ? [] : c._recent.filter((a) => Number(a.alert_id) > after),
    };
  }

  _adopt(m) {
    const c = this.client;
    if (m.token) c.token = m.token;
    c.sessionId = m.sessionId ?? null;
    c._tokens.observe(m.expiresAt);
    for (const a of m.alerts ?? []) c._onAlert({ ...a, replayed: true }, {});
    if (m.unread != null) c._setUnread(m.unread);
    if (m.status) c._setState(m.status.state, m.status);
    if (m.quality) c._onQuality(m.quality.quality, m.quality.rtt);
  }
}
