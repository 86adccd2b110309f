// Types of `@alerthub/client/components`.
import type * as React from 'react';
import type { StatusDetail, TokenSource } from '../alerthub-client';
import type { OnAlert } from './index';

export interface ConnectionStatusBadgeProps {
  /** the hook's `status`, or just a state name */
  status?: Partial<StatusDetail> | StatusDetail['state'] | null;
  isConnected?: boolean;
  lastError?: string | null;
  className?: string;
}
export function ConnectionStatusBadge(props: ConnectionStatusBadgeProps): React.ReactElement;

export interface ConnectionHealthMonitorProps {
  rtt?: number | null;
  connectionQuality?: string | null;
  reconnectCount?: number;
  lastError?: string | null;
  status?: Partial<StatusDetail> | StatusDetail['state'] | null;
  isConnected?: boolean;
  className?: string;
}
export function ConnectionHealthMonitor(props: ConnectionHealthMonitorProps): React.ReactElement;

export interface BreachAlertsDashboardProps {
  userId: string | number;
  token?: string | null;
  getToken?: TokenSource;
  url?: string;
  onAlert?: OnAlert;
  title?: string;
  /** newest alerts loaded over REST first (default 50) */
  history?: number;
  maxToasts?: number;
  toastMs?: number;
  shareAcrossTabs?: boolean;
  className?: string;
}
export function BreachAlertsDashboard(props: BreachAlertsDashboardProps): React.ReactElement;
export default BreachAlertsDashboard;
