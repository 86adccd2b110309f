// Types of `@alerthub/client/state`: the feed as data, and the pure reducer over client events.
import type { Alert, ConnectionQuality, StatusDetail } from './alerthub-client';

export const SEVERITIES: ReadonlyArray<'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'>;

export interface AlertsState {
  /** newest first */
  readonly alerts: ReadonlyArray<Alert>;
  readonly unread: number | null;
  readonly status: StatusDetail;
  readonly quality: ConnectionQuality | null;
  readonly rtt: number | null;
  readonly nextBefore: number | null;
  readonly truncated: boolean;
  readonly pending: ReadonlyArray<number>;
  readonly lastError: string | null;
  readonly sessions: number;
  readonly reconnects: number;
  readonly maxAlerts: number;
}

export type AlertsEvent =
  | { type: 'alert'; alert: Alert; replayed?: boolean }
  | { type: 'history'; alerts: ReadonlyArray<Alert>; next_before?: number | null; unread?: number }
  | { type: 'update' | 'read'; alert_id?: number | null; update_type?: string; timestamp?: string }
  | { type: 'unread'; count: number }
  | ({ type: 'status' } & Partial<StatusDetail>)
  | { type: 'quality'; quality: ConnectionQuality | null; rtt: number | null }
  | { type: 'error'; code: string; message: string }
  | { type: 'replay_truncated'; oldest_alert_id: number }
  | { type: 'mark_pending'; alert_id: number }
  | { type: 'mark_failed'; alert_id: number | null; message?: string }
  | { type: 'reset' };

export function initialState(options?: { maxAlerts?: number }): AlertsState;
export function reduce(state: AlertsState, event: AlertsEvent): AlertsState;
export function alertId(alert: Partial<Alert> | null | undefined): number | null;
export function severityOf(alert: Partial<Alert> | null | undefined): 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export function confidencePercent(confidence: unknown): number | null;
export function formatConfidence(confidence: unknown): string;
export function relativeTime(iso: string | null | undefined, now?: number): string;
export function stats(state: Pick<AlertsState, 'alerts'>): { critical: number; high: number; unreadLoaded: number; total: number; newest: Alert | null };
export function visibleAlerts(state: Pick<AlertsState, 'alerts'>, filter?: 'all' | 'unread'): ReadonlyArray<Alert>;
export function isPending(state: Pick<AlertsState, 'pending'>, id: number | string): boolean;
export function statusLabel(status: Partial<StatusDetail> | null | undefined, now?: number): string;
