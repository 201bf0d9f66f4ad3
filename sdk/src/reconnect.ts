/**
 * Reconnection as a policy (the shape of livekit's `ReconnectPolicy`, with JsSIP's backoff
 * bounds): given the attempt number and the time since the connection dropped, the delay before
 * the next attempt — or `undefined` to give up.
 */

/** What a policy decides from. */
export interface ReconnectContext {
  /** 1 for the first attempt after the drop. */
  attempt: number;
  /** Milliseconds since the connection dropped. */
  elapsedMs: number;
}

/** Decides when to try reconnecting again. */
export interface ReconnectPolicy {
  /** Delay in ms before attempt `ctx.attempt`, or `undefined` to stop trying. */
  nextDelayMs(ctx: ReconnectContext): number | undefined;
}

/** Options of {@link ExponentialBackoff}. */
export interface BackoffOptions {
  /** Delay before the first attempt (default 500 ms). */
  initialDelayMs?: number;
  /**
   * Longest delay between attempts (default 4 s: an agent is back at most ~4 s after the network
   * is — a Wi-Fi drop of 5 s costs ~5–9 s, well inside the gateway's reconnect grace).
   */
  maxDelayMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Randomness 0–1 (default 0.5): each delay is drawn from `[d·(1−jitter), d]`, so a gateway
   * restart does not bring every agent back in the same millisecond.
   */
  jitter?: number;
  /** Give up after this long without a connection (default 5 minutes). */
  maxElapsedMs?: number;
  /** Give up after this many attempts (default unlimited). */
  maxAttempts?: number;
}

/** Jittered exponential backoff: 0.5 s, 1 s, 2 s, then every 4 s (each less up to half, at random), for up to 5 minutes. */
export class ExponentialBackoff implements ReconnectPolicy {
  private readonly o: Required<BackoffOptions>;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.o = {
      initialDelayMs: options.initialDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 4_000,
      factor: options.factor ?? 2,
      jitter: Math.min(1, Math.max(0, options.jitter ?? 0.5)),
      maxElapsedMs: options.maxElapsedMs ?? 300_000,
      maxAttempts: options.maxAttempts ?? Number.POSITIVE_INFINITY,
    };
  }

  nextDelayMs({ attempt, elapsedMs }: ReconnectContext): number | undefined {
    if (attempt > this.o.maxAttempts || elapsedMs >= this.o.maxElapsedMs) return undefined;
    const base = Math.min(this.o.maxDelayMs, this.o.initialDelayMs * Math.pow(this.o.factor, Math.max(0, attempt - 1)));
    return Math.round(base * (1 - this.o.jitter * this.random()));
  }
}
