/**
 * @internal A complete SIP stack (transport layer → transactions → core, with the abuse guard
 * off) whose wire is a list, driven by a fake clock — for torture and fuzz tests that feed raw
 * bytes and look at exactly what the gateway would answer.
 */
import { FakeClock, type Clock } from '../util/clock.js';
import { SipCore } from '../sip/core.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { TransactionLayer } from '../sip/transaction/layer.js';
import { TransportLayer } from '../sip/transport/layer.js';
import type { Source, Target } from '../sip/transport/types.js';

/** Something the stack put on the wire. */
export interface WireRecord {
  kind: 'request' | 'response';
  status?: number;
  reason?: string;
  method?: string;
  text: string;
}

class RecordingTransport extends TransportLayer {
  readonly wire: WireRecord[] = [];
  override async sendRequest(req: SipRequest, _target: Target): Promise<void> {
    this.wire.push({ kind: 'request', method: req.method, text: req.toString() });
  }
  override async sendResponse(res: SipResponse, _source: Source): Promise<void> {
    this.wire.push({ kind: 'response', status: res.status, reason: res.reason, text: res.toString() });
  }
}

/** Builds the stack; INVITEs reaching the call layer are rejected with 486. Fake clock unless given one. */
export function recordingStack<C extends Clock = FakeClock>(clock: C = new FakeClock() as unknown as C) {
  const transport = new RecordingTransport({ bindHost: '127.0.0.1', advertisedHost: '192.0.2.1' });
  const txl = new TransactionLayer(transport, clock);
  const core = new SipCore(transport, txl, {
    clock,
    realm: 'switchboard',
    digestAlgorithms: ['SHA-256', 'MD5'],
    credentials: (name) => (name === 'alice' ? { password: 'secret' } : undefined),
    advertisedHost: '192.0.2.1',
    registrar: { minExpires: 60, maxExpires: 3600, defaultExpires: 600 },
    userAgent: 'Switchboard/test',
  });
  core.delegate = { onInvite: (inv) => inv.reject(486) };
  transport.onMessage = (msg, source) => txl.receive(msg, source);
  const source: Source = { transport: 'UDP', address: '192.0.2.77', port: 5060, flowId: 'udp' };
  return {
    clock,
    txl,
    core,
    wire: transport.wire,
    /** Feeds raw bytes as one UDP datagram from 192.0.2.77:5060. */
    feed(data: Buffer | string, from: Source = source): void {
      transport.receive(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, from);
    },
    /** Responses sent so far. */
    responses(): WireRecord[] {
      return transport.wire.filter((w) => w.kind === 'response');
    },
  };
}
