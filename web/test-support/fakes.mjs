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

/** Lets queued microtasks and promise chains (lock grants, channel messages, getToken) run. */
export async function flush(rounds = 3) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/**
 * An in-memory stand-in for the Web Locks API (`navigator.locks`): exclusive locks granted in
 * request order, `signal` aborts a queued request, and `tab(id)` gives each simulated tab its own
 * view so that `kill(tabId)` can release what a closed tab held, as a browser does.
 */
export class FakeLocks {
  constructor() {
    this.holders = new Map(); // name -> entry
    this.queues = new Map(); // name -> entry[]
  }

  request(name, opts, cb, owner = null) {
    if (typeof opts === 'function') {
      cb = opts;
      opts = {};
    }
    return new Promise((resolve, reject) => {
      const entry = { name, cb, resolve, reject, owner, done: false };
      const signal = opts?.signal;
      if (signal?.aborted) {
        reject(new DOMException('The request was aborted.', 'AbortError'));
        return;
      }
      signal?.addEventListener('abort', () => {
        const q = this.queues.get(name) ?? [];
        const i = q.indexOf(entry);
        if (i >= 0) {
          q.splice(i, 1);
          reject(new DOMException('The request was aborted.', 'AbortError'));
        }
      });
      if (!this.queues.has(name)) this.queues.set(name, []);
      this.queues.get(name).push(entry);
      this._grant(name);
    });
  }

  _grant(name) {
    if (this.holders.has(name)) return;
    const next = this.queues.get(name)?.shift();
    if (!next) return;
    this.holders.set(name, next);
    Promise.resolve()
      .then(() => next.cb({ name, mode: 'exclusive' }))
      .then(
        (v) => this._release(next, () => next.resolve(v)),
        (e) => this._release(next, () => next.reject(e)),
      );
  }

  _release(entry, settle) {
    if (entry.done) return;
    entry.done = true;
    if (this.holders.get(entry.name) === entry) this.holders.delete(entry.name);
    settle();
    this._grant(entry.name);
  }

  /** The `navigator.locks` of one tab. */
  tab(owner) {
    return { request: (name, opts, cb) => this.request(name, opts, cb, owner) };
  }

  /** A tab went away: its held locks are released and its queued requests dropped. */
  kill(owner) {
    for (const q of this.queues.values()) {
      for (let i = q.length - 1; i >= 0; i--) if (q[i].owner === owner) q.splice(i, 1);
    }
    for (const entry of [...this.holders.values()]) if (entry.owner === owner) this._release(entry, () => entry.resolve());
  }

  holderOf(name) {
    return this.holders.get(name)?.owner ?? null;
  }
}

/**
 * An in-memory BroadcastChannel: messages are structured-cloned and delivered asynchronously to
 * every other open channel of the same name, in order. `forTab(id)` / `kill(id)` as for FakeLocks.
 */
export function makeBroadcastBus() {
  const open = new Set();
  const log = [];
  function classFor(owner) {
    return class FakeBroadcastChannel {
      constructor(name) {
        this.name = name;
        this.owner = owner;
        this.onmessage = null;
        this.closed = false;
        open.add(this);
      }

      postMessage(data) {
        if (this.closed) throw new DOMException('channel closed', 'InvalidStateError');
        const copy = structuredClone(data);
        log.push({ from: owner, data: copy });
        for (const ch of open) {
          if (ch === this || ch.name !== this.name) continue;
          queueMicrotask(() => {
            if (!ch.closed) ch.onmessage?.({ data: copy });
          });
        }
      }

      close() {
        this.closed = true;
        open.delete(this);
      }
    };
  }
  return {
    log,
    forTab: classFor,
    kill(owner) {
      for (const ch of [...open]) if (ch.owner === owner) ch.close();
    },
  };
}
