/**
 * The in-thread media engine: owns endpoints and relays packets between bridged pairs without
 * decoding. It runs inside the media worker (see worker-engine.ts), or directly in tests.
 */
import { Emitter } from '../util/emitter.js';
import type { Endpoint } from './endpoint.js';
import { RtpEndpoint } from './rtp-endpoint.js';
import type { CodecName } from './sdp.js';
import type { EndpointKind, MediaEngine, MediaEngineEvents, MediaOptions, MediaStats } from './types.js';
import { WebRtcEndpoint } from './webrtc-endpoint.js';

/** Media engine running in the current thread. */
export class LocalMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly partners = new Map<string, string>();
  private nextId = 1;
  private relayed = 0;

  constructor(private readonly opts: MediaOptions) {
    super();
  }

  private get(id: string): Endpoint {
    const ep = this.endpoints.get(id);
    if (!ep) throw new Error(`no media endpoint ${id}`);
    return ep;
  }

  async createEndpoint(kind: EndpointKind): Promise<string> {
    const id = `${kind}-${this.nextId++}`;
    const announced = this.opts.announcedAddress ?? this.opts.bindAddress;
    const ep: Endpoint = kind === 'rtp' ? await RtpEndpoint.create(id, this.opts.bindAddress, announced, this.opts.portRange) : new WebRtcEndpoint(id, this.opts);
    let last: string | undefined;
    ep.onState = (s) => {
      if (s === last) return;
      last = s;
      this.emit('endpointState', id, s);
    };
    this.endpoints.set(id, ep);
    return id;
  }

  answer(id: string, offer: string, codec: CodecName): Promise<string> {
    return this.get(id).answer(offer, codec);
  }

  offer(id: string, codecs: readonly CodecName[]): Promise<string> {
    return this.get(id).offer(codecs);
  }

  reanswer(id: string, offer: string): Promise<string> {
    return this.get(id).reanswer(offer);
  }

  acceptAnswer(id: string, answer: string): Promise<CodecName> {
    return this.get(id).acceptAnswer(answer);
  }

  /** Installs the receive hook; the first packet is reported once. */
  private route(from: Endpoint, to: Endpoint): void {
    let first = true;
    from.onRtp = (packet) => {
      if (first) {
        first = false;
        this.emit('firstPacket', from.id);
      }
      this.relayed++;
      const te = from.telephoneEventPt;
      to.sendRtp(packet, te !== undefined && (packet[1]! & 0x7f) === te);
    };
  }

  async connect(a: string, b: string): Promise<void> {
    const ea = this.get(a);
    const eb = this.get(b);
    this.partners.set(a, b);
    this.partners.set(b, a);
    this.route(ea, eb);
    this.route(eb, ea);
  }

  async echo(id: string): Promise<void> {
    const ep = this.get(id);
    this.route(ep, ep);
  }

  async closeEndpoint(id: string): Promise<void> {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    this.endpoints.delete(id);
    const partner = this.partners.get(id);
    this.partners.delete(id);
    if (partner) {
      this.partners.delete(partner);
      const p = this.endpoints.get(partner);
      if (p) p.onRtp = undefined;
    }
    ep.close();
  }

  async stats(): Promise<MediaStats> {
    let dropped = 0;
    for (const ep of this.endpoints.values()) dropped += ep.droppedUnverified;
    return { endpoints: this.endpoints.size, bridges: this.partners.size / 2, packetsRelayed: this.relayed, packetsDroppedUnverified: dropped };
  }

  async close(): Promise<void> {
    for (const id of [...this.endpoints.keys()]) await this.closeEndpoint(id);
  }
}
