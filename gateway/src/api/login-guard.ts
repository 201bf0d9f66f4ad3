/**
 * Password guessing on `POST /api/login` (measured before: 5,000 wrong passwords in 0.6 s, then
 * the right one got a token). Failed logins are counted per user and per source address; past a
 * limit the user (or the address) is locked out with exponential backoff — 30 s, 60 s, 120 s …
 * up to 15 minutes — and every attempt meanwhile is refused unchecked, the right password too
 * (so the lock cannot be probed). A success resets the user's count. Attempts refused during a
 * lock do not lengthen it: someone who knows a user name cannot keep that user locked out for
 * ever, only for the backoff. Failures are also handed to the SIP guard, so an address guessing
 * over HTTP is banned for SIP as well, and an address the SIP guard banned cannot log in.
 */
import type { Clock } from '../util/clock.js';
import { log } from '../util/log.js';

/** Settings (`auth.login`). */
export interface LoginGuardOptions {
  /** Failed logins of one user before it is locked. */
  maxFailuresPerUser: number;
  /** Failed logins from one address (any users) before it is locked. */
  maxFailuresPerAddress: number;
  /** The first lock, seconds; each further lock doubles it. */
  lockSeconds: number;
  /** The longest lock, seconds. */
  maxLockSeconds: number;
}

interface Entry {
  failures: number;
  locks: number;
  lockedUntil: number;
  lastFailure: number;
}

/** A refusal: who is locked and for how long. */
export interface LoginLock {
  who: 'user' | 'address';
  retryAfterSeconds: number;
}

/** Attempt limits for logins. */
export class LoginGuard {
  private readonly users = new Map<string, Entry>();
  private readonly addresses = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly opts: LoginGuardOptions,
    /** The SIP guard's view: is this address banned there? */
    private readonly addressBanned: (address: string) => boolean = () => false,
  ) {}

  /** Whether a login attempt may be checked now; a lock when not. */
  check(user: string, address: string): LoginLock | undefined {
    const now = this.clock.now();
    const u = this.users.get(user.toLowerCase());
    if (u && u.lockedUntil > now) return { who: 'user', retryAfterSeconds: Math.ceil((u.lockedUntil - now) / 1000) };
    const a = this.addresses.get(address);
    if (a && a.lockedUntil > now) return { who: 'address', retryAfterSeconds: Math.ceil((a.lockedUntil - now) / 1000) };
    if (this.addressBanned(address)) return { who: 'address', retryAfterSeconds: 60 };
    return undefined;
  }

  /** A wrong password (or unknown user). */
  failed(user: string, address: string): void {
    this.bump(this.users, user.toLowerCase(), this.opts.maxFailuresPerUser, `user "${user.slice(0, 64)}"`);
    this.bump(this.addresses, address, this.opts.maxFailuresPerAddress, `address ${address}`);
  }

  /** A correct password: the user's failures are forgiven (the address's are not). */
  succeeded(user: string): void {
    const u = this.users.get(user.toLowerCase());
    if (u) {
      u.failures = 0;
      u.locks = 0;
    }
  }

  private bump(map: Map<string, Entry>, key: string, limit: number, what: string): void {
    const now = this.clock.now();
    let e = map.get(key);
    if (!e) {
      // Bounded memory: forget entries that are neither locked nor recent.
      if (map.size >= 100_000) for (const [k, v] of map) if (v.lockedUntil < now && now - v.lastFailure > 3_600_000) map.delete(k);
      e = { failures: 0, locks: 0, lockedUntil: 0, lastFailure: now };
      map.set(key, e);
    }
    // Failures an hour apart are forgotten.
    if (now - e.lastFailure > 3_600_000) e.failures = 0;
    e.lastFailure = now;
    if (++e.failures < limit) return;
    const seconds = Math.min(this.opts.maxLockSeconds, this.opts.lockSeconds * 2 ** e.locks);
    e.locks++;
    e.failures = 0;
    e.lockedUntil = now + seconds * 1000;
    log.warn('http', `login locked for ${what}: ${limit} failed attempts; locked for ${seconds} s`);
  }
}
