/**
 * Time source for every timer in the gateway. Protocol code (SIP transactions, registrar
 * expiry, nonce lifetime) takes a `Clock` so tests can drive time without sleeping.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences are meaningful. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** The real clock: `performance.now()` and Node timers (unref'd so they never hold the process). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};

/**
 * Time since the epoch in ms, advancing with `clock` (so a fake clock drives it in tests, and it
 * never jumps with wall-clock adjustments). For timestamps people read and records keep;
 * `clock.now()` itself may count from any origin (the system clock's is the process start).
 */
export function epochTime(clock: Clock): () => number {
  const offset = Date.now() - clock.now();
  return () => Math.round(clock.now() + offset);
}

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A manually advanced clock for tests: timers fire only inside {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  /** Binary min-heap on (at, seq): tens of thousands of timers advance in O(n log n). */
  private heap: FakeTimer[] = [];
  private live = 0;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    this.live++;
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const t = handle as FakeTimer;
    if (!t.cancelled) {
      t.cancelled = true;
      this.live--;
    }
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    return this.live;
  }

  /** Moves time forward by `ms`, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.heap[0];
      if (!next || next.at > end) break;
      this.pop();
      if (next.cancelled) continue;
      next.cancelled = true;
      this.live--;
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }

  private static before(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: FakeTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!FakeClock.before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (!h.length) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && FakeClock.before(h[l]!, h[m]!)) m = l;
      if (r < h.length && FakeClock.before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
