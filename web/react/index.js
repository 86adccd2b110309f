// `@alerthub/client/react`: the hook and the components for React apps, with React imported
// normally (a peer dependency). The old front end's `@hooks/useBreachWebSocket` and
// `@components/security/components/BreachAlertsDashboard` alias straight to this package.

export { useBreachWebSocket, default } from './use-breach-websocket.js';
export { createBreachWebSocketHook, readStoredToken } from './hook.js';
export { BreachAlertsDashboard, ConnectionStatusBadge, ConnectionHealthMonitor } from './components.js';
export { alerthubStyles, injectStyles } from './styles.js';
