/**
 * SIP session timers (RFC 4028): a dialog whose far end vanished without a BYE is noticed and
 * ended. One side — the refresher — sends a session refresh (UPDATE, or re-INVITE when the peer
 * does not allow UPDATE) every half interval (§10); the other ends the session with a BYE when
 * no refresh came in time: at the interval minus min(32 s, interval/3) (§10).
 *
 * Negotiation helpers are here too: what goes into our requests (§7.1), how a received
 * Session-Expires is answered (§9: 422 below our Min-SE, the refresher chosen when absent), and
 * what a 2xx tells a UAC (§7.2). Deliberate deviation: Min-SE is configurable below the RFC's 90 s
 * floor so tests can run in seconds; the default is 90.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { SipMessage } from './message.js';

/** Session-timer settings. */
export interface SessionTimerConfig {
  /** Interval we ask for (Session-Expires), seconds. */
  expires: number;
  /** Shortest interval we accept (Min-SE), seconds. */
  minSE: number;
}

/** A parsed Session-Expires header (§4). */
export interface SessionExpires {
  interval: number;
  refresher?: 'uac' | 'uas';
}

/** Parses `Session-Expires: 1800;refresher=uac` (also the compact form `x`). */
export function parseSessionExpires(msg: SipMessage): SessionExpires | undefined {
  const v = msg.get('session-expires') ?? msg.get('x');
  if (!v) return undefined;
  const m = /^\s*(\d{1,10})\s*((?:;[^;]*)*)$/.exec(v);
  if (!m) return undefined;
  const r = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2] ?? '');
  return { interval: Number(m[1]), ...(r ? { refresher: r[1]!.toLowerCase() as 'uac' | 'uas' } : {}) };
}

/** The peer's Min-SE (§5), if given. */
export function parseMinSE(msg: SipMessage): number | undefined {
  const m = /^\s*(\d{1,10})/.exec(msg.get('min-se') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Whether a message lists `timer` in Supported (`k`) or Require. */
export function supportsTimer(msg: SipMessage): boolean {
  const tags = [...msg.getAll('supported'), ...msg.getAll('k'), ...msg.getAll('require')].join(',').toLowerCase();
  return tags.split(',').some((t) => t.trim() === 'timer');
}

/** Whether a message's Allow lists UPDATE (the refresh method we prefer, §10). */
export function allowsUpdate(msg: SipMessage): boolean {
  return msg.getAll('allow').join(',').toUpperCase().split(',').some((m) => m.trim() === 'UPDATE');
}

/** Who refreshes, from our point of view. */
export type RefresherSide = 'local' | 'remote';

/** What a UAS answers to a request that may carry Session-Expires (§9). */
export type UasDecision =
  | { kind: 'none' }
  | { kind: 'too-small'; minSE: number }
  | { kind: 'timer'; interval: number; refresher: 'uac' | 'uas'; headers: Array<[string, string]> };

/**
 * §9: the UAS's decision for an INVITE/UPDATE. A Session-Expires below our Min-SE is refused
 * with 422 (when the UAC supports timers; otherwise raised to Min-SE). Without a refresher the
 * UAS chooses the UAC if it supports timers, else itself. A UAC that supports timers but asked
 * for none gets our interval.
 */
export function uasDecision(req: SipMessage, cfg: SessionTimerConfig): UasDecision {
  const se = parseSessionExpires(req);
  const uacSupports = supportsTimer(req);
  if (!se && !uacSupports) return { kind: 'none' };
  if (se && se.interval < cfg.minSE && uacSupports) return { kind: 'too-small', minSE: cfg.minSE };
  const interval = se ? Math.max(se.interval, cfg.minSE) : cfg.expires;
  const refresher = se?.refresher ?? (uacSupports ? 'uac' : 'uas');
  const headers: Array<[string, string]> = [['session-expires', `${interval};refresher=${refresher}`]];
  if (uacSupports) headers.push(['require', 'timer']);
  return { kind: 'timer', interval, refresher, headers };
}

/** §7.1: what a UAC puts in an INVITE (and a refresh). */
export function uacHeaders(cfg: SessionTimerConfig, interval = cfg.expires, refresher?: 'uac' | 'uas'): Array<[string, string]> {
  return [
    ['supported', 'timer'],
    ['session-expires', `${interval}${refresher ? `;refresher=${refresher}` : ''}`],
    ['min-se', String(cfg.minSE)],
  ];
}

/**
 * §7.2: what a UAC learns from a 2xx — no timer when it has no Session-Expires; the refresher is
 * the UAC when the 2xx names none.
 */
export function uacOutcome(res: SipMessage): { interval: number; side: RefresherSide } | undefined {
  const se = parseSessionExpires(res);
  if (!se) return undefined;
  return { interval: se.interval, side: (se.refresher ?? 'uac') === 'uac' ? 'local' : 'remote' };
}

/**
 * The running timer of one dialog. As refresher it calls `refresh` every half interval (a failed
 * refresh ends the session: the peer is gone); otherwise it expects a refresh and calls `expire`
 * when none came in time. {@link SessionTimer.refreshed} restarts it (on every refresh either way).
 */
export class SessionTimer {
  private timer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    public interval: number,
    public side: RefresherSide,
    private readonly refresh: () => Promise<boolean>,
    private readonly expire: (why: string) => void,
  ) {
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.stopped) return;
    if (this.side === 'local') {
      this.timer = this.clock.setTimeout(() => {
        this.refresh().then(
          (ok) => (ok ? this.schedule() : this.expire('session refresh failed')),
          () => this.expire('session refresh failed'),
        );
      }, (this.interval * 1000) / 2);
    } else {
      const before = Math.min(32, this.interval / 3);
      this.timer = this.clock.setTimeout(() => this.expire('no session refresh'), (this.interval - before) * 1000);
    }
  }

  /** A refresh happened (either way); `interval`/`side` when it renegotiated them. */
  refreshed(interval = this.interval, side = this.side): void {
    this.interval = interval;
    this.side = side;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
  }
}
