// The old front end's React components, rebuilt on the hook: BreachAlertsDashboard (list, unread
// badge, mark read / mark all read, toasts, connection state), ConnectionStatusBadge and
// ConnectionHealthMonitor. Written with createElement so the package needs no JSX build; React is
// imported normally (a peer dependency). Styles: react/styles.js, themable with --ah-* variables.

import * as React from 'react';
import { useBreachWebSocket } from './use-breach-websocket.js';
import { formatConfidence, relativeTime, severityOf, statusLabel, visibleAlerts } from '../alerts-state.js';
import { injectStyles } from './styles.js';

const h = React.createElement;
const { useEffect, useRef, useState, useCallback } = React;
const useStyleEffect = React.useInsertionEffect ?? React.useLayoutEffect ?? useEffect;
const cx = (...names) => names.filter(Boolean).join(' ');

function useStyles() {
  useStyleEffect(() => injectStyles(), []);
}

/** Re-renders every second while `on`, for the "Reconnecting in 4s" countdown. */
function useTicker(on) {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!on) return undefined;
    const t = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [on]);
}

function asStatus(status, isConnected) {
  if (typeof status === 'string') return { state: status, reason: null };
  if (status && typeof status === 'object') return status;
  return { state: isConnected ? 'open' : 'idle', reason: null };
}

/** A pill with a coloured dot and "Live" / "Reconnecting in 4s" / "Stopped · token revoked" … */
export function ConnectionStatusBadge({ status, isConnected, lastError, className }) {
  useStyles();
  const s = asStatus(status, isConnected);
  useTicker(s.state === 'reconnecting');
  return h(
    'span',
    {
      className: cx('ah-root', 'ah-badge', className),
      'data-state': s.state,
      'data-testid': 'ah-status-badge',
      role: 'status',
      title: s.reason || lastError || undefined,
    },
    h('span', { className: 'ah-dot', 'aria-hidden': true }),
    statusLabel(s),
  );
}

/** Round trip, quality, reconnect count and last error of the connection. */
export function ConnectionHealthMonitor({ rtt, connectionQuality, reconnectCount, lastError, status, isConnected, className }) {
  useStyles();
  const s = asStatus(status, isConnected);
  const row = (label, value, testid) => h('div', { key: label }, h('dt', null, label), h('dd', { 'data-testid': testid }, value));
  return h(
    'dl',
    { className: cx('ah-root', 'ah-health', className), 'data-testid': 'ah-health' },
    row('Connection', statusLabel(s), 'ah-health-state'),
    row('Round trip', typeof rtt === 'number' ? `${Math.round(rtt)} ms` : '—', 'ah-health-rtt'),
    row('Quality', connectionQuality ?? '—', 'ah-health-quality'),
    row('Reconnects', String(reconnectCount ?? 0), 'ah-health-reconnects'),
    row('Last error', lastError || 'none', 'ah-health-error'),
  );
}

function AlertItem({ alert, pending, onMarkRead }) {
  const sev = severityOf(alert);
  const title = alert.title || 'Untitled alert';
  return h(
    'li',
    {
      className: cx('ah-alert', `ah-sev-${sev.toLowerCase()}`),
      'data-testid': 'ah-alert',
      'data-alert-id': String(alert.alert_id),
      'data-read': String(Boolean(alert.read)),
      'data-severity': sev,
    },
    h(
      'div',
      { className: 'ah-alert-main' },
      h('h3', { className: 'ah-alert-title' }, h('span', { className: 'ah-sev-pill' }, sev), title),
      alert.description ? h('p', { className: 'ah-alert-desc' }, alert.description) : null,
      h(
        'div',
        { className: 'ah-meta' },
        h('span', null, 'Breach ', h('code', null, alert.breach_id || '—')),
        h('span', null, `Confidence ${formatConfidence(alert.confidence)}`),
        h('time', { dateTime: alert.detected_at || undefined }, relativeTime(alert.detected_at)),
        h('span', null, alert.read ? 'Read' : 'Unread'),
      ),
    ),
    alert.read
      ? null
      : h(
          'button',
          {
            type: 'button',
            className: 'ah-btn',
            'data-testid': 'ah-mark-read',
            disabled: pending,
            'aria-label': `Mark read: ${title}`,
            onClick: () => onMarkRead(alert.alert_id),
          },
          'Mark read',
        ),
  );
}

/**
 * The whole feed of one user: `<BreachAlertsDashboard userId={userId} />`. Token and URL default
 * as for the hook (localStorage 'token', the page's origin); history is loaded over REST first.
 */
export function BreachAlertsDashboard({
  userId,
  token,
  getToken,
  url,
  onAlert,
  title = 'Security alerts',
  history = 50,
  maxToasts = 3,
  toastMs = 5000,
  shareAcrossTabs = true,
  className,
}) {
  useStyles();
  const [toasts, setToasts] = useState([]);
  const [filter, setFilter] = useState('all');
  const timers = useRef(new Set());
  useEffect(() => () => timers.current.forEach(clearTimeout), []);
  const dismiss = useCallback((id) => setToasts((ts) => ts.filter((t) => t.alert_id !== id)), []);
  const onAlertRef = useRef(onAlert);
  onAlertRef.current = onAlert;

  const conn = useBreachWebSocket(
    userId,
    (alert, meta) => {
      if (!meta.replayed) {
        setToasts((ts) => [alert, ...ts.filter((t) => t.alert_id !== alert.alert_id)].slice(0, maxToasts));
        const timer = setTimeout(() => {
          timers.current.delete(timer);
          dismiss(alert.alert_id);
        }, toastMs);
        timers.current.add(timer);
      }
      onAlertRef.current?.(alert, meta);
    },
    { token, getToken, url, history, shareAcrossTabs },
  );
  useTicker(conn.status.state === 'reconnecting');

  const unread = conn.unreadCount ?? 0;
  const shown = visibleAlerts({ alerts: conn.alerts }, filter);
  const stopped = ['stopped', 'unauthenticated'].includes(conn.status.state);
  const filterButton = (value, label) =>
    h('button', { type: 'button', className: 'ah-btn', 'aria-pressed': String(filter === value), onClick: () => setFilter(value) }, label);

  return h(
    'section',
    { className: cx('ah-root', 'ah-dashboard', className), 'aria-label': title, 'data-testid': 'ah-dashboard' },
    h(
      'div',
      { className: 'ah-head' },
      h('h2', { className: 'ah-title' }, title),
      h('span', { className: 'ah-count', 'data-count': String(unread), 'data-testid': 'ah-unread', 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : String(unread)),
      h(ConnectionStatusBadge, { status: conn.status, lastError: conn.lastError }),
      h('button', { type: 'button', className: 'ah-btn', 'data-testid': 'ah-reconnect', onClick: conn.reconnect, disabled: conn.status.state === 'unauthenticated' }, 'Reconnect'),
    ),
    stopped && conn.status.reason ? h('p', { className: 'ah-notice', role: 'alert', 'data-testid': 'ah-notice' }, statusLabel(conn.status)) : null,
    h(
      'div',
      { className: 'ah-toasts', role: 'status', 'aria-live': 'polite', 'data-testid': 'ah-toasts' },
      toasts.map((t) =>
        h(
          'div',
          { key: t.alert_id, className: cx('ah-toast', `ah-sev-${severityOf(t).toLowerCase()}`), 'data-testid': 'ah-toast', 'data-alert-id': String(t.alert_id) },
          h('span', null, h('strong', null, `New ${severityOf(t)} alert: `), t.title || 'Untitled alert'),
          h('button', { type: 'button', className: 'ah-btn', 'aria-label': 'Dismiss', onClick: () => dismiss(t.alert_id) }, '×'),
        ),
      ),
    ),
    h(ConnectionHealthMonitor, conn),
    h(
      'div',
      { className: 'ah-toolbar' },
      h('div', { role: 'group', 'aria-label': 'Show' }, filterButton('all', 'All'), filterButton('unread', 'Unread')),
      h(
        'button',
        { type: 'button', className: 'ah-btn ah-btn-primary', 'data-testid': 'ah-mark-all-read', disabled: unread === 0 && !conn.alerts.some((a) => !a.read), onClick: conn.markAllRead },
        'Mark all read',
      ),
    ),
    shown.length
      ? h(
          'ol',
          { className: 'ah-list', 'aria-label': 'Alerts, newest first', 'data-testid': 'ah-list' },
          shown.map((a) => h(AlertItem, { key: a.alert_id, alert: a, pending: conn.pending.includes(Number(a.alert_id)), onMarkRead: conn.markRead })),
        )
      : h('p', { className: 'ah-empty', 'data-testid': 'ah-empty' }, filter === 'unread' ? 'Nothing unread.' : 'No breach alerts.'),
    conn.hasOlder ? h('button', { type: 'button', className: 'ah-btn', onClick: () => conn.loadOlder() }, 'Load older alerts') : null,
  );
}

export default BreachAlertsDashboard;
