/**
 * Abuse protection at the edge of the SIP stack: per-source request-rate limits with temporary
 * bans (after Kamailio's pike/anti-flood: 16 requests per 2 s, 300 s ban), a ban after repeated
 * failed authentication, and silent drop of known scanner User-Agents (friendly-scanner,
 * sipvicious, sipcli, …). Everything it does is counted in {@link GuardStats} and logged once
 * per ban.
 *
 * Exempt: trusted addresses (PBX trunks, a load balancer) and flows whose identity was proven at
 * connection time (token-authenticated WebSockets) — a contact center behind one NAT must not
 * ban its own agents.
 */
import type { Clock } from '../util/clock.js';
import { log } from '../util/log.js';
import type { SipRequest } from './message.js';
import type { Source } from './transport/types.js';

/** Protection settings (all on by default; see {@link DEFAULT_GUARD}). */
export interface GuardOptions {
  /** Requests allowed per source address per window; 0 disables the limit. */
  rateLimit: number;
  rateWindowMs: number;
  /** Failed authentications (wrong password, unknown user) per window before a ban; 0 disables. */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** How long a ban lasts. */
  banSeconds: number;
  /** Case-insensitive substrings of User-Agent values dropped without an answer. */
  scannerUserAgents: string[];
  /** Source addresses never limited or banned. */
  trustedAddresses: string[];
  /** Most sources tracked at once; the oldest entries are forgotten beyond it (memory bound). */
  maxTrackedSources: number;
}

/** Kamailio-like defaults. */
export const DEFAULT_GUARD: GuardOptions = {
  rateLimit: 16,
  rateWindowMs: 2000,
  authFailureLimit: 5,
  authFailureWindowMs: 60_000,
  banSeconds: 300,
  scannerUserAgents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sip-scan', 'sipsak', 'iwar', 'sundayddr', 'vaxasip', 'pplsip', 'smap'],
  trustedAddresses: [],
  maxTrackedSources: 100_000,
};

/** Counters exposed as metrics. */
export interface GuardStats {
  /** Messages dropped because their source was banned. */
  droppedBanned: number;
  /** Requests over the rate limit (each one also starts or extends nothing: the first starts a ban). */
  droppedRate: number;
  /** Requests dropped for a scanner User-Agent. */
  droppedScanner: number;
  /** Bans issued since start. */
  bans: number;
  /** Bans in force now. */
  activeBans: number;
}

interface SourceState {
  windowStart: number;
  count: number;
  authWindowStart: number;
  authFailures: number;
  bannedUntil: number;
}

/** The guard's verdict on one request. */
export type GuardVerdict = 'ok' | 'banned' | 'rate' | 'scanner';

/** Per-source rate limiting, bans and scanner filtering. */
export class SourceGuard {
  readonly stats: GuardStats = { droppedBanned: 0, droppedRate: 0, droppedScanner: 0, bans: 0, activeBans: 0 };
  private readonly sources = new Map<string, SourceState>();
  private readonly trusted: Set<string>;
  private readonly scanners: string[];

  constructor(
    private readonly clock: Clock,
    private readonly opts: GuardOptions = DEFAULT_GUARD,
  ) {
    this.trusted = new Set(opts.trustedAddresses);
    this.scanners = opts.scannerUserAgents.map((s) => s.toLowerCase());
  }

  private exempt(source: Source): boolean {
    return !!source.auth || this.trusted.has(source.address);
  }

  /**
   * Cheap check before parsing: false when the source is banned (the datagram or frame is
   * dropped unparsed, so a flood costs a map lookup per packet).
   */
  accepts(source: Source): boolean {
    if (this.exempt(source)) return true;
    const s = this.sources.get(source.address);
    if (!s || s.bannedUntil === 0) return true;
    if (this.clock.now() < s.bannedUntil) {
      this.stats.droppedBanned++;
      return false;
    }
    this.unban(source.address, s);
    return true;
  }

  /** Counts a parsed request against its source's limits. */
  check(req: SipRequest, source: Source): GuardVerdict {
    const ua = (req.get('user-agent') ?? '').toLowerCase();
    if (ua && this.scanners.some((s) => ua.includes(s))) {
      this.stats.droppedScanner++;
      log.debug('sip.guard', `dropped ${req.method} from scanner "${req.get('user-agent')}" at ${source.address}:${source.port}`);
      return 'scanner';
    }
    if (this.exempt(source) || !this.opts.rateLimit) return 'ok';
    const now = this.clock.now();
    const s = this.state(source.address, now);
    if (s.bannedUntil) {
      this.stats.droppedBanned++;
      return 'banned';
    }
    if (now - s.windowStart >= this.opts.rateWindowMs) {
      s.windowStart = now;
      s.count = 0;
    }
    s.count++;
    if (s.count > this.opts.rateLimit) {
      this.stats.droppedRate++;
      this.ban(source.address, s, `${s.count} requests in ${this.opts.rateWindowMs} ms`);
      return 'rate';
    }
    return 'ok';
  }

  /** Records a failed authentication (wrong password, unknown user) from a source. */
  authFailed(source: Source): void {
    if (this.exempt(source) || !this.opts.authFailureLimit) return;
    const now = this.clock.now();
    const s = this.state(source.address, now);
    if (now - s.authWindowStart >= this.opts.authFailureWindowMs) {
      s.authWindowStart = now;
      s.authFailures = 0;
    }
    s.authFailures++;
    if (s.authFailures >= this.opts.authFailureLimit && !s.bannedUntil) {
      this.ban(source.address, s, `${s.authFailures} failed authentications`);
    }
  }

  /** Whether an address is banned now. */
  isBanned(address: string): boolean {
    const s = this.sources.get(address);
    return !!s && s.bannedUntil > this.clock.now();
  }

  private state(address: string, now: number): SourceState {
    let s = this.sources.get(address);
    if (!s) {
      if (this.sources.size >= this.opts.maxTrackedSources) this.evict(now);
      s = { windowStart: now, count: 0, authWindowStart: now, authFailures: 0, bannedUntil: 0 };
      this.sources.set(address, s);
    } else if (s.bannedUntil && now >= s.bannedUntil) {
      this.unban(address, s);
    }
    return s;
  }

  private ban(address: string, s: SourceState, why: string): void {
    s.bannedUntil = this.clock.now() + this.opts.banSeconds * 1000;
    this.stats.bans++;
    this.stats.activeBans++;
    log.warn('sip.guard', `banned ${address} for ${this.opts.banSeconds} s: ${why}`);
  }

  private unban(address: string, s: SourceState): void {
    s.bannedUntil = 0;
    s.count = 0;
    s.authFailures = 0;
    this.stats.activeBans--;
    log.info('sip.guard', `ban on ${address} expired`);
  }

  /** Forgets idle sources (not banned, windows over) — oldest first — to bound memory. */
  private evict(now: number): void {
    for (const [addr, s] of this.sources) {
      if (s.bannedUntil && now < s.bannedUntil) continue;
      if (s.bannedUntil) this.stats.activeBans--;
      this.sources.delete(addr);
      if (this.sources.size < this.opts.maxTrackedSources * 0.9) return;
    }
    // Everything is banned: drop the oldest ban rather than grow without bound.
    const first = this.sources.keys().next();
    if (!first.done) {
      this.sources.delete(first.value);
      this.stats.activeBans--;
    }
  }
}
