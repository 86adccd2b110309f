// The keep-alive of one socket: a ping every interval (and one at once), the round trip of each
// pong as the connection quality, and "two pongs missed in a row" as a dead connection. Kept apart
// from the client so the client reads as the state machine it is; the host supplies the clock,
// the send function and what to do with a measurement or a dead socket.

import { qualityFromRtt } from './protocol.js';

export class Heartbeat {
  /**
   * @param {object} host
   * @param {(msg: object) => boolean} host.send
   * @param {(quality: string, rtt: number|null) => void} host.onQuality
   * @param {() => void} host.onDead
   * @param {() => number} host.now  monotonic ms
   * @param {Function} host.setTimeout
   * @param {Function} host.clearTimeout
   */
  constructor(host, { intervalMs, timeoutMs }) {
    this.host = host;
    this.intervalMs = intervalMs;
    this.timeoutMs = timeoutMs;
    this._pingTimer = null;
    this._pongTimer = null;
    this._pending = null;
    this._missed = 0;
    this._seq = 0;
  }

  start() {
    this.stop();
    this._missed = 0;
    this._ping();
    const tick = () => {
      this._pingTimer = this.host.setTimeout(() => {
        this._ping();
        tick();
      }, this.intervalMs);
    };
    tick();
  }

  stop() {
    if (this._pingTimer != null) this.host.clearTimeout(this._pingTimer);
    if (this._pongTimer != null) this.host.clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
    this._pending = null;
  }

  /** A `pong` frame arrived; only the answer to the last ping counts. */
  onPong(timestamp) {
    const p = this._pending;
    if (!p || Number(timestamp) !== p.ts) return;
    this._pending = null;
    if (this._pongTimer != null) this.host.clearTimeout(this._pongTimer);
    this._pongTimer = null;
    this._missed = 0;
    const rtt = Math.max(0, this.host.now() - p.sentAt);
    this.host.onQuality(qualityFromRtt(rtt), Math.round(rtt * 10) / 10);
  }

  _ping() {
    // A unique, increasing millisecond timestamp identifies the pong that answers it.
    const ts = Math.max(Date.now(), this._seq + 1);
    this._seq = ts;
    if (!this.host.send({ type: 'ping', timestamp: ts })) return;
    this._pending = { ts, sentAt: this.host.now() };
    if (this._pongTimer != null) this.host.clearTimeout(this._pongTimer);
    this._pongTimer = this.host.setTimeout(() => {
      this._pongTimer = null;
      if (!this._pending || this._pending.ts !== ts) return;
      this._pending = null;
      this._missed += 1;
      this.host.onQuality('poor', null);
      // Nothing came back twice in a row: the connection is dead even if the socket looks open.
      if (this._missed >= 2) this.host.onDead();
    }, this.timeoutMs);
  }
}
