// The alert feed of one user as plain data, and the pure function that folds the client's events
// (one per server frame: alert, update, unread, status, quality, error, replay_truncated) and the
// REST results into it. The served dashboard and the React hook both render from this state, so
// "what does the user see after these frames" is answered once, here, and unit-tested without a
// DOM or React (test/state.test.mjs). Nothing in this module mutates its input.

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

const IDLE = { state: 'idle', reason: null, code: null, attempt: 0, delay: null, retryAt: null };

/** @returns {import('./alerts-state').AlertsState} */
export function initialState({ maxAlerts = Infinity } = {}) {
  return {
    alerts: [], // newest (largest id) first
    unread: null, // the server's count, kept current by the client; null until known
    status: IDLE,
    quality: null, // 'good' | 'fair' | 'poor' while open
    rtt: null,
    nextBefore: null, // the REST cursor for older alerts, or null when none are left
    truncated: false, // a replay skipped alerts: page them with REST
    pending: [], // alert ids whose mark-read awaits the server's confirmation
    lastError: null,
    sessions: 0, // sessions established
    reconnects: 0, // sessions established after the first
    maxAlerts,
  };
}

export function alertId(alert) {
  const id = Number(alert?.alert_id);
  return Number.isFinite(id) ? id : null;
}

/** Folds one event into the state; returns the same object when nothing changed. */
export function reduce(state, event) {
  switch (event?.type) {
    case 'alert':
      return upsert(state, [event.alert]);
    case 'history': {
      const next = upsert(state, event.alerts ?? []);
      const patch = {};
      if ('next_before' in event) patch.nextBefore = event.next_before ?? null;
      if (typeof event.unread === 'number') patch.unread = Math.max(0, event.unread);
      return Object.keys(patch).length ? { ...next, ...patch } : next;
    }
    case 'update':
    case 'read': {
      const all = event.update_type === 'marked_all_read';
      const id = all ? null : Number(event.alert_id);
      if (!all && !Number.isFinite(id)) return state;
      return {
        ...state,
        alerts: state.alerts.map((a) => (!a.read && (all || alertId(a) === id) ? { ...a, read: true } : a)),
        pending: all ? [] : state.pending.filter((p) => p !== id),
      };
    }
    case 'unread': {
      const n = Number(event.count);
      return Number.isFinite(n) && n !== state.unread ? { ...state, unread: Math.max(0, n) } : state;
    }
    case 'status':
      return onStatus(state, event);
    case 'quality':
      return { ...state, quality: event.quality ?? null, rtt: event.rtt ?? null };
    case 'error':
      return {
        ...state,
        lastError: `${event.code ?? 'error'}: ${event.message ?? ''}`,
        // not_found answers a mark_read of an alert that is not ours: nothing is pending any more
        pending: event.code === 'not_found' ? [] : state.pending,
      };
    case 'replay_truncated':
      return { ...state, nextBefore: event.oldest_alert_id ?? state.nextBefore, truncated: true };
    case 'mark_pending':
      return state.pending.includes(Number(event.alert_id)) ? state : { ...state, pending: [...state.pending, Number(event.alert_id)] };
    case 'mark_failed':
      return {
        ...state,
        pending: state.pending.filter((p) => p !== Number(event.alert_id)),
        lastError: event.message ? `mark read failed: ${event.message}` : state.lastError,
      };
    case 'reset':
      return initialState({ maxAlerts: state.maxAlerts });
    default:
      return state;
  }
}

function onStatus(state, s) {
  const status = {
    state: s.state ?? 'idle',
    reason: s.reason ?? null,
    code: s.code ?? null,
    attempt: s.attempt ?? 0,
    delay: s.delay ?? null,
    retryAt: s.retryAt ?? null,
  };
  const opened = status.state === 'open' && state.status.state !== 'open';
  const failed = ['reconnecting', 'stopped', 'unauthenticated'].includes(status.state) && status.reason;
  return {
    ...state,
    status,
    quality: status.state === 'open' ? state.quality : null,
    rtt: status.state === 'open' ? state.rtt : null,
    sessions: state.sessions + (opened ? 1 : 0),
    reconnects: state.reconnects + (opened && state.sessions > 0 ? 1 : 0),
    lastError: failed ? status.reason : state.lastError,
  };
}

/** Adds or merges alerts, keeping newest first and at most `maxAlerts`; read never turns unread. */
function upsert(state, incoming) {
  let alerts = state.alerts;
  let changed = false;
  for (const alert of incoming) {
    const id = alertId(alert);
    if (id == null) continue;
    const { replayed: _replayed, ...fields } = alert;
    const i = alerts.findIndex((a) => alertId(a) === id);
    if (i >= 0) {
      const known = alerts[i];
      const merged = { ...known, ...fields, read: Boolean(known.read || fields.read) };
      if (sameAlert(known, merged)) continue;
      alerts = alerts.slice();
      alerts[i] = merged;
    } else {
      const at = alerts.findIndex((a) => alertId(a) < id);
      alerts = at < 0 ? [...alerts, { ...fields, read: Boolean(fields.read) }] : [...alerts.slice(0, at), { ...fields, read: Boolean(fields.read) }, ...alerts.slice(at)];
    }
    changed = true;
  }
  if (!changed) return state;
  if (alerts.length > state.maxAlerts) alerts = alerts.slice(0, state.maxAlerts);
  return { ...state, alerts };
}

function sameAlert(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!Object.is(a[k], b[k])) return false;
  return true;
}

// ---- derived values and formatting, shared by the dashboard and the React components ---------

export function severityOf(alert) {
  const s = String(alert?.severity || '').toUpperCase();
  return SEVERITIES.includes(s) ? s : 'LOW';
}

/** Confidence as a whole percentage in [0, 100], or null when it is not a number. */
export function confidencePercent(c) {
  const n = Number(c);
  if (c == null || !Number.isFinite(n)) return null;
  return Math.round(Math.min(1, Math.max(0, n)) * 100);
}

export function formatConfidence(c) {
  const p = confidencePercent(c);
  return p == null ? '—' : `${p}%`;
}

const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** "just now", "5 min ago", "3 h ago", "2 d ago", else a short date. */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '—';
  const s = Math.round((now - t) / 1000);
  if (s < 0) return shortFmt.format(t);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.round(s / 86400)} d ago`;
  return shortFmt.format(t);
}

/** Counts for the stat cards: by severity among the loaded alerts, and the newest one. */
export function stats(state) {
  let critical = 0;
  let high = 0;
  let unreadLoaded = 0;
  for (const a of state.alerts) {
    const sev = severityOf(a);
    if (sev === 'CRITICAL') critical++;
    if (sev === 'HIGH') high++;
    if (!a.read) unreadLoaded++;
  }
  return { critical, high, unreadLoaded, total: state.alerts.length, newest: state.alerts[0] ?? null };
}

/** The alerts a filter shows: 'all' or 'unread'. */
export function visibleAlerts(state, filter = 'all') {
  return filter === 'unread' ? state.alerts.filter((a) => !a.read) : state.alerts;
}

export function isPending(state, id) {
  return state.pending.includes(Number(id));
}

/** A one-line label for a connection status, e.g. "Live", "Reconnecting in 4s", "Stopped · token revoked". */
export function statusLabel(status, now = Date.now()) {
  switch (status?.state) {
    case 'connecting':
      return status.attempt > 0 ? `Connecting… (attempt ${status.attempt + 1})` : 'Connecting…';
    case 'open':
      return 'Live';
    case 'reconnecting': {
      const secs = Math.max(0, Math.ceil(((status.retryAt ?? now) - now) / 1000));
      return secs > 0 ? `Reconnecting in ${secs}s` : 'Reconnecting…';
    }
    case 'stopped':
      return status.reason ? `Stopped · ${status.reason}` : 'Stopped';
    case 'unauthenticated':
      return status.reason ? `Signed out · ${status.reason}` : 'Signed out';
    default:
      return 'Offline';
  }
}
