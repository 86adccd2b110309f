// What the service worker (sw.js) does with a push, as plain functions so they are unit-tested
// in Node: the notification for a §6 payload (`full` or `minimal`), and the click that focuses
// an open dashboard tab or opens one. The tag is the alert id, so an alert that arrives twice
// (a retry that did reach the browser) replaces its notification instead of showing another.

const SEVERITY_WORDS = { CRITICAL: 'Critical', HIGH: 'High', MEDIUM: 'Medium', LOW: 'Low' };

/** `[title, options]` for `registration.showNotification`, or null for a foreign payload. */
export function notificationFor(payload, { dashboardUrl = '/' } = {}) {
  if (!payload || payload.type !== 'breach_alert') return null;
  const alert = payload.alert ?? null;
  const alertId = alert?.alert_id ?? payload.alert_id;
  const severity = String(alert?.severity ?? payload.severity ?? '').toUpperCase();
  if (alertId == null) return null;
  const word = SEVERITY_WORDS[severity] ?? severity;
  const title = alert?.title ?? `${word} security alert`;
  const body = alert
    ? `${word} severity · breach ${alert.breach_id}${alert.description ? `\n${alert.description}` : ''}`
    : `${word} severity — open alerthub to see the details`;
  return [
    title,
    {
      body,
      tag: String(alertId),
      renotify: false,
      requireInteraction: severity === 'CRITICAL',
      data: { alertId, severity, url: dashboardUrl },
    },
  ];
}

/**
 * The click: focus a window already showing the dashboard (same origin, path `url`), else open
 * one. `clients` is the service worker's `self.clients`; `origin` its `self.location.origin`.
 * Resolves to the focused or opened window client (or null).
 */
export async function focusOrOpen(clients, origin, url = '/') {
  const target = new URL(url, origin);
  const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((c) => {
    const u = new URL(c.url);
    return u.origin === target.origin && u.pathname === target.pathname;
  });
  if (open) return open.focus();
  return clients.openWindow(target.href);
}
