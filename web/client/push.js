// Web Push in the browser (contract §6): subscribe this browser with the server's VAPID key and
// register the subscription for the signed-in user, or undo both. The service worker (sw.js, a
// module worker at the site root so its scope covers the dashboard) shows what arrives.
// Dependency-free; `rest` is a RestClient (rest-client.js) carrying the user's token.

export const SERVICE_WORKER_URL = '/sw.js';

/** base64url (padded or not) → bytes, for `applicationServerKey`. */
export function base64UrlToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const raw = atob(padded);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Whether this browser can receive Web Push at all. */
export function pushSupported(nav = globalThis.navigator, win = globalThis) {
  return Boolean(nav?.serviceWorker && win.PushManager && win.Notification);
}

function unsupported() {
  const e = new Error('this browser does not support Web Push');
  e.code = 'unsupported';
  return e;
}

/**
 * Asks for permission, registers the service worker, subscribes with the server's VAPID key and
 * stores the subscription for the user. Resolves to the server's `subscription` object.
 */
export async function enablePush(rest, { serviceWorkerUrl = SERVICE_WORKER_URL, scope = '/', nav = globalThis.navigator, win = globalThis } = {}) {
  if (!pushSupported(nav, win)) throw unsupported();
  const permission = await win.Notification.requestPermission();
  if (permission !== 'granted') {
    const e = new Error(`notifications are ${permission === 'denied' ? 'blocked' : 'not allowed'} for this site`);
    e.code = 'permission';
    throw e;
  }
  await nav.serviceWorker.register(serviceWorkerUrl, { scope, type: 'module' });
  const registration = await nav.serviceWorker.ready;
  const { public_key: key } = await rest.vapidPublicKey();
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options?.applicationServerKey, key)) {
    // Subscribed with another server key (the server's key changed): start over.
    await subscription.unsubscribe();
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: base64UrlToBytes(key),
  });
  const data = await rest.subscribePush(subscription.toJSON());
  return data.subscription;
}

function sameKey(buffer, key) {
  if (!buffer) return true; // the browser does not say: keep the subscription
  const a = new Uint8Array(buffer);
  const b = base64UrlToBytes(key);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Removes this browser's subscription on the server and in the browser. Resolves to whether
 * there was one.
 */
export async function disablePush(rest, { scope = '/', nav = globalThis.navigator, win = globalThis } = {}) {
  if (!pushSupported(nav, win)) return false;
  const registration = await nav.serviceWorker.getRegistration(scope);
  const subscription = await registration?.pushManager.getSubscription();
  if (!subscription) return false;
  const { subscriptions } = await rest.listPushSubscriptions();
  for (const s of subscriptions) {
    if (s.endpoint === subscription.endpoint) await rest.deletePushSubscription(s.id);
  }
  await subscription.unsubscribe();
  return true;
}

/** Whether this browser is subscribed now (no permission prompt). */
export async function pushEnabled({ scope = '/', nav = globalThis.navigator, win = globalThis } = {}) {
  if (!pushSupported(nav, win) || win.Notification.permission !== 'granted') return false;
  const registration = await nav.serviceWorker.getRegistration(scope);
  return Boolean(await registration?.pushManager.getSubscription());
}
