// The dashboard's DOM: it renders the state of alerts-state.js into index.html's elements (the
// alert list keyed by id, so an unchanged alert's element is left alone), and shows the sign-in
// form, notices and the connection badge. It holds no state of its own beyond the elements it
// made; the controller (dashboard.js) decides what happens on a click.

import { formatConfidence, confidencePercent, relativeTime, severityOf, stats, statusLabel, isPending } from '../alerts-state.js';

const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
const $ = (sel, root) => root.querySelector(sel);

const absoluteFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

export function createView({ onMarkRead }) {
  const ui = Object.fromEntries(
    [
      ['login', 'login'],
      ['loginForm', 'login-form'],
      ['loginError', 'login-error'],
      ['app', 'app'],
      ['badge', 'status-badge'],
      ['rtt', 'rtt'],
      ['rttValue', 'rtt-value'],
      ['quality', 'quality'],
      ['reconnect', 'reconnect'],
      ['unread', 'unread-count'],
      ['unreadButton', 'unread-button'],
      ['userChip', 'user-chip'],
      ['signOut', 'sign-out'],
      ['pushToggle', 'push-toggle'],
      ['list', 'alert-list'],
      ['empty', 'empty-state'],
      ['loadOlder', 'load-older'],
      ['markAll', 'mark-all-read'],
      ['notice', 'notice'],
      ['toasts', 'toasts'],
      ['statUnread', 'stat-unread'],
      ['statCritical', 'stat-critical'],
      ['statHigh', 'stat-high'],
      ['statLatest', 'stat-latest'],
      ['statTotal', 'stat-total'],
      ['listCount', 'list-count'],
    ].map(([k, id]) => [k, byTestId(id)]),
  );
  ui.template = document.querySelector('#alert-template');
  const items = new Map(); // alert_id -> { li, alert, pending }
  let filter = 'all';
  let countdown = null;

  function fillAlert(li, alert, pending) {
    const sev = severityOf(alert);
    li.dataset.severity = sev;
    li.dataset.read = String(Boolean(alert.read));
    li.classList.remove('sev-low', 'sev-medium', 'sev-high', 'sev-critical');
    li.classList.add(`sev-${sev.toLowerCase()}`);
    li.classList.toggle('is-read', Boolean(alert.read));
    li.classList.toggle('is-unread', !alert.read);
    li.classList.toggle('is-pending', pending);
    $('.sev-pill', li).textContent = sev;
    $('.alert-title', li).textContent = alert.title || 'Untitled alert';
    const desc = $('.alert-desc', li);
    desc.textContent = alert.description || '';
    desc.hidden = !alert.description;
    $('.breach-id', li).textContent = alert.breach_id || '—';
    $('.conf-value', li).textContent = formatConfidence(alert.confidence);
    $('.conf-fill', li).style.width = `${confidencePercent(alert.confidence) ?? 0}%`;
    const time = $('.detected', li);
    time.dateTime = alert.detected_at || '';
    const t = Date.parse(alert.detected_at);
    time.title = Number.isFinite(t) ? absoluteFmt.format(t) : '';
    time.textContent = relativeTime(alert.detected_at);
    $('.read-state', li).textContent = alert.read ? 'Read' : 'Unread';
    const btn = $('[data-testid="mark-read"]', li);
    btn.hidden = Boolean(alert.read);
    btn.disabled = pending;
    btn.setAttribute('aria-label', `Mark read: ${alert.title || 'alert'}`);
    $('.new-dot', li).hidden = Boolean(alert.read);
  }

  function renderAlerts(state, { fresh = [] } = {}) {
    const seen = new Set();
    let before = ui.list.firstElementChild;
    for (const alert of state.alerts) {
      const id = Number(alert.alert_id);
      seen.add(id);
      const pending = isPending(state, id);
      let item = items.get(id);
      if (!item) {
        const li = ui.template.content.firstElementChild.cloneNode(true);
        li.dataset.alertId = String(id);
        $('[data-testid="mark-read"]', li).addEventListener('click', () => onMarkRead(id));
        item = { li, alert: null, pending: null };
        items.set(id, item);
        if (fresh.includes(id)) flash(li);
      }
      if (item.alert !== alert || item.pending !== pending) {
        fillAlert(item.li, alert, pending);
        item.alert = alert;
        item.pending = pending;
      }
      // newest first: put each element right after the previous one
      if (item.li !== before) ui.list.insertBefore(item.li, before);
      else before = before.nextElementSibling;
    }
    for (const [id, item] of items) {
      if (!seen.has(id)) {
        item.li.remove();
        items.delete(id);
      }
    }
  }

  function flash(li) {
    li.classList.add('is-fresh');
    setTimeout(() => li.classList.remove('is-fresh'), 2400);
  }

  function renderCounts(state) {
    const unread = state.unread ?? 0;
    ui.unread.textContent = unread > 99 ? '99+' : String(unread);
    ui.unread.dataset.count = String(unread);
    ui.unreadButton.setAttribute('aria-label', `${unread} unread alerts: show unread`);
    ui.statUnread.textContent = String(unread);
    document.title = unread > 0 ? `(${unread}) Breach alerts · alerthub` : 'Breach alerts · alerthub';
    const s = stats(state);
    ui.statCritical.textContent = String(s.critical);
    ui.statHigh.textContent = String(s.high);
    ui.statLatest.textContent = s.newest ? relativeTime(s.newest.detected_at) : '—';
    ui.statTotal.textContent = `${s.total} loaded`;
    ui.listCount.textContent = String(s.total);
    ui.markAll.disabled = unread === 0 && s.unreadLoaded === 0;
    const none = filter === 'unread' ? s.unreadLoaded === 0 : s.total === 0;
    ui.empty.hidden = !none;
    $('.empty-title', ui.empty).textContent = filter === 'unread' ? 'Nothing unread' : 'All clear';
    $('.empty-text', ui.empty).textContent =
      filter === 'unread'
        ? 'You are all caught up. New alerts appear here the moment they are detected.'
        : 'No breach alerts for your account. New ones appear here the moment they are detected.';
    ui.loadOlder.hidden = state.nextBefore == null;
  }

  function renderStatus(status) {
    ui.badge.dataset.state = status.state;
    const label = $('.status-label', ui.badge);
    clearInterval(countdown);
    countdown = null;
    const tick = () => {
      label.textContent = statusLabel(status);
    };
    tick();
    if (status.state === 'reconnecting') countdown = setInterval(tick, 500);
    ui.badge.title =
      status.state === 'reconnecting' ? `Last disconnect: ${status.reason ?? 'connection lost'} · attempt ${status.attempt}` : status.reason || '';
    ui.reconnect.hidden = !(status.state === 'reconnecting' || (status.state === 'stopped' && status.code !== 4003));
  }

  function renderQuality(state) {
    const open = state.status.state === 'open' && state.quality;
    ui.rtt.dataset.quality = open ? state.quality : '';
    ui.rttValue.textContent = !open ? '— ms' : state.rtt == null ? 'no reply' : `${Math.round(state.rtt)} ms`;
    ui.quality.textContent = open ? state.quality : '';
  }

  function showNotice(kind, title, text, action) {
    ui.notice.hidden = false;
    ui.notice.dataset.kind = kind;
    $('.notice-title', ui.notice).textContent = title;
    $('.notice-text', ui.notice).textContent = text || '';
    const btn = $('.notice-action', ui.notice);
    btn.hidden = !action;
    btn.textContent = action ? action.label : '';
    btn.onclick = action ? action.run : null;
  }

  function hideNotice() {
    ui.notice.hidden = true;
    ui.notice.dataset.kind = '';
  }

  function setFilter(next) {
    filter = next;
    ui.list.dataset.filter = next;
    for (const s of document.querySelectorAll('.segmented .seg')) {
      const on = s.dataset.filter === next;
      s.classList.toggle('is-active', on);
      s.setAttribute('aria-pressed', String(on));
    }
  }

  function showApp(userId) {
    ui.login.hidden = true;
    ui.app.hidden = false;
    ui.userChip.hidden = false;
    $('.user-name', ui.userChip).textContent = `User ${userId}`;
    $('.avatar', ui.userChip).textContent = userId.slice(0, 2).toUpperCase();
  }

  function showLogin({ user, token, error } = {}) {
    ui.userChip.hidden = true;
    ui.app.hidden = true;
    ui.login.hidden = false;
    if (user) ui.loginForm.elements.user.value = user;
    if (token) ui.loginForm.elements.token.value = token;
    ui.loginError.hidden = !error;
    ui.loginError.textContent = error || '';
    ui.loginForm.elements.token.focus();
  }

  function clear() {
    items.clear();
    ui.list.replaceChildren();
    ui.toasts.replaceChildren();
    hideNotice();
  }

  function scrollTo(id) {
    const li = items.get(id)?.li;
    if (!li) return;
    li.scrollIntoView({ behavior: 'smooth', block: 'center' });
    flash(li);
  }

  /** Keeps "3 min ago" labels fresh. */
  function refreshTimes() {
    for (const { li, alert } of items.values()) if (alert) $('.detected', li).textContent = relativeTime(alert.detected_at);
  }

  return {
    ui,
    get filter() {
      return filter;
    },
    renderAlerts,
    renderCounts,
    renderStatus,
    renderQuality,
    showNotice,
    hideNotice,
    setFilter,
    showApp,
    showLogin,
    clear,
    scrollTo,
    refreshTimes,
  };
}
