// Web Push (contract §6) in real Chromium: the dashboard's "Enable notifications" control
// registers the service worker (/sw.js, scope /), and a push delivered through the DevTools
// protocol (ServiceWorker.deliverPushMessage) shows a notification with the alert's title,
// tagged with its id so a second delivery of the same alert does not show twice
// (registration.getNotifications()). The click logic is unit-tested (test/push.test.mjs).
// Subscribing needs the browser vendor's push service, which a sandbox may not reach: then the
// server-side registration is reported as skipped, not failed.

import { env, assert, check, log, skip, mintJwt, trigger, openDashboard, waitLive, waitFor } from './harness.mjs';

const USER = '41';

async function notifications(page) {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/');
    const list = await reg.getNotifications();
    return list.map((n) => ({ title: n.title, tag: n.tag, body: n.body }));
  });
}

export async function run(browser) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 760 } });
  await context.grantPermissions(['notifications'], { origin: env.base });
  const token = mintJwt(USER);
  const { page } = await openDashboard(context, USER, token);
  let registrationId = null;
  const cdp = await context.newCDPSession(page);
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
    for (const r of registrations) if (r.scopeURL === `${env.base}/` && !r.isDeleted) registrationId = r.registrationId;
  });
  await cdp.send('ServiceWorker.enable');

  await check('(p1) the service worker registers from the dashboard', async () => {
    await waitLive(page);
    const toggle = page.locator('[data-testid="push-toggle"]');
    await toggle.waitFor({ state: 'visible', timeout: 5000 });
    assert((await toggle.textContent()).trim() === 'Enable notifications', 'the control offers to enable');
    await toggle.click();
    await waitFor(
      () => page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/'))?.active?.scriptURL ?? null),
      'an active service worker',
    );
    const script = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/')).active.scriptURL);
    assert(script === `${env.base}/sw.js`, `service worker ${script}`);
    await waitFor(() => registrationId, 'the registration seen over CDP');
    // Subscribing goes through the browser's push service; the sandbox may have none.
    await waitFor(async () => !(await toggle.isDisabled()), 'the control settles', { timeout: 15_000 });
    if ((await toggle.getAttribute('aria-pressed')) === 'true') {
      const res = await fetch(`${env.base}/api/v1/push/subscriptions`, { headers: { Authorization: `Bearer ${token}` } });
      const { subscriptions } = await res.json();
      assert(subscriptions.length === 1, `${subscriptions.length} subscriptions stored`);
    } else {
      skip('(p1b) the subscription reaches the server', 'this Chromium has no push service to subscribe with');
    }
  });

  await check('(p2) a pushed alert shows its notification once', async () => {
    assert(registrationId, 'no service worker registration from (p1)');
    const alert = await trigger(USER, { severity: 'CRITICAL', title: 'Pushed while away' });
    const data = JSON.stringify({ type: 'breach_alert', alert });
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: env.base, registrationId, data });
    await waitFor(async () => (await notifications(page)).length === 1, 'one notification', { timeout: 5000 });
    const [shown] = await notifications(page);
    assert(shown.title === 'Pushed while away', `title ${shown.title}`);
    assert(shown.tag === String(alert.alert_id), `tag ${shown.tag}`);
    assert(/Critical severity · breach /.test(shown.body), `body ${shown.body}`);
    // The same alert again (a retried push that did arrive): still one notification.
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: env.base, registrationId, data });
    await page.waitForTimeout(500);
    const after = await notifications(page);
    assert(after.length === 1, `${after.length} notifications for one alert`);
    // A minimal payload shows no breach details.
    const minimal = JSON.stringify({ type: 'breach_alert', alert_id: alert.alert_id + 1000, severity: 'HIGH' });
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: env.base, registrationId, data: minimal });
    await waitFor(async () => (await notifications(page)).length === 2, 'the minimal notification', { timeout: 5000 });
    const titles = (await notifications(page)).map((n) => n.title).sort();
    log(`       notifications: ${titles.join(' | ')}`);
    assert(titles.includes('High security alert'), `titles ${titles}`);
  });

  await context.close();
}
