/**
 * Calling rights: who may call which numbers through the trunks (toll fraud is the most expensive
 * thing that can happen to a contact center — one stolen agent password calling premium numbers
 * all weekend). Every number leaving through a trunk is classed — national, international or
 * premium — and checked against the caller's rights (their own, else their role's); prefix allow
 * and deny lists override the classes. Each user also has a cap on external calls at once and a
 * calls-per-minute limit whose breach is logged as a fraud alert. Refused calls get 403 with the
 * reason and a call record (outcome `refused`).
 *
 * Defaults: agents may call internal and national numbers only; supervisors add international;
 * admins add premium. Classification is by prefix on the number as dialled (separators removed):
 * premium prefixes first, then international prefixes (`+`, `00`, `011`) unless followed by the
 * home `countryCode`, else national. Operators must set `premiumPrefixes` for their country.
 */
import type { Clock } from '../util/clock.js';
import { log } from '../util/log.js';

/** Classes of destination. */
export type DestinationClass = 'internal' | 'national' | 'international' | 'premium';

/** What a user (or role) may call. */
export interface CallingRights {
  /** The classes of destination allowed. */
  allow: DestinationClass[];
  /** Numbers starting with one of these are allowed whatever their class (e.g. a partner's number). */
  allowPrefixes?: string[] | undefined;
  /** Numbers starting with one of these are refused whatever else. */
  denyPrefixes?: string[] | undefined;
  /** External calls one user may have at once. */
  maxConcurrentCalls?: number | undefined;
  /** External calls one user may start per minute; more is refused and alerted as possible fraud. */
  maxCallsPerMinute?: number | undefined;
}

/** The policy's settings (`calling` in the configuration). */
export interface CallingOptions {
  /** The home country code (e.g. "1", "44"): +<cc>… and 00<cc>… numbers count as national. */
  countryCode?: string | undefined;
  internationalPrefixes: string[];
  premiumPrefixes: string[];
  /** Rights per role. */
  roles: Record<'agent' | 'supervisor' | 'admin', CallingRights>;
}

/** A refusal: the SIP status and the reason phrase (also the record's). */
export interface Refusal {
  status: 403;
  reason: string;
}

/** Counters exposed in health and metrics. */
export interface CallingStats {
  refused: number;
  fraudAlerts: number;
}

/** Calling rights, checked before a number is dialled out. */
export class CallingPolicy {
  readonly stats: CallingStats = { refused: 0, fraudAlerts: 0 };
  /** External calls per user: call ids now, and start times in the last minute. */
  private readonly active = new Map<string, Set<string>>();
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly opts: CallingOptions,
    /** A user's role and own rights (if any); undefined for unknown users. */
    private readonly userOf: (user: string) => { role: 'agent' | 'supervisor' | 'admin'; rights?: CallingRights | undefined } | undefined,
    private readonly clock: Clock,
  ) {}

  /** The class of a number as dialled. */
  classify(number: string): DestinationClass {
    const n = normalize(number);
    if (this.opts.premiumPrefixes.some((p) => n.startsWith(normalize(p)))) return 'premium';
    const intl = this.opts.internationalPrefixes.map(normalize).filter(Boolean).sort((a, b) => b.length - a.length).find((p) => n.startsWith(p));
    if (intl) {
      const cc = this.opts.countryCode;
      return cc && n.slice(intl.length).startsWith(cc) ? 'national' : 'international';
    }
    return 'national';
  }

  /** The rights that apply to a user. */
  rightsOf(user: string): CallingRights {
    const u = this.userOf(user);
    if (!u) return { allow: ['internal'] };
    return u.rights ?? this.opts.roles[u.role];
  }

  /**
   * May `user` start a call to external `number` now? Undefined when yes (the call is then
   * counted until {@link ended}); a refusal otherwise, logged.
   */
  check(user: string, number: string, callId: string): Refusal | undefined {
    const refuse = (reason: string): Refusal => {
      this.stats.refused++;
      log.warn('calling', `${user} may not call ${number}: ${reason}`);
      return { status: 403, reason };
    };
    const rights = this.rightsOf(user);
    const n = normalize(number);
    const cls = this.classify(number);
    if (rights.denyPrefixes?.some((p) => n.startsWith(normalize(p)))) return refuse('Number Not Allowed');
    const allowedByPrefix = rights.allowPrefixes?.some((p) => n.startsWith(normalize(p))) ?? false;
    if (!allowedByPrefix && !rights.allow.includes(cls)) return refuse(`${cls[0]!.toUpperCase()}${cls.slice(1)} Numbers Not Allowed`);
    const key = user.toLowerCase();
    const now = this.clock.now();
    const active = this.active.get(key) ?? new Set<string>();
    if (rights.maxConcurrentCalls !== undefined && active.size >= rights.maxConcurrentCalls) return refuse(`Too Many External Calls (at most ${rights.maxConcurrentCalls} at once)`);
    const recent = (this.recent.get(key) ?? []).filter((t) => now - t < 60_000);
    if (rights.maxCallsPerMinute !== undefined && recent.length >= rights.maxCallsPerMinute) {
      this.stats.fraudAlerts++;
      log.error('fraud', `possible toll fraud: ${user} tried ${recent.length + 1} external calls in a minute (limit ${rights.maxCallsPerMinute}); refused ${number}`);
      this.recent.set(key, recent);
      return refuse('External Call Rate Limit');
    }
    recent.push(now);
    this.recent.set(key, recent);
    active.add(callId);
    this.active.set(key, active);
    return undefined;
  }

  /** A call counted by {@link check} ended. */
  ended(user: string, callId: string): void {
    const set = this.active.get(user.toLowerCase());
    if (!set) return;
    set.delete(callId);
    if (!set.size) this.active.delete(user.toLowerCase());
  }
}

/** Digits, `+`, `*`, `#` only: "+1 (900) 555-0100" → "+19005550100". */
function normalize(n: string): string {
  return n.replace(/[^0-9+*#]/g, '');
}
