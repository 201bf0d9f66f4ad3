/**
 * Abuse protection at the edge of the SIP stack, after Kamailio's pike and fail2ban: it counts
 * what an attacker produces — requests that did not authenticate, and failed authentications —
 * never traffic that authenticated (a digest-authenticated REGISTER, a request inside a live
 * dialog, a token-authenticated WebSocket, a trusted PBX). So 30 desk phones behind one office
 * NAT re-registering every 10 s, or an SBC, are never banned with the default settings.
 *
 * Two levels:
 * - a **source** (address and port: one phone behind a NAT, one connection) is banned after
 *   `rateLimit` unauthenticated requests in `rateWindowMs`, or `authFailureLimit` failed
 *   authentications in `authFailureWindowMs`;
 * - an **address** is banned after `addressRateLimit` unauthenticated requests in the window, or
 *   `addressAuthFailureLimit` failures, summed over all its ports (a flood that rotates ports).
 * A banned address or source is dropped before parsing — except what it sends inside its own live
 * dialogs (a BYE, a re-INVITE), and requests that carry credentials, which must then verify (the
 * transport and the SIP core decide those; see {@link SourceGuard.accepts}).
 *
 * Known scanner User-Agents (friendly-scanner, sipvicious, …) are dropped unanswered. Everything
 * is counted in {@link GuardStats} and every ban is logged once.
 */
import type { Clock } from '../util/clock.js';
import { log } from '../util/log.js';
import type { SipRequest } from './message.js';
import type { Source } from './transport/types.js';

/** Protection settings (all on by default; see {@link DEFAULT_GUARD}). */
export interface GuardOptions {
  /** Unauthenticated requests allowed per source (address and port) per window; 0 disables. */
  rateLimit: number;
  rateWindowMs: number;
  /** Unauthenticated requests allowed per address (all its ports) per window; 0 disables. */
  addressRateLimit: number;
  /** Failed authentications (wrong password, unknown user) per source per window before a ban; 0 disables. */
  authFailureLimit: number;
  authFailureWindowMs: number;
  /** Failed authentications per address (all its ports) per window before the address is banned; 0 disables. */
  addressAuthFailureLimit: number;
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
  addressRateLimit: 160,
  authFailureLimit: 5,
  authFailureWindowMs: 60_000,
  addressAuthFailureLimit: 20,
  banSeconds: 300,
  scannerUserAgents: ['friendly-scanner', 'sipvicious', 'sipcli', 'sip-scan', 'sipsak', 'iwar', 'sundayddr', 'vaxasip', 'pplsip', 'smap'],
  trustedAddresses: [],
  maxTrackedSources: 100_000,
};

/** Counters exposed as metrics. */
export interface GuardStats {
  /** Messages dropped because their source (or its address) was banned. */
  droppedBanned: number;
  /** Unauthenticated requests over a limit (the first one starts a ban). */
  droppedRate: number;
  /** Requests dropped for a scanner User-Agent. */
  droppedScanner: number;
  /** Bans issued since start (sources and addresses). */
  bans: number;
  /** Bans in force now. */
  activeBans: number;
}

interface Counter {
  windowStart: number;
  count: number;
  authWindowStart: number;
  authFailures: number;
  bannedUntil: number;
}

/** The guard's verdict on one parsed request. */
export type GuardVerdict = 'ok' | 'scanner';

/** Per-source and per-address limits, bans and scanner filtering. */
export class SourceGuard {
  readonly stats: GuardStats = { droppedBanned: 0, droppedRate: 0, droppedScanner: 0, bans: 0, activeBans: 0 };
  private readonly sources = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly trusted: Set<string>;
  private readonly scanners: string[];

  constructor(
    private readonly clock: Clock,
    private readonly opts: GuardOptions = DEFAULT_GUARD,
  ) {
    this.trusted = new Set(opts.trustedAddresses);
    this.scanners = opts.scannerUserAgents.map((s) => s.toLowerCase());
  }

  /** Token-authenticated flows and trusted addresses are never limited. */
  exempt(source: Source): boolean {
    return !!source.auth || this.trusted.has(source.address);
  }

  /**
   * Cheap check before parsing: false when the source or its address is banned. The transport
   * still lets through what a banned peer sends inside its live dialogs, and requests carrying
   * credentials (marked `source.banned` for the core, which drops them unless they verify).
   */
  accepts(source: Source): boolean {
    if (this.exempt(source)) return true;
    const now = this.clock.now();
    if (this.banned(this.addresses, source.address, now) || this.banned(this.sources, key(source), now)) {
      this.stats.droppedBanned++;
      return false;
    }
    return true;
  }

  /** Screens a parsed request: known scanners are dropped unanswered. */
  check(req: SipRequest, source: Source): GuardVerdict {
    const ua = (req.get('user-agent') ?? '').toLowerCase();
    if (ua && this.scanners.some((s) => ua.includes(s))) {
      this.stats.droppedScanner++;
      log.debug('sip.guard', `dropped ${req.method} from scanner "${req.get('user-agent')}" at ${source.address}:${source.port}`);
      return 'scanner';
    }
    return 'ok';
  }

  /**
   * A request that did not authenticate (challenged, refused, or out of any dialog without
   * credentials). True when it put its source (or address) over a limit: it is then dropped
   * unanswered, like everything after it.
   */
  unauthenticated(source: Source): boolean {
    if (this.exempt(source) || (!this.opts.rateLimit && !this.opts.addressRateLimit)) return false;
    const now = this.clock.now();
    const windowMs = this.opts.rateWindowMs;
    const bump = (map: Map<string, Counter>, k: string, limit: number, what: string): boolean => {
      if (!limit) return false;
      const c = this.counter(map, k, now);
      if (c.bannedUntil) return true;
      if (now - c.windowStart >= windowMs) {
        c.windowStart = now;
        c.count = 0;
      }
      if (++c.count <= limit) return false;
      this.stats.droppedRate++;
      this.ban(c, `${what}: ${c.count} unauthenticated requests in ${windowMs} ms`);
      return true;
    };
    const bySource = bump(this.sources, key(source), this.opts.rateLimit, `source ${key(source)}`);
    const byAddress = bump(this.addresses, source.address, this.opts.addressRateLimit, `address ${source.address} (all ports)`);
    return bySource || byAddress;
  }

  /** Records a failed authentication (wrong password, unknown user, a forged digest) from a source. */
  authFailed(source: Source): void {
    if (this.exempt(source)) return;
    const now = this.clock.now();
    const windowMs = this.opts.authFailureWindowMs;
    const bump = (map: Map<string, Counter>, k: string, limit: number, what: string) => {
      if (!limit) return;
      const c = this.counter(map, k, now);
      if (now - c.authWindowStart >= windowMs) {
        c.authWindowStart = now;
        c.authFailures = 0;
      }
      c.authFailures++;
      if (c.authFailures >= limit && !c.bannedUntil) this.ban(c, `${what}: ${c.authFailures} failed authentications`);
    };
    bump(this.sources, key(source), this.opts.authFailureLimit, `source ${key(source)}`);
    bump(this.addresses, source.address, this.opts.addressAuthFailureLimit, `address ${source.address} (all ports)`);
  }

  /** Whether an address is banned as a whole now — or, with `port`, that one source. */
  isBanned(address: string, port?: number): boolean {
    const now = this.clock.now();
    if ((this.addresses.get(address)?.bannedUntil ?? 0) > now) return true;
    return port !== undefined && (this.sources.get(`${address}:${port}`)?.bannedUntil ?? 0) > now;
  }

  private banned(map: Map<string, Counter>, k: string, now: number): boolean {
    const c = map.get(k);
    if (!c || c.bannedUntil === 0) return false;
    if (now < c.bannedUntil) return true;
    this.unban(k, c);
    return false;
  }

  private counter(map: Map<string, Counter>, k: string, now: number): Counter {
    let c = map.get(k);
    if (!c) {
      if (map.size >= this.opts.maxTrackedSources) this.evict(map, now);
      c = { windowStart: now, count: 0, authWindowStart: now, authFailures: 0, bannedUntil: 0 };
      map.set(k, c);
    } else if (c.bannedUntil && now >= c.bannedUntil) {
      this.unban(k, c);
    }
    return c;
  }

  private ban(c: Counter, why: string): void {
    c.bannedUntil = this.clock.now() + this.opts.banSeconds * 1000;
    this.stats.bans++;
    this.stats.activeBans++;
    log.warn('sip.guard', `banned ${why} — for ${this.opts.banSeconds} s`);
  }

  private unban(k: string, c: Counter): void {
    c.bannedUntil = 0;
    c.count = 0;
    c.authFailures = 0;
    this.stats.activeBans--;
    log.info('sip.guard', `ban on ${k} expired`);
  }

  /** Forgets idle entries (not banned, windows over) — oldest first — to bound memory. */
  private evict(map: Map<string, Counter>, now: number): void {
    for (const [k, c] of map) {
      if (c.bannedUntil && now < c.bannedUntil) continue;
      if (c.bannedUntil) this.stats.activeBans--;
      map.delete(k);
      if (map.size < this.opts.maxTrackedSources * 0.9) return;
    }
    // Everything is banned: drop the oldest ban rather than grow without bound.
    const first = map.keys().next();
    if (!first.done) {
      map.delete(first.value);
      this.stats.activeBans--;
    }
  }
}

/** A source: an address and port (one phone behind a NAT, one TCP/TLS/WebSocket connection). */
function key(source: Source): string {
  return `${source.address}:${source.port}`;
}
