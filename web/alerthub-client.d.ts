// Types of `@alerthub/client` (the plain browser client, no React). Wire contract: docs/protocol.md.

export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

/** A stored alert, as in `breach_alert.message` and the REST API. */
export interface Alert {
  alert_id: number;
  breach_id: string;
  title: string;
  severity: Severity | string;
  confidence: number;
  detected_at: string;
  description: string | null;
  read: boolean;
  source?: string | null;
  created_at?: string;
  /** true on alerts sent by a `since` replay */
  replayed?: boolean;
  [field: string]: unknown;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped' | 'unauthenticated';
export type ConnectionQuality = 'good' | 'fair' | 'poor';

export interface StatusDetail {
  state: ConnectionState;
  /** why: the server's close reason ('authentication failed', 'token expired', …), 'no token…', … */
  reason: string | null;
  /** the close code that caused it (4001, 4003, 4029, 1006, …) */
  code: number | null;
  attempt: number;
  /** ms until the next attempt, while reconnecting */
  delay: number | null;
  /** epoch ms of the next attempt, while reconnecting */
  retryAt: number | null;
}

export interface AlertDetail {
  alert: Alert;
  replayed: boolean;
  timestamp: string | null;
}
export interface UpdateDetail {
  alert_id: number | null;
  update_type: 'marked_read' | 'marked_all_read' | string;
  timestamp: string;
}
export interface UnreadDetail {
  count: number;
}
export interface QualityDetail {
  quality: ConnectionQuality;
  /** round trip in ms; null when the last pong was missed */
  rtt: number | null;
}
export interface ErrorDetail {
  /** `invalid_json`, `invalid_message`, `unknown_type`, `not_found`, `rate_limited`, `unavailable`, `invalid_token` */
  code: string;
  message: string;
}
export interface ReplayTruncatedDetail {
  oldest_alert_id: number;
}
export interface SubscribedDetail {
  user_id: string;
  timestamp: string;
}
/** After an in-band refresh (`refreshed`), or a failed try (`error`). */
export interface TokenDetail {
  refreshed: boolean;
  expires_at: string | null;
  error: string | null;
}

export interface AlertHubClientEventMap {
  alert: CustomEvent<AlertDetail>;
  update: CustomEvent<UpdateDetail>;
  unread: CustomEvent<UnreadDetail>;
  status: CustomEvent<StatusDetail>;
  quality: CustomEvent<QualityDetail>;
  error: CustomEvent<ErrorDetail>;
  replay_truncated: CustomEvent<ReplayTruncatedDetail>;
  subscribed: CustomEvent<SubscribedDetail>;
  token: CustomEvent<TokenDetail>;
  /** every server frame, parsed */
  message: CustomEvent<Record<string, unknown> & { type: string }>;
}

/** A token, or a promise of one; null/empty means "none". */
export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface AlertHubClientOptions {
  userId: string | number;
  /** a JWT (access token) or an opaque alerthub token; optional when `getToken` is given */
  token?: string | null;
  /**
   * Called before the token expires (30–60 s ahead, or at 80–90 % of a short lifetime) to refresh
   * it in band, after a 4001 close to reconnect, and at connect when there is no token.
   */
  getToken?: TokenSource;
  /** refresh before `expires_at` (default true); false: only after 4001 */
  refreshInBand?: boolean;
  /** alerthub's base URL, http(s) or ws(s); default: the page's origin */
  url?: string;
  /** one socket for all tabs of this browser (Web Locks + BroadcastChannel); default false here */
  shareAcrossTabs?: boolean;
  /** resume after this alert id on the first connect */
  since?: number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  dedupeCapacity?: number;
  WebSocketImpl?: typeof WebSocket;
  fetch?: typeof fetch | null;
  locks?: LockManager | null;
  BroadcastChannel?: typeof BroadcastChannel | null;
  random?: () => number;
  now?: () => number;
  wallNow?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: unknown) => void;
}

export class AlertHubClient extends EventTarget {
  constructor(options: AlertHubClientOptions);
  readonly url: string;
  readonly userId: string;
  token: string | null;
  getToken: TokenSource | null;
  readonly state: ConnectionState;
  readonly status: StatusDetail;
  readonly attempt: number;
  readonly isConnected: boolean;
  /** the newest alert id seen: the `since` of the next connection */
  lastAlertId: number | null;
  readonly unreadCount: number | null;
  readonly quality: ConnectionQuality | null;
  readonly rtt: number | null;
  readonly lastClose: { code: number; reason: string } | null;
  readonly lastError: string | null;
  /** from `connection_established` (contract §5) */
  readonly sessionId: string | null;
  readonly expiresAt: string | null;
  /** tabs share one socket (option on and the browser supports it) */
  readonly sharing: boolean;
  readonly role: 'solo' | 'leader' | 'follower';
  readonly socketUrl: string;

  connect(): this;
  close(reason?: string): void;
  reconnect(): this;
  markRead(alertId: number | string): boolean;
  markAllRead(): boolean;
  getUnreadCount(options?: { timeoutMs?: number }): Promise<number | null>;
  /** Web Push (contract §6): asks for permission, registers the service worker, subscribes. */
  enablePush(options?: PushOptions): Promise<PushSubscriptionInfo>;
  /** Removes this browser's subscription on the server and in the browser; false if none. */
  disablePush(options?: { scope?: string }): Promise<boolean>;
  seed(alerts: ReadonlyArray<Pick<Alert, 'alert_id'> | number>): void;
  send(message: Record<string, unknown>): boolean;
  on<K extends keyof AlertHubClientEventMap>(type: K, fn: (detail: AlertHubClientEventMap[K]['detail'], event: AlertHubClientEventMap[K]) => void): () => void;

  addEventListener<K extends keyof AlertHubClientEventMap>(
    type: K,
    listener: (this: AlertHubClient, ev: AlertHubClientEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof AlertHubClientEventMap>(
    type: K,
    listener: (this: AlertHubClient, ev: AlertHubClientEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}
export default AlertHubClient;

// ---- REST (contract §2, the user's own alerts) ----

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly details: unknown;
}

export interface AlertPage {
  alerts: Alert[];
  next_before: number | null;
  unread_count?: number;
}

export class RestClient {
  constructor(options: { url?: string; token: string | (() => string | null); fetch?: typeof fetch });
  readonly base: string;
  request<T = unknown>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
  listAlerts(query?: { limit?: number; before?: number; unread?: boolean }): Promise<AlertPage>;
  unreadCount(): Promise<number>;
  markRead(alertId: number | string): Promise<{ alert: Alert }>;
  markAllRead(): Promise<{ marked: number }>;
  vapidPublicKey(): Promise<{ public_key: string }>;
  subscribePush(subscription: PushSubscriptionJSON): Promise<{ subscription: PushSubscriptionInfo }>;
  listPushSubscriptions(): Promise<{ subscriptions: PushSubscriptionInfo[] }>;
  deletePushSubscription(id: number | string): Promise<null>;
}

// ---- Web Push (contract §6) ----

/** A subscription as the server shows it (never its keys). */
export interface PushSubscriptionInfo {
  id: number;
  endpoint: string;
  created_at: string;
}

export interface PushOptions {
  /** Default `/sw.js` (served by alerthub). */
  serviceWorkerUrl?: string;
  /** Default `/`. */
  scope?: string;
}

/** Whether this browser can receive Web Push at all. */
export function pushSupported(): boolean;
/** Whether this browser is subscribed now (no permission prompt). */
export function pushEnabled(options?: { scope?: string }): Promise<boolean>;

// ---- helpers and constants ----

export const BACKOFF_BASE_MS: number;
export const BACKOFF_CAP_MS: number;
export const RATE_LIMIT_DELAY_MS: number;
export const PING_INTERVAL_MS: number;
export const PONG_TIMEOUT_MS: number;
export const DEDUPE_CAPACITY: number;
export const QUALITY_GOOD_MS: number;
export const QUALITY_FAIR_MS: number;
export const CLOSE_EXPIRED: 4001;
export const CLOSE_AUTH: 4003;
export const CLOSE_RATE_LIMITED: 4029;
export const REFRESH_LEAD_MIN_MS: number;
export const REFRESH_LEAD_MAX_MS: number;
export const REFRESH_SHORT_LIFETIME_MS: number;

export function backoffDelay(attempt: number, options?: { base?: number; cap?: number; random?: () => number }): number;
export function rateLimitDelay(options?: { min?: number; random?: () => number }): number;
export function refreshDelay(remainingMs: number, options?: { random?: () => number }): number;
export function qualityFromRtt(rtt: number | null | undefined): ConnectionQuality;
export function isJwt(token: unknown): boolean;
export function bareToken(token: string | null | undefined): string;
export function authorizationHeader(token: string | null | undefined): string;
export function buildSocketUrl(base: string, userId: string | number, token?: string | null, since?: number | null): string;
export function httpBase(base: string): string;
export function clamp01(x: unknown): number;
export function canShareTabs(locks: unknown, broadcastChannel: unknown): boolean;

export class BoundedIdSet {
  constructor(capacity?: number);
  readonly capacity: number;
  readonly size: number;
  has(id: number | string): boolean;
  add(id: number | string): boolean;
  clear(): void;
}
