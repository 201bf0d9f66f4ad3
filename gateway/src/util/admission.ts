/**
 * Connection admission for every listener (HTTP/WS, HTTPS/WSS, SIP TCP/TLS): a cap per source
 * address for each kind of listener, and one global cap over all of them below the process's
 * file-descriptor limit, so that no flood of idle connections can take the fds that media
 * sockets, the database and new agents need (measured before: 24,000 idle HTTP connections
 * stopped the gateway answering at the fd limit, and media reported EMFILE as "no free port").
 *
 * A connection that authenticated (a WebSocket with a token, a SIP connection whose REGISTER or
 * INVITE passed digest) and connections from trusted addresses leave their address's count — an
 * office of agents behind one NAT or a reverse proxy is never limited by it — but always count
 * toward the global cap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { log } from './log.js';

/** One admitted connection. */
export interface Ticket {
  /** The connection closed: its place is free again. Idempotent. */
  release(): void;
  /** It authenticated: it no longer counts against its address's cap (still against the global one). */
  exempt(): void;
}

/** Counters exposed in health and metrics. */
export interface AdmissionStats {
  open: number;
  max: number;
  refusedPerAddress: number;
  refusedTotal: number;
}

/** The soft limit on open files of this process (Linux /proc), or undefined elsewhere. */
export function fdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of this process now (Linux /proc), or undefined elsewhere. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** The global cap and its per-kind pools. */
export class ConnectionLimits {
  readonly stats: AdmissionStats;
  private lastRefusalLog = 0;
  private refusedSinceLog = 0;

  constructor(maxTotal: number) {
    this.stats = { open: 0, max: maxTotal, refusedPerAddress: 0, refusedTotal: 0 };
  }

  /** A pool for one kind of listener: `maxPerAddress` connections per source address. */
  pool(name: string, maxPerAddress: number, trusted: (address: string) => boolean = () => false): ConnectionPool {
    return new ConnectionPool(this, name, maxPerAddress, trusted);
  }

  /** @internal */
  refused(why: string): void {
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastRefusalLog < 10_000) return;
    log.warn('admission', `${why}${this.refusedSinceLog > 1 ? ` (${this.refusedSinceLog} connections refused in the last ${Math.round((now - this.lastRefusalLog) / 1000)} s)` : ''}`);
    this.lastRefusalLog = now;
    this.refusedSinceLog = 0;
  }
}

/** Admission for one kind of listener. */
export class ConnectionPool {
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: ConnectionLimits,
    readonly name: string,
    private readonly maxPerAddress: number,
    private readonly trusted: (address: string) => boolean,
  ) {}

  /** Connections counted for `address` now (exempt ones are not). */
  count(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /** Admits a connection from `address`, or refuses it (undefined) with a log line. */
  admit(address: string): Ticket | undefined {
    const s = this.limits.stats;
    if (s.open >= s.max) {
      s.refusedTotal++;
      this.limits.refused(`refused ${this.name} connections: ${s.open} connections open, the global cap (limits.maxConnections, below the process's file-descriptor limit)`);
      return undefined;
    }
    const counted = !this.trusted(address);
    if (counted) {
      const n = this.perAddress.get(address) ?? 0;
      if (n >= this.maxPerAddress) {
        s.refusedPerAddress++;
        this.limits.refused(`refused ${this.name} connections from ${address}: ${n} already open (per-address cap ${this.maxPerAddress})`);
        return undefined;
      }
      this.perAddress.set(address, n + 1);
    }
    s.open++;
    let inAddress = counted;
    let released = false;
    const leaveAddress = () => {
      if (!inAddress) return;
      inAddress = false;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    };
    return {
      release: () => {
        if (released) return;
        released = true;
        leaveAddress();
        s.open--;
      },
      exempt: leaveAddress,
    };
  }
}
