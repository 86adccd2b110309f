// Types of `@alerthub/client/react`: the hook and the components.
import type * as React from 'react';
import type { Alert, AlertHubClient, ConnectionState, StatusDetail, TokenDetail, TokenSource, UpdateDetail, ErrorDetail, ReplayTruncatedDetail } from '../alerthub-client';

export interface BreachWebSocketOptions {
  /** default: `localStorage.getItem('token')`, read again whenever a token is needed */
  token?: string | null;
  /** a fresh token before the current one expires and after a 4001 close (default with no `token`: localStorage) */
  getToken?: TokenSource;
  /** alerthub's base URL; default: the page's origin */
  url?: string;
  enabled?: boolean;
  /** one socket for all tabs of the browser (default true) */
  shareAcrossTabs?: boolean;
  /** localStorage key of the token (default 'token') */
  tokenStorageKey?: string;
  /** load this many newest alerts over REST before connecting (default 0) */
  history?: number;
  /** at most this many alerts kept in `alerts` (default 200) */
  maxAlerts?: number;
  pingIntervalMs?: number;
  WebSocketImpl?: typeof WebSocket;
  fetch?: typeof fetch;
  onUpdate?: (update: UpdateDetail) => void;
  onUnread?: (count: number) => void;
  onStatus?: (status: StatusDetail) => void;
  onError?: (error: ErrorDetail) => void;
  onReplayTruncated?: (detail: ReplayTruncatedDetail) => void;
  onToken?: (detail: TokenDetail) => void;
  /** only for the legacy `useBreachWebSocket` of `@alerthub/client/useBreachWebSocket` */
  React?: unknown;
}

export type ConnectionQualityLabel = 'good' | 'fair' | 'poor' | 'unknown' | 'disconnected';

export interface BreachWebSocketResult {
  isConnected: boolean;
  /** 'good' | 'fair' | 'poor' from the ping round trip; 'unknown' before the first pong; 'disconnected' */
  connectionQuality: ConnectionQualityLabel;
  reconnect: () => void;
  rtt: number | null;
  status: StatusDetail;
  /** `status.state`: 'unauthenticated' when there is no token (see `lastError` for why) */
  state: ConnectionState;
  lastError: string | null;
  unreadCount: number | null;
  /** newest first */
  alerts: ReadonlyArray<Alert>;
  /** alert ids whose mark-read awaits the server */
  pending: ReadonlyArray<number>;
  hasOlder: boolean;
  /** true when sent (over the socket, or over REST while disconnected) */
  markRead: (alertId: number | string) => boolean;
  markAllRead: () => boolean;
  loadOlder: () => Promise<boolean>;
  reconnectCount: number;
  sessionId: string | null;
  expiresAt: string | null;
  role: 'solo' | 'leader' | 'follower' | null;
  client: AlertHubClient | null;
}

export type OnAlert = (alert: Alert, meta: { replayed: boolean }) => void;

export function useBreachWebSocket(userId: string | number | null | undefined, onAlert?: OnAlert | null, options?: BreachWebSocketOptions): BreachWebSocketResult;
export default useBreachWebSocket;

export interface ReactLike {
  useState: unknown;
  useRef: unknown;
  useEffect: unknown;
  useCallback: unknown;
}
export function createBreachWebSocketHook(React: ReactLike): typeof useBreachWebSocket;
export function readStoredToken(key?: string): string | null;

export {
  BreachAlertsDashboard,
  ConnectionStatusBadge,
  ConnectionHealthMonitor,
  BreachAlertsDashboardProps,
  ConnectionStatusBadgeProps,
  ConnectionHealthMonitorProps,
} from './components';

export const alerthubStyles: string;
export function injectStyles(doc?: Document): void;
