/**
 * The rtpengines the gateway uses (`media.rtpengine`): each is pinged over ng every second; one
 * that misses `missesToFail` pings in a row is out of rotation (its endpoints are reported lost)
 * and comes back on its first answer. New endpoints go to the live rtpengine carrying the fewest.
 */
import { Emitter } from '../../util/emitter.js';
import { log } from '../../util/log.js';
import { NgClient, NgError } from './ng.js';

/** One rtpengine as the pool sees it. */
export interface RtpengineNode {
  readonly client: NgClient;
  up: boolean;
  /** Endpoints placed on it now. */
  load: number;
  misses: number;
}

/** Events of the pool. */
export type RtpenginePoolEvents = {
  /** An rtpengine stopped answering (its calls' media is gone). */
  down: [node: RtpengineNode, reason: string];
  /** It answers again and takes new calls. */
  up: [node: RtpengineNode];
};

/** Options of {@link RtpenginePool}. */
export interface RtpenginePoolOptions {
  /** Ping interval (ms; default 1000). */
  pingMs?: number;
  /** Missed pings in a row before an rtpengine is out of rotation (default 3). */
  missesToFail?: number;
  /** Per-request retransmission interval (ms; default 300) and attempts (default 3). */
  retransmitMs?: number;
  attempts?: number;
}

/** Several rtpengines, health-checked. */
export class RtpenginePool extends Emitter<RtpenginePoolEvents> {
  readonly nodes: RtpengineNode[];
  private timer?: NodeJS.Timeout;
  private readonly pingMs: number;
  private readonly missesToFail: number;

  constructor(addresses: readonly string[], opts: RtpenginePoolOptions = {}) {
    super();
    if (!addresses.length) throw new Error('media.rtpengine: at least one ng address (host:port) is needed');
    this.pingMs = opts.pingMs ?? 1000;
    this.missesToFail = opts.missesToFail ?? 3;
    this.nodes = addresses.map((a) => ({ client: new NgClient(a, { retransmitMs: opts.retransmitMs ?? 300, attempts: opts.attempts ?? 3 }), up: false, load: 0, misses: 0 }));
  }

  /**
   * Pings every rtpengine once and starts the health checks. Rejects with a clear message when
   * none answers (the gateway does not start without its media engine).
   */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.ping(n, true)));
    if (!this.nodes.some((n) => n.up)) {
      this.close();
      throw new Error(`media.engine is "rtpengine" but no rtpengine answers an ng ping at ${this.nodes.map((n) => n.client.address).join(', ')} — is rtpengine running with --listen-ng there? (docs/media.md)`);
    }
    for (const n of this.nodes) if (!n.up) log.warn('rtpengine', `${n.client.address} does not answer; out of rotation until it does`);
    this.timer = setInterval(() => {
      for (const n of this.nodes) void this.ping(n, false);
    }, this.pingMs);
    this.timer.unref();
  }

  private async ping(n: RtpengineNode, first: boolean): Promise<void> {
    try {
      // One attempt per ping: the interval is the retransmission.
      const r = await n.client.request('ping');
      if (r.result !== 'pong') throw new NgError(`answered ${String(r.result)}`);
      n.misses = 0;
      if (!n.up) {
        n.up = true;
        if (!first) log.info('rtpengine', `${n.client.address} answers again; back in rotation`);
        this.emit('up', n);
      }
    } catch (err) {
      n.misses++;
      if (n.up && n.misses >= this.missesToFail) {
        n.up = false;
        const reason = `rtpengine ${n.client.address} stopped answering (${(err as Error).message})`;
        log.error('rtpengine', `${reason}; out of rotation`);
        this.emit('down', n, reason);
      }
    }
  }

  /** The live rtpengine with the fewest endpoints, or undefined when none is up. */
  pick(): RtpengineNode | undefined {
    let best: RtpengineNode | undefined;
    for (const n of this.nodes) if (n.up && (!best || n.load < best.load)) best = n;
    return best;
  }

  /** A request failed for lack of an answer: count it like a missed ping (the next ping decides). */
  noAnswer(n: RtpengineNode): void {
    n.misses++;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const n of this.nodes) n.client.close();
  }
}
