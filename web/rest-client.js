// The user's side of alerthub's REST API (contract §2: list, unread count, mark read, mark all
// read; §6: Web Push subscriptions) for the dashboard and the React hook. Dependency-free; errors keep the server's error code.
// It exists apart from the socket client because the dashboard loads history over REST before it
// connects (then connects with `since`), and falls back to REST to mark alerts read while offline.

import { authorizationHeader, httpBase } from './client/protocol.js';

export class ApiError extends Error {
  constructor(message, { status, code, details } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status ?? 0;
    this.code = code ?? null;
    this.details = details ?? null;
  }
}

export class RestClient {
  /**
   * @param {object} opts
   * @param {string} [opts.url]  alerthub base URL (default: the page's origin)
   * @param {string | (() => string | null)} opts.token  a token, or a function giving the current one
   * @param {typeof fetch} [opts.fetch]
   */
  constructor({ url, token, fetch: fetchImpl } = {}) {
    const base = url ?? globalThis.location?.origin;
    if (!base) throw new TypeError('RestClient: url is required outside a browser page');
    this.base = httpBase(base);
    this._token = typeof token === 'function' ? token : () => token;
    this._fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  async request(path, { method = 'GET', body } = {}) {
    const res = await this._fetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: authorizationHeader(this._token()),
        Accept: 'application/json',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      /* empty or not JSON */
    }
    if (!res.ok) {
      const e = data?.error;
      throw new ApiError(e?.message || `${res.status} ${res.statusText || 'error'}`, {
        status: res.status,
        code: e?.code,
        details: e?.details,
      });
    }
    return data;
  }

  /** Newest first: `{ alerts, next_before }`. */
  listAlerts({ limit = 50, before, unread } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before != null) q.set('before', String(before));
    if (unread != null) q.set('unread', unread ? 'true' : 'false');
    return this.request(`/api/v1/alerts?${q}`);
  }

  /** The unread count, a number. */
  async unreadCount() {
    const data = await this.request('/api/v1/alerts/unread-count');
    return Number(data?.count ?? 0);
  }

  /** `{ alert }` — the server pushes the change to every open tab too. */
  markRead(alertId) {
    return this.request(`/api/v1/alerts/${encodeURIComponent(alertId)}/read`, { method: 'POST' });
  }

  /** `{ marked }`. */
  markAllRead() {
    return this.request('/api/v1/alerts/read-all', { method: 'POST' });
  }

  /** `{ public_key }`: the server's VAPID key (contract §6). */
  vapidPublicKey() {
    return this.request('/api/v1/push/vapid-public-key');
  }

  /** `{ subscription }` — `json` is `PushSubscription.toJSON()`. */
  subscribePush(json) {
    return this.request('/api/v1/push/subscriptions', { method: 'POST', body: json });
  }

  /** `{ subscriptions }`. */
  listPushSubscriptions() {
    return this.request('/api/v1/push/subscriptions');
  }

  deletePushSubscription(id) {
    return this.request(`/api/v1/push/subscriptions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }
}
