// alerthub dashboard — served at `/` by the alerthub server; plain DOM, no build step, no React.
// This module is the controller: it signs in (dashboard/session.js), loads the newest alerts over
// REST (rest-client.js), then opens the socket with `since` = the newest id loaded, so nothing
// created in between is missed, and folds every client event into one state (alerts-state.js)
// that the view (dashboard/view.js) renders. Tabs of one user share one socket (the client's
// shareAcrossTabs). Live alerts get a toast (dashboard/toasts.js); replayed ones do not.

import { AlertHubClient } from './alerthub-client.js';
import { RestClient } from './rest-client.js';
import { initialState, reduce } from './alerts-state.js';
import { clearSession, readCredentials, saveSession, userFromToken, validUserId } from './dashboard/session.js';
import { showToast } from './dashboard/toasts.js';
import { createView } from './dashboard/view.js';
import { createPushToggle } from './dashboard/push-toggle.js';

const PAGE_SIZE = 50;
const READ_CONFIRM_MS = 8000;

const view = createView({ onMarkRead: markRead });
const ui = view.ui;
const pushToggle = createPushToggle(ui.pushToggle, {
  rest: () => app.rest,
  notify: (kind, title, text) => view.showNotice(kind, title, text),
});

const app = {
  userId: null,
  token: null,
  client: null,
  rest: null,
  state: initialState(),
  generation: 0, // bumps on sign-out so late answers of an old session are ignored
  readTimers: new Map(), // alert_id -> timer that gives up waiting for the server's confirmation
};

function dispatch(event, { fresh } = {}) {
  const prev = app.state;
  const next = reduce(prev, event);
  if (next === prev) return;
  app.state = next;
  if (next.alerts !== prev.alerts || next.pending !== prev.pending) view.renderAlerts(next, { fresh });
  view.renderCounts(next);
  if (next.status !== prev.status) view.renderStatus(next.status);
  if (next.status !== prev.status || next.quality !== prev.quality || next.rtt !== prev.rtt) view.renderQuality(next);
}

// ---------------------------------------------------------------------------------------------
// read state: over the socket when connected (every tab gets the push), else over REST

async function markRead(id) {
  if (app.state.pending.includes(id)) return;
  const gen = app.generation;
  dispatch({ type: 'mark_pending', alert_id: id });
  // Re-enable the button if no confirmation arrives.
  app.readTimers.set(
    id,
    setTimeout(() => dispatch({ type: 'mark_failed', alert_id: id }), READ_CONFIRM_MS),
  );
  if (app.client?.markRead(id)) return;
  try {
    const data = await app.rest.markRead(id);
    if (gen !== app.generation) return;
    if (data?.alert) dispatch({ type: 'alert', alert: data.alert });
    dispatch({ type: 'read', alert_id: id });
    dispatch({ type: 'unread', count: await app.rest.unreadCount() });
  } catch (err) {
    if (gen !== app.generation) return;
    dispatch({ type: 'mark_failed', alert_id: id, message: err.message });
    view.showNotice('warn', 'Could not mark the alert read', err.message);
  }
}

async function markAllRead() {
  const gen = app.generation;
  if (app.client?.markAllRead()) return;
  try {
    await app.rest.markAllRead();
    if (gen !== app.generation) return;
    dispatch({ type: 'read', update_type: 'marked_all_read' });
    dispatch({ type: 'unread', count: 0 });
  } catch (err) {
    view.showNotice('warn', 'Could not mark all alerts read', err.message);
  }
}

// ---------------------------------------------------------------------------------------------
// connection

function onStatus(s) {
  dispatch({ type: 'status', ...s });
  if (s.state === 'stopped' && s.code === 4003) {
    const mismatch = /mismatch/i.test(s.reason || '');
    view.showNotice(
      'error',
      mismatch ? 'This token belongs to another user' : 'Authentication failed',
      mismatch
        ? 'The token is valid but not for this user id. Sign in with the matching user id or token.'
        : `The server refused the token (${s.reason || 'missing, expired, revoked or wrongly signed'}). Live updates are stopped.`,
      { label: 'Use another token', run: signOut },
    );
  } else if (s.state === 'stopped' && s.code === 4001) {
    view.showNotice('error', 'Your session expired', 'Sign in again with a fresh token.', { label: 'Sign in again', run: signOut });
  } else if (s.state === 'reconnecting' && s.attempt >= 3) {
    view.showNotice('warn', 'Connection lost', 'Trying to reconnect. Alerts created meanwhile are delivered when it is back.', {
      label: 'Retry now',
      run: () => app.client?.reconnect(),
    });
  } else if (s.state === 'open' && ui.notice.dataset.kind !== 'info') {
    view.hideNotice();
  }
}

function onUpdate(u) {
  if (u.alert_id != null) clearTimeout(app.readTimers.get(Number(u.alert_id)));
  dispatch({ type: 'update', ...u });
}

function onError({ code, message }) {
  dispatch({ type: 'error', code, message });
  if (code !== 'rate_limited') view.showNotice('warn', 'The server reported a problem', `${code}: ${message}`);
}

function onReplayTruncated(d) {
  dispatch({ type: 'replay_truncated', ...d });
  view.showNotice('info', 'Some missed alerts are not shown yet', 'More alerts arrived while you were away than could be replayed.', {
    label: 'Load them',
    run: () => {
      view.hideNotice();
      loadOlder();
    },
  });
}

async function start(userId, token) {
  app.generation++;
  const gen = app.generation;
  app.userId = userId;
  app.token = token;
  app.rest = new RestClient({ url: location.origin, token: () => app.token });
  view.showApp(userId);
  pushToggle.refresh();
  dispatch({ type: 'status', state: 'connecting', attempt: 0 });

  // History first, then the socket resumes after the newest id loaded.
  let loaded = null;
  const unreadReq = app.rest.unreadCount().catch(() => null);
  try {
    loaded = await app.rest.listAlerts({ limit: PAGE_SIZE });
  } catch (err) {
    if (gen !== app.generation) return;
    if (err.status !== 401 && err.status !== 403) view.showNotice('warn', 'Could not load alert history', err.message);
  }
  if (gen !== app.generation) return;
  const alerts = Array.isArray(loaded?.alerts) ? loaded.alerts : [];
  const counted = await unreadReq;
  if (gen !== app.generation) return;
  dispatch({
    type: 'history',
    alerts,
    next_before: loaded?.next_before ?? null,
    unread: typeof counted === 'number' ? counted : alerts.filter((a) => !a.read).length,
  });

  const client = new AlertHubClient({
    url: location.origin,
    userId,
    token,
    // With an empty (but loaded) history, replay everything after id 0: nothing created between
    // the REST call and the connect is missed.
    since: loaded ? 0 : undefined,
    shareAcrossTabs: true,
  });
  client.seed(alerts);
  app.client = client;
  window.alerthub = client; // handy in the console, and for the end-to-end tests
  client.addEventListener('status', (e) => onStatus(e.detail));
  client.addEventListener('quality', (e) => dispatch({ type: 'quality', ...e.detail }));
  client.addEventListener('unread', (e) => dispatch({ type: 'unread', ...e.detail }));
  client.addEventListener('alert', (e) => {
    const { alert, replayed } = e.detail;
    dispatch({ type: 'alert', alert }, { fresh: replayed ? [] : [Number(alert.alert_id)] });
    if (!replayed) showToast(ui.toasts, alert, view.scrollTo);
  });
  client.addEventListener('update', (e) => onUpdate(e.detail));
  client.addEventListener('error', (e) => onError(e.detail));
  client.addEventListener('replay_truncated', (e) => onReplayTruncated(e.detail));
  client.addEventListener('token', (e) => {
    if (e.detail.refreshed) saveSession(app.userId, client.token);
  });
  client.connect();
}

async function loadOlder() {
  if (app.state.nextBefore == null) return;
  const gen = app.generation;
  ui.loadOlder.disabled = true;
  try {
    const data = await app.rest.listAlerts({ limit: PAGE_SIZE, before: app.state.nextBefore });
    if (gen !== app.generation) return;
    dispatch({ type: 'history', alerts: data.alerts || [], next_before: data.next_before ?? null });
    app.client?.seed(data.alerts || []);
  } catch (err) {
    view.showNotice('warn', 'Could not load older alerts', err.message);
  } finally {
    ui.loadOlder.disabled = false;
  }
}

/** Forgets this tab's token and disconnects (another tab of the user takes the socket over). */
function signOut() {
  // This browser stops getting the user's notifications, with the token still in hand.
  if (app.token) pushToggle.signOut(new RestClient({ url: location.origin, token: app.token }));
  app.generation++;
  app.client?.close('signed out');
  app.client = null;
  app.token = null;
  clearSession();
  for (const t of app.readTimers.values()) clearTimeout(t);
  app.readTimers.clear();
  view.clear();
  app.state = initialState();
  dispatch({ type: 'status', state: 'idle' });
  view.renderAlerts(app.state);
  view.renderCounts(app.state);
  view.showLogin();
}

ui.loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.loginForm.elements.token.value.trim().replace(/^(Bearer|Token)\s+/i, '');
  const userId = ui.loginForm.elements.user.value.trim() || userFromToken(token);
  if (!token) return;
  if (!validUserId(userId || '')) {
    view.showLogin({
      error: userId ? 'A user id is 1–64 letters, digits or underscores.' : 'Enter your user id (the token does not name one).',
    });
    return;
  }
  saveSession(userId, token);
  const url = new URL(location.href);
  url.search = `?user=${encodeURIComponent(userId)}`;
  history.replaceState(null, '', url.pathname + url.search);
  start(userId, token);
});

for (const seg of document.querySelectorAll('.segmented .seg')) {
  seg.addEventListener('click', () => {
    view.setFilter(seg.dataset.filter);
    view.renderCounts(app.state);
  });
}
ui.unreadButton.addEventListener('click', () => {
  if (!ui.app.hidden) {
    view.setFilter('unread');
    view.renderCounts(app.state);
  }
});
ui.markAll.addEventListener('click', markAllRead);
ui.loadOlder.addEventListener('click', loadOlder);
ui.reconnect.addEventListener('click', () => app.client?.reconnect());
ui.signOut.addEventListener('click', signOut);

setInterval(() => {
  view.refreshTimes();
  view.renderCounts(app.state);
}, 30_000);

// boot
const creds = readCredentials();
if (creds.token && validUserId(creds.userId || '')) {
  start(creds.userId, creds.token);
} else {
  view.showLogin({
    user: creds.userId,
    token: creds.token,
    error: creds.token ? 'Enter your user id (the token does not name one).' : null,
  });
}
