/** A {@link MessageSender} that records what would have gone on the wire (unit tests only). */
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { MessageSender, Source, Target, TransportName } from '../sip/transport/types.js';
import { TransportError } from '../sip/transport/types.js';
import type { FakeClock } from '../util/clock.js';

export interface Sent {
  at: number;
  kind: 'request' | 'response';
  text: string;
  method?: string;
  status?: number;
}

export class FakeSender implements MessageSender {
  readonly sent: Sent[] = [];
  failNext = false;

  constructor(private readonly clock: FakeClock) {}

  async sendRequest(req: SipRequest, _target: Target): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new TransportError('unreachable');
    }
    this.sent.push({ at: this.clock.now(), kind: 'request', text: req.toString(), method: req.method });
  }

  async sendResponse(res: SipResponse, _source: Source): Promise<void> {
    this.sent.push({ at: this.clock.now(), kind: 'response', text: res.toString(), status: res.status });
  }

  viaFor(_t: TransportName): { host: string; port: number } {
    return { host: '192.0.2.1', port: 5060 };
  }

  /** Times at which requests of `method` were sent. */
  requestTimes(method: string): number[] {
    return this.sent.filter((s) => s.kind === 'request' && s.method === method).map((s) => s.at);
  }

  responseTimes(status: number): number[] {
    return this.sent.filter((s) => s.kind === 'response' && s.status === status).map((s) => s.at);
  }
}
