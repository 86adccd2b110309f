// The "new alert" toasts of the dashboard: one per live alert, newest first, at most a few,
// each gone after 5 s or when dismissed; clicking one scrolls to its alert. They live in a strip
// of the sticky header (see dashboard.css), so they push the page down instead of lying over
// its buttons, and stay in view while the list scrolls.

import { formatConfidence, severityOf } from '../alerts-state.js';

export const TOAST_MS = 5000;
const MAX_TOASTS = 3;

const ICON =
  '<svg viewBox="0 0 24 24"><path d="M12 3 2 20h20L12 3z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/><path d="M12 10v4.5M12 17.3v.1" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"/></svg>';

/**
 * @param {HTMLElement} container
 * @param {object} alert
 * @param {(id: number) => void} onOpen  called when the toast itself is clicked
 */
export function showToast(container, alert, onOpen) {
  const sev = severityOf(alert);
  const el = document.createElement('div');
  el.className = `toast sev-${sev.toLowerCase()}`;
  el.dataset.testid = 'toast';
  el.dataset.alertId = String(alert.alert_id);
  el.innerHTML = `
    <span class="toast-icon" aria-hidden="true">${ICON}</span>
    <div class="toast-body">
      <div class="toast-head"><span class="sev-pill"></span><span class="toast-kicker">New alert</span></div>
      <div class="toast-title"></div>
      <div class="toast-meta"></div>
    </div>
    <button class="toast-close" type="button" aria-label="Dismiss">&times;</button>
    <span class="toast-timer" aria-hidden="true"></span>`;
  el.querySelector('.sev-pill').textContent = sev;
  el.querySelector('.toast-title').textContent = alert.title || 'Untitled alert';
  el.querySelector('.toast-meta').textContent = `${alert.breach_id || ''} · ${formatConfidence(alert.confidence)} confidence`;
  el.querySelector('.toast-timer').style.animationDuration = `${TOAST_MS}ms`;
  const dismiss = () => {
    if (el.classList.contains('is-leaving')) return;
    el.classList.add('is-leaving');
    setTimeout(() => el.remove(), 220);
  };
  const timer = setTimeout(dismiss, TOAST_MS);
  el.querySelector('.toast-close').addEventListener('click', (e) => {
    e.stopPropagation();
    clearTimeout(timer);
    dismiss();
  });
  el.addEventListener('click', () => onOpen(Number(alert.alert_id)));
  container.prepend(el);
  while (container.children.length > MAX_TOASTS) container.lastElementChild.remove();
}
