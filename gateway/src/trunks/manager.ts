/**
 * The set of trunks: start/stop, which trunk an inbound request came from, and the order in
 * which outbound calls try them (live trunks by priority, then weight; down trunks are skipped).
 */
import type { TrunkConfig } from '../config.js';
import type { Clock } from '../util/clock.js';
import type { SipCore } from '../sip/core.js';
import type { SipRequest } from '../sip/message.js';
import type { Source } from '../sip/transport/types.js';
import { Trunk, type TrunkStatus } from './trunk.js';

/** Every configured trunk. */
export class TrunkManager {
  readonly trunks: Trunk[];

  constructor(configs: TrunkConfig[], core: SipCore, clock: Clock) {
    this.trunks = configs.map((c) => new Trunk(c, core, clock));
  }

  get size(): number {
    return this.trunks.length;
  }

  start(): void {
    for (const t of this.trunks) t.start();
  }

  stop(): void {
    for (const t of this.trunks) t.stop();
  }

  /** The trunk a request came from, if any. */
  match(req: SipRequest, source: Source): Trunk | undefined {
    return this.trunks.find((t) => t.matches(req, source));
  }

  byName(name: string): Trunk | undefined {
    return this.trunks.find((t) => t.name === name);
  }

  /** Trunks to try for an outbound call, best first; only live ones with a free channel. */
  candidates(): Trunk[] {
    return this.trunks
      .filter((t) => t.health === 'up' && t.hasRoom)
      .sort((a, b) => (a.config.priority ?? 10) - (b.config.priority ?? 10) || (b.config.weight ?? 0) - (a.config.weight ?? 0));
  }

  status(): TrunkStatus[] {
    return this.trunks.map((t) => t.status());
  }
}
