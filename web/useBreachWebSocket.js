// useBreachWebSocket for code that hands React in itself — kept for backwards compatibility
// (alerthub 0.1's only way): this module never imports 'react', so it also loads unbundled from
// alerthub's /web/useBreachWebSocket.js. With a bundler, prefer the normal import:
//
//   import { useBreachWebSocket } from '@alerthub/client/react';
//
// Here, bind once, or pass React in the options (a page with a global `React` may omit it):
//
//   import * as React from 'react';
//   import { createBreachWebSocketHook } from '@alerthub/client/useBreachWebSocket';
//   export const useBreachWebSocket = createBreachWebSocketHook(React);
//   // or: useBreachWebSocket(userId, onAlert, { React, token })
//
// The hook itself (options, return value) is react/hook.js, documented in react/index.d.ts.

import { createBreachWebSocketHook } from './react/hook.js';

export { createBreachWebSocketHook, readStoredToken } from './react/hook.js';

const bound = new WeakMap();

/** `useBreachWebSocket(userId, onAlert, { React, token, ... })` — React from the options or a global. */
export function useBreachWebSocket(userId, onAlert, options = {}) {
  const React = options.React ?? globalThis.React;
  if (!React || typeof React.useEffect !== 'function') {
    throw new TypeError(
      'useBreachWebSocket: React not found. Pass { React } in the options, bind once with createBreachWebSocketHook(React), or import it from "@alerthub/client/react".',
    );
  }
  let hook = bound.get(React);
  if (!hook) {
    hook = createBreachWebSocketHook(React);
    bound.set(React, hook);
  }
  return hook(userId, onAlert, options);
}

export default useBreachWebSocket;
