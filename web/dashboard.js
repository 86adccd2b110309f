// alerthub dashboard — served at `/` by the alerthub server. No build step, no dependencies.
//
// Credentials: `/?user=1&token=...` (the token is then moved out of the address bar into
// sessionStorage), or the sign-in form. For a JWT without `user`, the user id is read from the
// token's (unverified) `user_id` claim; the server checks the signature.
//
// Flow: load the newest 50 alerts over REST, then open the WebSocket with `since` = the newest id
// loaded, so nothing created in between is missed; live alerts get a toast, replayed ones do not.

import { AlertHubClient, authorizationHeader, isJwt } from './alerthub-client.js';

const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
const PAGE_SIZE = 50;
const TOAST_MS = 5000;
const MAX_TOASTS = 4;
const STORAGE_KEY = 'alerthub.session';

const $ = (sel, root = document) => root.querySelector(sel);
const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

const ui = {
  login: byTestId('login'),
  loginForm: byTestId('login-form'),
  loginError: byTestId('login-error'),
  app: byTestId('app'),
  badge: byTestId('status-badge'),
  rtt: byTestId('rtt'),
  rttValue: byTestId('rtt-value'),
  quality: byTestId('quality'),
  reconnect: byTestId('reconnect'),
  unread: byTestId('unread-count'),
  unreadButton: byTestId('unread-button'),
  userChip: byTestId('user-chip'),
  signOut: byTestId('sign-out'),
  list: byTestId('alert-list'),
  empty: byTestId('empty-state'),
  loadOlder: byTestId('load-older'),
  markAll: byTestId('mark-all-read'),
  notice: byTestId('notice'),
  toasts: byTestId('toasts'),
  statUnread: byTestId('stat-unread'),
  statCritical: byTestId('stat-critical'),
  statHigh: byTestId('stat-high'),
  statLatest: byTestId('stat-latest'),
  statTotal: byTestId('stat-total'),
  listCount: byTestId('list-count'),
  template: $('#alert-template'),
};

const app = {
  userId: null,
  token: null,
  client: null,
  alerts: new Map(), // alert_id -> alert
  items: new Map(), // alert_id -> <li>
  nextBefore: null,
  filter: 'all',
  unread: 0,
  status: { state: 'idle' },
  countdown: null,
  pendingRead: new Map(), // alert_id -> timer
  generation: 0, // bumps on sign-out so late responses of an old session are ignored
};

// ---------------------------------------------------------------------------------------------
// credentials

function decodeJwtClaims(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function userFromToken(token) {
  if (!isJwt(token)) return null;
  const claims = decodeJwtClaims(token);
  const id = claims?.user_id;
  if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  if (typeof id === 'string' && id) return id;
  return null;
}

function validUserId(id) {
  return typeof id === 'string' && /^\w{1,64}$/.test(id);
}

function readCredentials() {
  const params = new URLSearchParams(location.search);
  let token = params.get('token');
  let userId = params.get('user') || params.get('user_id');
  if (token) {
    token = token.trim();
    userId = userId || userFromToken(token);
    // Keep the secret out of the address bar and history; sessionStorage survives a reload.
    saveSession(userId, token);
    const clean = new URL(location.href);
    clean.searchParams.delete('token');
    if (userId && !clean.searchParams.get('user')) clean.searchParams.set('user', userId);
    history.replaceState(null, '', clean.pathname + clean.search + clean.hash);
    return { userId, token };
  }
  const saved = loadSession();
  if (saved && (!userId || saved.userId === userId)) return saved;
  return { userId, token: null };
}

function saveSession(userId, token) {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ userId, token }));
  } catch {
    /* storage may be disabled */
  }
}

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    return s && s.token ? s : null;
  } catch {
    return null;
  }
}

function clearSession() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* ignore */
  }
}

// ---------------------------------------------------------------------------------------------
// REST

async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: {
      Authorization: authorizationHeader(app.token),
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
    const err = new Error(data?.error?.message || `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.code = data?.error?.code;
    throw err;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// formatting

function severityOf(alert) {
  const s = String(alert.severity || '').toUpperCase();
  return SEVERITIES.includes(s) ? s : 'LOW';
}

function formatConfidence(c) {
  const n = Number(c);
  if (!Number.isFinite(n)) return '—';
  return `${Math.round(Math.min(1, Math.max(0, n)) * 100)}%`;
}

const absoluteFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const shortFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

function relativeTime(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '—';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 0) return shortFmt.format(t);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.round(s / 86400)} d ago`;
  return shortFmt.format(t);
}

// ---------------------------------------------------------------------------------------------
// alert list

function upsertAlert(alert, { fresh = false } = {}) {
  const id = Number(alert.alert_id);
  if (!Number.isFinite(id)) return;
  const known = app.alerts.get(id);
  const merged = known ? { ...known, ...alert, read: Boolean(known.read || alert.read) } : { ...alert };
  app.alerts.set(id, merged);
  let li = app.items.get(id);
  if (!li) {
    li = ui.template.content.firstElementChild.cloneNode(true);
    li.dataset.alertId = String(id);
    li.querySelector('[data-testid="mark-read"]').addEventListener('click', () => markRead(id));
    app.items.set(id, li);
    insertInOrder(li, id);
    if (fresh) {
      li.classList.add('is-fresh');
      setTimeout(() => li.classList.remove('is-fresh'), 2400);
    }
  }
  fillAlert(li, merged);
}

function insertInOrder(li, id) {
  // newest (largest id) first
  for (const other of ui.list.children) {
    if (Number(other.dataset.alertId) < id) {
      ui.list.insertBefore(li, other);
      return;
    }
  }
  ui.list.appendChild(li);
}

function fillAlert(li, alert) {
  const sev = severityOf(alert);
  li.dataset.severity = sev;
  li.dataset.read = String(Boolean(alert.read));
  li.className = `alert-card sev-${sev.toLowerCase()} ${alert.read ? 'is-read' : 'is-unread'}${li.classList.contains('is-fresh') ? ' is-fresh' : ''}${app.pendingRead.has(Number(alert.alert_id)) ? ' is-pending' : ''}`;
  $('.sev-pill', li).textContent = sev;
  $('.alert-title', li).textContent = alert.title || 'Untitled alert';
  const desc = $('.alert-desc', li);
  desc.textContent = alert.description || '';
  desc.hidden = !alert.description;
  $('.breach-id', li).textContent = alert.breach_id || '—';
  const conf = Number(alert.confidence);
  $('.conf-value', li).textContent = formatConfidence(conf);
  $('.conf-fill', li).style.width = Number.isFinite(conf) ? `${Math.round(Math.min(1, Math.max(0, conf)) * 100)}%` : '0%';
  const time = $('.detected', li);
  time.dateTime = alert.detected_at || '';
  const t = Date.parse(alert.detected_at);
  time.title = Number.isFinite(t) ? absoluteFmt.format(t) : '';
  time.textContent = relativeTime(alert.detected_at);
  $('.read-state', li).textContent = alert.read ? 'Read' : 'Unread';
  const btn = $('[data-testid="mark-read"]', li);
  btn.hidden = Boolean(alert.read);
  btn.disabled = app.pendingRead.has(Number(alert.alert_id));
  $('.new-dot', li).hidden = Boolean(alert.read);
}

function setRead(id) {
  const alert = app.alerts.get(id);
  clearPending(id);
  if (!alert) return;
  alert.read = true;
  fillAlert(app.items.get(id), alert);
}

function refreshList() {
  ui.empty.hidden = ui.list.querySelector(app.filter === 'unread' ? '.is-unread' : '.alert-card') !== null;
  if (app.filter === 'unread' && !ui.empty.hidden) {
    $('.empty-title', ui.empty).textContent = 'Nothing unread';
    $('.empty-text', ui.empty).textContent = 'You are all caught up. New alerts appear here the moment they are detected.';
  } else {
    $('.empty-title', ui.empty).textContent = 'All clear';
    $('.empty-text', ui.empty).textContent =
      'No breach alerts for your account. New ones appear here the moment they are detected.';
  }
  ui.loadOlder.hidden = app.nextBefore == null;
  updateStats();
}

function updateStats() {
  let critical = 0;
  let high = 0;
  let newest = null;
  for (const a of app.alerts.values()) {
    const sev = severityOf(a);
    if (sev === 'CRITICAL') critical++;
    if (sev === 'HIGH') high++;
    if (!newest || Number(a.alert_id) > Number(newest.alert_id)) newest = a;
  }
  ui.statCritical.textContent = String(critical);
  ui.statHigh.textContent = String(high);
  ui.statLatest.textContent = newest ? relativeTime(newest.detected_at) : '—';
  ui.statTotal.textContent = `${app.alerts.size} loaded`;
  ui.listCount.textContent = String(app.alerts.size);
  ui.markAll.disabled = app.unread === 0 && !ui.list.querySelector('.is-unread');
}

function setUnread(count) {
  app.unread = Math.max(0, Number(count) || 0);
  ui.unread.textContent = app.unread > 99 ? '99+' : String(app.unread);
  ui.unread.dataset.count = String(app.unread);
  ui.statUnread.textContent = String(app.unread);
  document.title = app.unread > 0 ? `(${app.unread}) Breach alerts · alerthub` : 'Breach alerts · alerthub';
  updateStats();
}

// ---------------------------------------------------------------------------------------------
// read state

function clearPending(id) {
  const t = app.pendingRead.get(id);
  if (t) clearTimeout(t);
  app.pendingRead.delete(id);
}

async function markRead(id) {
  if (app.pendingRead.has(id)) return;
  const gen = app.generation;
  // Re-enable the button if no confirmation arrives (the server pushes alert_update to every tab).
  app.pendingRead.set(
    id,
    setTimeout(() => {
      app.pendingRead.delete(id);
      const a = app.alerts.get(id);
      if (a) fillAlert(app.items.get(id), a);
    }, 8000),
  );
  fillAlert(app.items.get(id), app.alerts.get(id));
  if (app.client?.markRead(id)) return;
  try {
    const data = await api(`/api/v1/alerts/${encodeURIComponent(id)}/read`, { method: 'POST' });
    if (gen !== app.generation) return;
    if (data?.alert) upsertAlert(data.alert);
    setRead(id);
    refreshList();
    const count = await api('/api/v1/alerts/unread-count');
    if (gen === app.generation && count && typeof count.count === 'number') setUnread(count.count);
  } catch (err) {
    clearPending(id);
    const a = app.alerts.get(id);
    if (a) fillAlert(app.items.get(id), a);
    showNotice('warn', 'Could not mark the alert read', err.message);
  }
}

async function markAllRead() {
  const gen = app.generation;
  if (app.client?.markAllRead()) return;
  try {
    await api('/api/v1/alerts/read-all', { method: 'POST' });
    if (gen !== app.generation) return;
    for (const id of app.alerts.keys()) setRead(id);
    setUnread(0);
    refreshList();
  } catch (err) {
    showNotice('warn', 'Could not mark all alerts read', err.message);
  }
}

// ---------------------------------------------------------------------------------------------
// toasts

function showToast(alert) {
  const sev = severityOf(alert);
  const el = document.createElement('div');
  el.className = `toast sev-${sev.toLowerCase()}`;
  el.dataset.testid = 'toast';
  el.dataset.alertId = String(alert.alert_id);
  el.setAttribute('role', 'status');
  el.innerHTML = `
    <span class="toast-icon" aria-hidden="true"><svg viewBox="0 0 24 24"><path d="M12 3 2 20h20L12 3z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/><path d="M12 10v4.5M12 17.3v.1" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg></span>
    <div class="toast-body">
      <div class="toast-head"><span class="sev-pill"></span><span class="toast-kicker">New alert</span></div>
      <div class="toast-title"></div>
      <div class="toast-meta"></div>
    </div>
    <button class="toast-close" type="button" aria-label="Dismiss">&times;</button>
    <span class="toast-timer" aria-hidden="true"></span>`;
  $('.sev-pill', el).textContent = sev;
  $('.toast-title', el).textContent = alert.title || 'Untitled alert';
  $('.toast-meta', el).textContent = `${alert.breach_id || ''} · ${formatConfidence(alert.confidence)} confidence`;
  $('.toast-timer', el).style.animationDuration = `${TOAST_MS}ms`;
  const dismiss = () => {
    if (el.classList.contains('is-leaving')) return;
    el.classList.add('is-leaving');
    setTimeout(() => el.remove(), 220);
  };
  const timer = setTimeout(dismiss, TOAST_MS);
  $('.toast-close', el).addEventListener('click', (e) => {
    e.stopPropagation();
    clearTimeout(timer);
    dismiss();
  });
  el.addEventListener('click', () => {
    const li = app.items.get(Number(alert.alert_id));
    if (li) {
      li.scrollIntoView({ behavior: 'smooth', block: 'center' });
      li.classList.add('is-fresh');
      setTimeout(() => li.classList.remove('is-fresh'), 2400);
    }
  });
  ui.toasts.prepend(el);
  while (ui.toasts.children.length > MAX_TOASTS) ui.toasts.lastElementChild.remove();
}

// ---------------------------------------------------------------------------------------------
// connection status

function showNotice(kind, title, text, action) {
  ui.notice.hidden = false;
  ui.notice.dataset.kind = kind;
  $('.notice-title', ui.notice).textContent = title;
  $('.notice-text', ui.notice).textContent = text || '';
  const btn = $('.notice-action', ui.notice);
  if (action) {
    btn.hidden = false;
    btn.textContent = action.label;
    btn.onclick = action.run;
  } else {
    btn.hidden = true;
    btn.onclick = null;
  }
}

function hideNotice() {
  ui.notice.hidden = true;
}

function renderStatus() {
  const s = app.status;
  ui.badge.dataset.state = s.state;
  const label = $('.status-label', ui.badge);
  clearInterval(app.countdown);
  app.countdown = null;
  ui.reconnect.hidden = !(s.state === 'reconnecting' || (s.state === 'stopped' && s.code !== 4003));
  switch (s.state) {
    case 'connecting':
      label.textContent = s.attempt > 0 ? `Connecting… (attempt ${s.attempt + 1})` : 'Connecting…';
      break;
    case 'open':
      label.textContent = 'Live';
      break;
    case 'reconnecting': {
      const tick = () => {
        const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
        label.textContent = secs > 0 ? `Reconnecting in ${secs}s` : 'Reconnecting…';
      };
      tick();
      app.countdown = setInterval(tick, 500);
      ui.badge.title = s.reason ? `Last disconnect: ${s.reason} · attempt ${s.attempt}` : `attempt ${s.attempt}`;
      break;
    }
    case 'stopped':
      label.textContent = s.reason ? `Stopped · ${s.reason}` : 'Stopped';
      break;
    default:
      label.textContent = 'Offline';
  }
  if (s.state !== 'reconnecting') ui.badge.title = s.reason || '';
  if (s.state !== 'open') renderQuality(null);
}

function renderQuality(q) {
  if (!q) {
    ui.rtt.dataset.quality = '';
    ui.rttValue.textContent = '— ms';
    ui.quality.textContent = '';
    return;
  }
  ui.rtt.dataset.quality = q.quality;
  ui.rttValue.textContent = q.rtt == null ? 'no reply' : `${Math.round(q.rtt)} ms`;
  ui.quality.textContent = q.quality;
}

function onStatus(s) {
  app.status = s;
  renderStatus();
  if (s.state === 'stopped' && s.code === 4003) {
    const mismatch = /mismatch/i.test(s.reason || '');
    showNotice(
      'error',
      mismatch ? 'This token belongs to another user' : 'Authentication failed',
      mismatch
        ? 'The token is valid but not for this user id. Sign in with the matching user id or token.'
        : 'The server refused the token (missing, expired, revoked or wrongly signed). Live updates are stopped.',
      { label: 'Use another token', run: signOut },
    );
  } else if (s.state === 'reconnecting' && s.attempt >= 3) {
    showNotice('warn', 'Connection lost', 'Trying to reconnect. Alerts created meanwhile are delivered when it is back.', {
      label: 'Retry now',
      run: () => app.client?.reconnect(),
    });
  } else if (s.state === 'open' && ui.notice.dataset.kind !== 'info') {
    hideNotice();
  }
}

// ---------------------------------------------------------------------------------------------
// session

async function start(userId, token) {
  app.generation++;
  const gen = app.generation;
  app.userId = userId;
  app.token = token;
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.userChip.hidden = false;
  $('.user-name', ui.userChip).textContent = `User ${userId}`;
  $('.avatar', ui.userChip).textContent = userId.slice(0, 2).toUpperCase();
  app.status = { state: 'connecting', attempt: 0 };
  renderStatus();

  // History first, then the socket resumes after the newest id loaded.
  let loaded = null;
  const unreadReq = api('/api/v1/alerts/unread-count').catch(() => null);
  try {
    loaded = await api(`/api/v1/alerts?limit=${PAGE_SIZE}`);
  } catch (err) {
    if (gen !== app.generation) return;
    if (err.status !== 401 && err.status !== 403) {
      showNotice('warn', 'Could not load alert history', err.message);
    }
  }
  if (gen !== app.generation) return;
  const alerts = Array.isArray(loaded?.alerts) ? loaded.alerts : [];
  for (const a of alerts) upsertAlert(a);
  app.nextBefore = loaded?.next_before ?? null;
  const counted = await unreadReq;
  if (gen !== app.generation) return;
  setUnread(typeof counted?.count === 'number' ? counted.count : alerts.filter((a) => !a.read).length);
  refreshList();

  const client = new AlertHubClient({
    url: location.origin,
    userId,
    token,
    // With an empty (but loaded) history, replay everything after id 0: nothing created between
    // the REST call and the connect is missed.
    since: loaded ? 0 : undefined,
  });
  client.seed(alerts);
  app.client = client;
  window.alerthub = client; // handy in the console

  client.addEventListener('status', (e) => onStatus(e.detail));
  client.addEventListener('quality', (e) => renderQuality(e.detail));
  client.addEventListener('unread', (e) => setUnread(e.detail.count));
  client.addEventListener('alert', (e) => {
    const { alert, replayed } = e.detail;
    upsertAlert(alert, { fresh: !replayed });
    refreshList();
    if (!replayed) showToast(alert);
  });
  client.addEventListener('update', (e) => {
    const u = e.detail;
    if (u.update_type === 'marked_read' && u.alert_id != null) setRead(Number(u.alert_id));
    else if (u.update_type === 'marked_all_read') for (const id of app.alerts.keys()) setRead(id);
    refreshList();
  });
  client.addEventListener('error', (e) => {
    const { code, message } = e.detail;
    if (code === 'not_found') {
      for (const id of [...app.pendingRead.keys()]) {
        clearPending(id);
        const a = app.alerts.get(id);
        if (a) fillAlert(app.items.get(id), a);
      }
    }
    if (code !== 'rate_limited') showNotice('warn', 'The server reported a problem', `${code}: ${message}`);
  });
  client.addEventListener('replay_truncated', (e) => {
    app.nextBefore = e.detail.oldest_alert_id;
    refreshList();
    showNotice('info', 'Some missed alerts are not shown yet', 'More alerts arrived while you were away than could be replayed.', {
      label: 'Load them',
      run: () => {
        hideNotice();
        loadOlder();
      },
    });
  });
  client.connect();
}

async function loadOlder() {
  if (app.nextBefore == null) return;
  const gen = app.generation;
  ui.loadOlder.disabled = true;
  try {
    const data = await api(`/api/v1/alerts?limit=${PAGE_SIZE}&before=${encodeURIComponent(app.nextBefore)}`);
    if (gen !== app.generation) return;
    for (const a of data.alerts || []) upsertAlert(a);
    app.client?.seed(data.alerts || []);
    app.nextBefore = data.next_before ?? null;
    refreshList();
  } catch (err) {
    showNotice('warn', 'Could not load older alerts', err.message);
  } finally {
    ui.loadOlder.disabled = false;
  }
}

function signOut() {
  app.generation++;
  app.client?.close();
  app.client = null;
  clearSession();
  for (const id of [...app.pendingRead.keys()]) clearPending(id);
  app.alerts.clear();
  app.items.clear();
  ui.list.replaceChildren();
  ui.toasts.replaceChildren();
  app.nextBefore = null;
  hideNotice();
  setUnread(0);
  app.status = { state: 'idle' };
  renderStatus();
  ui.userChip.hidden = true;
  ui.app.hidden = true;
  history.replaceState(null, '', location.pathname);
  showLogin();
}

function showLogin(prefillUser) {
  ui.login.hidden = false;
  ui.app.hidden = true;
  if (prefillUser) ui.loginForm.elements.user.value = prefillUser;
  ui.loginForm.elements.token.focus();
}

ui.loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ui.loginForm.elements.token.value.trim().replace(/^(Bearer|Token)\s+/i, '');
  let userId = ui.loginForm.elements.user.value.trim() || userFromToken(token);
  if (!token) return;
  if (!validUserId(userId || '')) {
    ui.loginError.hidden = false;
    ui.loginError.textContent = userId
      ? 'A user id is 1–64 letters, digits or underscores.'
      : 'Enter your user id (the token does not name one).';
    return;
  }
  ui.loginError.hidden = true;
  saveSession(userId, token);
  const url = new URL(location.href);
  url.search = `?user=${encodeURIComponent(userId)}`;
  history.replaceState(null, '', url.pathname + url.search);
  start(userId, token);
});

for (const seg of document.querySelectorAll('.segmented .seg')) {
  seg.addEventListener('click', () => {
    app.filter = seg.dataset.filter;
    ui.list.dataset.filter = app.filter;
    for (const s of document.querySelectorAll('.segmented .seg')) {
      s.classList.toggle('is-active', s === seg);
      s.setAttribute('aria-selected', String(s === seg));
    }
    refreshList();
  });
}
ui.unreadButton.addEventListener('click', () => {
  if (!ui.app.hidden) byTestId('filter-unread').click();
});
ui.markAll.addEventListener('click', markAllRead);
ui.loadOlder.addEventListener('click', loadOlder);
ui.reconnect.addEventListener('click', () => app.client?.reconnect());
ui.signOut.addEventListener('click', signOut);

// Keep "3 min ago" labels fresh.
setInterval(() => {
  for (const [id, li] of app.items) {
    const a = app.alerts.get(id);
    if (a) $('.detected', li).textContent = relativeTime(a.detected_at);
  }
  updateStats();
}, 30_000);

// boot
const creds = readCredentials();
if (creds.token && validUserId(creds.userId || '')) {
  start(creds.userId, creds.token);
} else {
  if (creds.token) {
    ui.loginForm.elements.token.value = creds.token;
    ui.loginError.hidden = false;
    ui.loginError.textContent = 'Enter your user id (the token does not name one).';
  }
  showLogin(creds.userId);
}
