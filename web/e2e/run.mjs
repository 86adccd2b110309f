// The end-to-end suites in real headless Chromium (Debian's, driven by playwright-core: no
// browser download) against the real alerthub server, started here on a free port:
//
//   cargo build && (cd web && npm ci && npm run test:e2e)
//   UPDATE_SCREENSHOTS=1 npm run test:e2e     # also rewrites docs/dashboard*.png
//   E2E_ONLY=tabs,layout npm run test:e2e     # some suites only
//
// Env: ALERTHUB_BIN (default <repo>/target/debug/alerthub), CHROMIUM (default /usr/bin/chromium),
//      E2E_KEEP=1 keeps the temp dir and prints server logs.
// Prints "N passed, N failed, N skipped" as its last line; exits non-zero when anything failed.

import fs from 'node:fs';
import { env, counts, log, BIN, CHROMIUM, tmpDir, freePort, startServer, launchBrowser, stopAllServers, serverLogs } from './harness.mjs';
import * as dashboard from './dashboard.e2e.mjs';
import * as layout from './layout.e2e.mjs';
import * as tabs from './tabs.e2e.mjs';
import * as legacy from './legacy-app.e2e.mjs';
import * as refresh from './refresh.e2e.mjs';
import * as push from './push.e2e.mjs';

const SUITES = { dashboard, layout, tabs, legacy, refresh, push };
const WATCHDOG_MS = 420_000;
let browser = null;

async function cleanup() {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  await stopAllServers();
  if (process.env.E2E_KEEP || counts.failed) for (const l of serverLogs()) log(l);
  if (!process.env.E2E_KEEP) fs.rmSync(tmpDir, { recursive: true, force: true });
}

function summary() {
  log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
}

const watchdog = setTimeout(async () => {
  log(`FAIL - watchdog: the run took longer than ${WATCHDOG_MS / 1000} s`);
  counts.failed++;
  await cleanup();
  summary();
  process.exit(1);
}, WATCHDOG_MS);

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

const t0 = Date.now();
try {
  if (!fs.existsSync(BIN)) throw new Error(`server binary not found at ${BIN} (run cargo build, or set ALERTHUB_BIN)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (apt-get install -y chromium)`);
  env.port = await freePort();
  env.base = `http://127.0.0.1:${env.port}`;
  env.server = await startServer(env.port, 'first');
  log(`# server ${BIN} on ${env.base}`);
  browser = await launchBrowser();
  const only = process.env.E2E_ONLY ? process.env.E2E_ONLY.split(',') : Object.keys(SUITES);
  for (const name of only) {
    const suite = SUITES[name];
    if (!suite) throw new Error(`unknown suite ${name} (have ${Object.keys(SUITES).join(', ')})`);
    const s0 = Date.now();
    log(`# suite ${name}`);
    await suite.run(browser);
    log(`# suite ${name} took ${((Date.now() - s0) / 1000).toFixed(1)} s`);
  }
} catch (err) {
  counts.failed++;
  log(`FAIL - setup: ${err && err.stack ? err.stack : err}`);
}
clearTimeout(watchdog);
await cleanup();
log(`# e2e took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
summary();
process.exit(counts.failed ? 1 : 0);
