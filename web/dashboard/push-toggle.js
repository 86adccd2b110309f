// The dashboard's "Enable notifications" control (contract §6): subscribes this browser to Web
// Push for the signed-in user, or unsubscribes it. Hidden where the browser cannot push or the
// server has no VAPID key. The label and `aria-pressed` say which state it is in.

import { disablePush, enablePush, pushEnabled, pushSupported } from '../client/push.js';

/**
 * @param {HTMLButtonElement} button
 * @param {object} deps
 * @param {() => import('../rest-client.js').RestClient | null} deps.rest  the signed-in user's REST client
 * @param {(kind: string, title: string, text: string) => void} deps.notify  shows a notice
 */
export function createPushToggle(button, { rest, notify }) {
  let busy = false;

  function render(on) {
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.textContent = on ? 'Notifications on' : 'Enable notifications';
    button.title = on
      ? 'This browser shows alerts that stay unread while no alerthub tab is open. Click to turn off.'
      : 'Show a notification for alerts that stay unread while no alerthub tab is open';
  }

  async function refresh() {
    const client = rest();
    if (!client || !pushSupported()) {
      button.hidden = true;
      return;
    }
    try {
      await client.vapidPublicKey(); // 404: the server does not push
    } catch {
      button.hidden = true;
      return;
    }
    render(await pushEnabled().catch(() => false));
    button.hidden = false;
  }

  button.addEventListener('click', async () => {
    const client = rest();
    if (busy || !client) return;
    busy = true;
    button.disabled = true;
    try {
      if (button.getAttribute('aria-pressed') === 'true') {
        await disablePush(client);
        render(false);
      } else {
        await enablePush(client);
        render(true);
      }
    } catch (err) {
      notify('warn', 'Notifications could not be changed', err.message);
    } finally {
      busy = false;
      button.disabled = false;
    }
  });

  return {
    refresh,
    /** On sign-out: this browser stops receiving the user's alerts (best effort). */
    async signOut(client) {
      button.hidden = true;
      if (client && pushSupported()) await disablePush(client).catch(() => false);
    },
  };
}
