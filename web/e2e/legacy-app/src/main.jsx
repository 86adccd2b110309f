// Mounts the legacy App for the user named in the address (`/?user=41`).
import React from 'react';
import { createRoot } from 'react-dom/client';
import App from './App.jsx';

const userId = new URLSearchParams(window.location.search).get('user') || '1';
createRoot(document.getElementById('root')).render(<App userId={userId} />);
