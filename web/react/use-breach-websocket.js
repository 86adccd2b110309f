// The hook bound to the application's React, imported the normal way: this is the
// `useBreachWebSocket` of `@alerthub/client/react` (and of the old `@hooks/useBreachWebSocket`).

import * as React from 'react';
import { createBreachWebSocketHook } from './hook.js';

export const useBreachWebSocket = createBreachWebSocketHook(React);
export default useBreachWebSocket;
