// Types of `@alerthub/client/useBreachWebSocket` (the factory module kept for backwards compatibility).
import type { BreachWebSocketOptions, BreachWebSocketResult, OnAlert } from './react/index';

export { createBreachWebSocketHook, readStoredToken } from './react/index';
/** React comes from `options.React` or a global `React`. */
export function useBreachWebSocket(userId: string | number | null | undefined, onAlert?: OnAlert | null, options?: BreachWebSocketOptions): BreachWebSocketResult;
export default useBreachWebSocket;
