// A TypeScript consumer of every export of @alerthub/client, checked with `tsc --noEmit`
// (npm run test:types). Imports go through the package name, so the `exports` map and the
// `types` conditions are what is checked, as an application would see them.

import AlertHubClientDefault, {
  AlertHubClient,
  ApiError,
  BoundedIdSet,
  RestClient,
  authorizationHeader,
  backoffDelay,
  bareToken,
  buildSocketUrl,
  canShareTabs,
  httpBase,
  isJwt,
  qualityFromRtt,
  rateLimitDelay,
  refreshDelay,
  CLOSE_AUTH,
  CLOSE_EXPIRED,
  CLOSE_RATE_LIMITED,
  PING_INTERVAL_MS,
  type Alert,
  type AlertHubClientOptions,
  type StatusDetail,
} from '@alerthub/client';
import useBreachWebSocketDefault, {
  useBreachWebSocket,
  createBreachWebSocketHook,
  readStoredToken,
  BreachAlertsDashboard,
  ConnectionStatusBadge,
  ConnectionHealthMonitor,
  alerthubStyles,
  injectStyles,
  type BreachWebSocketResult,
} from '@alerthub/client/react';
import * as Components from '@alerthub/client/components';
import { initialState, reduce, statusLabel, stats, visibleAlerts, type AlertsState } from '@alerthub/client/state';
import { useBreachWebSocket as legacyHook, createBreachWebSocketHook as legacyFactory } from '@alerthub/client/useBreachWebSocket';
import * as React from 'react';

// ---- the old front end's code, verbatim ----
function handleAlert(alert: Alert) {
  console.log(alert.title, alert.severity);
}
export function OldApp({ userId }: { userId: string }) {
  const { isConnected, connectionQuality, reconnect } = useBreachWebSocket(userId, handleAlert);
  return (
    <div>
      <span>{isConnected ? connectionQuality : 'offline'}</span>
      <button onClick={reconnect}>Reconnect</button>
      <BreachAlertsDashboard userId={userId} />
    </div>
  );
}

// ---- the plain client ----
const opts: AlertHubClientOptions = {
  userId: 1,
  token: 'x.y.z',
  getToken: async () => 'fresh',
  shareAcrossTabs: true,
  url: 'https://alerts.example',
};
const client = new AlertHubClient(opts);
const same: typeof AlertHubClient = AlertHubClientDefault;
client.addEventListener('alert', (e) => {
  const id: number = e.detail.alert.alert_id;
  const replayed: boolean = e.detail.replayed;
  void [id, replayed];
});
client.addEventListener('status', (e) => {
  const s: StatusDetail = e.detail;
  if (s.state === 'unauthenticated' || s.code === CLOSE_EXPIRED) console.log(s.reason);
});
const off = client.on('token', (d) => console.log(d.expires_at, d.refreshed, d.error));
off();
client.on('quality', (d) => console.log(d.quality, d.rtt));
client.connect().markRead(1);
client.markAllRead();
client.seed([{ alert_id: 3 }, 4]);
void client.getUnreadCount({ timeoutMs: 1000 }).then((n: number | null) => n);
const role: 'solo' | 'leader' | 'follower' = client.role;
const exp: string | null = client.expiresAt;
const sid: string | null = client.sessionId;
client.reconnect();
client.close('bye');
void [same, role, exp, sid];

const rest = new RestClient({ url: 'https://alerts.example', token: () => client.token });
void rest.listAlerts({ limit: 10, unread: true }).then((page) => page.alerts.map((a) => a.alert_id));
void rest.markRead(1).then((r) => r.alert.read);
void rest.markAllRead().then((r) => r.marked);
void rest.unreadCount().then((n) => n + 1);
const err = new ApiError('x');
const numbers: number[] = [
  backoffDelay(1),
  rateLimitDelay(),
  refreshDelay(60_000, { random: () => 0.5 }),
  CLOSE_AUTH,
  CLOSE_RATE_LIMITED,
  PING_INTERVAL_MS,
];
const strings: string[] = [authorizationHeader('t'), bareToken('Bearer t'), buildSocketUrl('http://h', '1', 't', 5), httpBase('ws://h/x'), qualityFromRtt(10)];
const flags: boolean[] = [isJwt('a.b.c'), canShareTabs(null, null), new BoundedIdSet(10).add(1)];
void [err.status, err.code, numbers, strings, flags];

// ---- React: hook options and results, components with their props ----
export function Full({ userId }: { userId: number }) {
  const r: BreachWebSocketResult = useBreachWebSocketDefault(userId, (alert, { replayed }) => console.log(alert.alert_id, replayed), {
    token: null,
    getToken: () => readStoredToken('jwt'),
    url: 'https://alerts.example',
    history: 20,
    maxAlerts: 100,
    shareAcrossTabs: false,
    onStatus: (s) => console.log(s.state),
    onToken: (t) => console.log(t.expires_at),
  });
  const unread: number | null = r.unreadCount;
  const alerts: ReadonlyArray<Alert> = r.alerts;
  r.markRead(alerts[0]?.alert_id ?? 1);
  r.markAllRead();
  void r.loadOlder();
  return (
    <>
      <ConnectionStatusBadge status={r.status} lastError={r.lastError} />
      <ConnectionStatusBadge status="open" />
      <ConnectionHealthMonitor {...r} />
      <Components.ConnectionHealthMonitor rtt={12} connectionQuality="good" reconnectCount={r.reconnectCount} lastError={null} />
      <Components.BreachAlertsDashboard userId={userId} token="t" history={10} title="Alerts" onAlert={(a) => console.log(a.title)} />
      <Components.default userId="2" />
      <span>{unread ?? '—'}</span>
    </>
  );
}
const bound = createBreachWebSocketHook(React);
const bound2 = legacyFactory(React);
void [bound, bound2, legacyHook, alerthubStyles.length, injectStyles];

// ---- the state module ----
let st: AlertsState = initialState({ maxAlerts: 10 });
st = reduce(st, { type: 'unread', count: 2 });
st = reduce(st, { type: 'status', state: 'open' });
const label: string = statusLabel(st.status);
const s = stats(st);
void [label, s.critical, visibleAlerts(st, 'unread').length];

// @ts-expect-error userId is required
export const Bad = <BreachAlertsDashboard />;
