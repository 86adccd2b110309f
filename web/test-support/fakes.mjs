// Test doubles for the unit tests only (web/test/): a manual clock and a scripted WebSocket.

export class FakeClock {
  constructor() {
    this.t = 0;
    this.seq = 0;
    this.timers = new Map();
    this.setTimeout = (fn, ms) => {
      const id = ++this.seq;
      this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
    this.now = () => this.t;
  }

  /** Runs every timer due within `ms`, in time order, advancing the clock. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) {
        if (tm.at <= end && (next === null || tm.at < next[1].at || (tm.at === next[1].at && id < next[0]))) {
          next = [id, tm];
        }
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  get pending() {
    return this.timers.size;
  }
}

export function makeFakeWebSocket() {
  class FakeWebSocket {
    static instances = [];
    static get last() {
      return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    }

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      FakeWebSocket.instances.push(this);
    }

    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.sent.push(JSON.parse(data));
    }

    close(code = 1000, reason = '') {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    // ---- driven by the test, as the server would ----
    serverOpen() {
      this.readyState = 1;
      this.onopen?.({});
    }

    serverSend(obj) {
      this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
    }

    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason, wasClean: code !== 1006 });
    }

    /** Opens and sends connection_established, as an accepted session starts. */
    establish(userId = '1') {
      this.serverOpen();
      this.serverSend({
        type: 'connection_established',
        message: 'Connected to ML-powered breach alert system',
        user_id: userId,
        timestamp: '2025-11-25T12:00:00Z',
      });
    }

    sentOfType(type) {
      return this.sent.filter((m) => m.type === type);
    }
  }
  return FakeWebSocket;
}

export function alertFrame(id, extra = {}) {
  return {
    type: 'breach_alert',
    message: {
      alert_id: id,
      breach_id: `BREACH_${id}`,
      title: `Alert ${id}`,
      severity: 'HIGH',
      confidence: 0.9,
      detected_at: '2025-11-25T12:00:00Z',
      description: null,
      read: false,
      ...extra,
    },
    timestamp: '2025-11-25T12:00:00Z',
  };
}

/** Collects the `detail` of every event of the given types. */
export function record(target, ...types) {
  const log = Object.fromEntries(types.map((t) => [t, []]));
  for (const t of types) target.addEventListener(t, (e) => log[t].push(e.detail));
  return log;
}

/**
 * A tiny stand-in for React's hook runtime (one component, synchronous re-renders), enough to
 * drive a custom hook in Node: useState, useRef, useEffect (deps + cleanup), useCallback.
 */
export function createFakeReact() {
  const slots = [];
  let cursor = 0;
  let pendingEffects = [];
  let dirty = false;
  let renderFn = null;
  let result;

  const depsChanged = (a, b) => !a || !b || a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]));

  const React = {
    useState(init) {
      const i = cursor++;
      if (!(i in slots)) slots[i] = { value: typeof init === 'function' ? init() : init };
      const slot = slots[i];
      slot.set ??= (v) => {
        const next = typeof v === 'function' ? v(slot.value) : v;
        if (!Object.is(next, slot.value)) {
          slot.value = next;
          dirty = true;
        }
      };
      return [slot.value, slot.set];
    },
    useRef(init) {
      const i = cursor++;
      if (!(i in slots)) slots[i] = { current: init };
      return slots[i];
    },
    useCallback(fn, deps) {
      const i = cursor++;
      if (!(i in slots) || depsChanged(slots[i].deps, deps)) slots[i] = { fn, deps };
      return slots[i].fn;
    },
    useEffect(fn, deps) {
      const i = cursor++;
      const prev = slots[i];
      if (!prev || depsChanged(prev.deps, deps)) {
        const slot = { deps, cleanup: prev?.cleanup };
        slots[i] = slot;
        pendingEffects.push(() => {
          if (typeof slot.cleanup === 'function') slot.cleanup();
          const c = fn();
          slot.cleanup = c;
        });
      }
    },
  };

  function renderOnce() {
    cursor = 0;
    dirty = false;
    result = renderFn();
    const effects = pendingEffects;
    pendingEffects = [];
    for (const e of effects) e();
  }

  return {
    React,
    /** Mounts `fn` (a function calling the hook) and returns a handle. */
    mount(fn) {
      renderFn = fn;
      renderOnce();
      return this;
    },
    /** Runs `fn` (e.g. server frames) and re-renders until state settles. */
    act(fn = () => {}) {
      fn();
      for (let n = 0; dirty && n < 50; n++) renderOnce();
      return result;
    },
    rerender(fn) {
      if (fn) renderFn = fn;
      renderOnce();
      return this.act();
    },
    get result() {
      return result;
    },
    unmount() {
      for (const s of slots) if (s && typeof s.cleanup === 'function') s.cleanup();
    },
  };
}
