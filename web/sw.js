// The alerthub service worker (contract §6): served at /sw.js so its scope is the whole site.
// A push shows a notification (title, severity, breach; tagged with the alert id so one alert
// never shows twice); a click focuses an open dashboard tab or opens one. Registered as a
// module worker by client/push.js.

import { focusOrOpen, notificationFor } from '/web/client/notify.js';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let payload = null;
  try {
    payload = event.data ? event.data.json() : null;
  } catch {
    payload = null;
  }
  const shown = notificationFor(payload);
  if (!shown) return;
  event.waitUntil(self.registration.showNotification(...shown));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url ?? '/';
  event.waitUntil(focusOrOpen(self.clients, self.location.origin, url));
});
