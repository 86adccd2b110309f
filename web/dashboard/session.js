// Who the dashboard is signed in as: the user id and token from `/?user=1&token=…` (moved out of
// the address bar into sessionStorage at once), from the sign-in form, or from an earlier visit of
// this tab. Signing out forgets them. For a JWT without `user`, the id is read from the token's
// (unverified) `user_id` claim; the server checks the signature.

import { isJwt } from '../client/protocol.js';

const STORAGE_KEY = 'alerthub.session';

export function decodeJwtClaims(token) {
  try {
    const part = token.split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export function userFromToken(token) {
  if (!isJwt(token)) return null;
  const id = decodeJwtClaims(token)?.user_id;
  if (typeof id === 'number' && Number.isInteger(id)) return String(id);
  if (typeof id === 'string' && id) return id;
  return null;
}

export function validUserId(id) {
  return typeof id === 'string' && /^\w{1,64}$/.test(id);
}

/** `{ userId, token }` from the address bar or this tab's storage; token is null when unknown. */
export function readCredentials() {
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

export function saveSession(userId, token) {
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

/** Forgets the token of this tab and takes any credential out of the address bar. */
export function clearSession() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* ignore */
  }
  history.replaceState(null, '', location.pathname);
}
