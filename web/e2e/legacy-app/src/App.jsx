// The old Django Channels front end's usage, as its setup guide wrote it. The import lines, the
// hook call and the component element are VERBATIM from that guide (the e2e test checks that);
// the bundler aliases both import paths to @alerthub/client (e2e/legacy-app.e2e.mjs).
import React, { useState, useCallback } from 'react';
import { useBreachWebSocket } from '@hooks/useBreachWebSocket';
import { BreachAlertsDashboard } from '@components/security/components/BreachAlertsDashboard';

export default function App({ userId }) {
  const [received, setReceived] = useState([]);
  const handleAlert = useCallback((alert) => {
    setReceived((list) => [...list, alert]);
  }, []);

  const { isConnected, connectionQuality, reconnect } = useBreachWebSocket(userId, handleAlert);

  return (
    <div className="legacy-app">
      <header>
        <h1>Account security</h1>
        <p data-testid="legacy-status" data-connected={String(isConnected)}>
          {isConnected ? 'Connected' : 'Disconnected'} ({connectionQuality})
        </p>
        <button type="button" data-testid="legacy-reconnect" onClick={reconnect}>
          Reconnect
        </button>
      </header>
      <section aria-label="Alerts seen by handleAlert">
        <ul data-testid="legacy-received">
          {received.map((a) => (
            <li key={a.alert_id} data-alert-id={a.alert_id}>
              {a.title}
            </li>
          ))}
        </ul>
      </section>
      <BreachAlertsDashboard userId={userId} />
    </div>
  );
}
