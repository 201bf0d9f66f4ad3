/**
 * The in-thread media engine: owns endpoints and relays packets between bridged pairs without
 * decoding. It runs inside the media worker (see worker-engine.ts), or directly in tests.
 */
import { Emitter } from '../util/emitter.js';
import type { Endpoint } from './endpoint.js';
import { builtInMusic, FRAME, MusicSource, readMusicWav } from './music.js';
import { RtpEndpoint } from './rtp-endpoint.js';
import { STATIC_PT, type CodecName } from './sdp.js';
import type { EndpointKind, MediaEngine, MediaEngineEvents, MediaOptions, MediaStats } from './types.js';
import { WebRtcEndpoint } from './webrtc-endpoint.js';

/**
 * One outgoing RTP stream per endpoint (RFC 3550 §5.1, §8): whatever feeds it — the bridged
 * party, music on hold, the party again after resume — the far end sees one SSRC with
 * continuous sequence numbers and timestamps. Without this a browser's jitter buffer discards
 * the party's packets after hold as "old" (found by the hold e2e test).
 */
export class OutputStream {
  private readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  private source?: number;
  private seqDelta = 0;
  private tsDelta = 0;
  private lastSeq = 0;
  private lastTs = 0;
  private started = false;

  /** Rewrites SSRC, sequence number and timestamp in place; marks the first packet of each new source. */
  write(pkt: Buffer): Buffer {
    const ssrc = pkt.readUInt32BE(8);
    const seq = pkt.readUInt16BE(2);
    const ts = pkt.readUInt32BE(4);
    if (ssrc !== this.source) {
      this.source = ssrc;
      const nextSeq = this.started ? (this.lastSeq + 1) & 0xffff : seq;
      const nextTs = this.started ? (this.lastTs + FRAME) >>> 0 : ts;
      this.seqDelta = (nextSeq - seq) & 0xffff;
      this.tsDelta = (nextTs - ts) >>> 0;
      pkt[1] = pkt[1]! | 0x80; // marker: a new talkspurt (RFC 3551 §4.1)
    }
    const outSeq = (seq + this.seqDelta) & 0xffff;
    const outTs = (ts + this.tsDelta) >>> 0;
    pkt.writeUInt16BE(outSeq, 2);
    pkt.writeUInt32BE(outTs, 4);
    pkt.writeUInt32BE(this.ssrc, 8);
    // Remember the newest packet (sequence arithmetic modulo 2^16).
    if (!this.started || ((outSeq - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = outSeq;
      this.lastTs = outTs;
      this.started = true;
    }
    return pkt;
  }
}

/** RFC 4733 §3.2 event codes 0-15. */
const DTMF_EVENTS = '0123456789*#ABCD';

/** Media engine running in the current thread. */
export class LocalMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly partners = new Map<string, string>();
  private nextId = 1;
  private relayed = 0;
  private readonly players = new Map<string, NodeJS.Timeout>();
  private readonly outputs = new Map<string, OutputStream>();
  /** Until when relayed audio to an endpoint is held back for a generated DTMF event (ms). */
  private readonly dtmfUntil = new Map<string, number>();
  /** Digits waiting to be played per endpoint (one event at a time, RFC 4733 §2.5). */
  private readonly digitQueue = new Map<string, Promise<void>>();

  async hasTelephoneEvent(id: string): Promise<boolean> {
    return this.endpoints.get(id)?.telephoneEventPt !== undefined;
  }

  async sendDigit(id: string, digit: string): Promise<boolean> {
    const ep = this.get(id);
    const event = DTMF_EVENTS.indexOf(digit.toUpperCase());
    if (event < 0 || ep.telephoneEventPt === undefined) return false;
    const play = () =>
      new Promise<void>((resolve) => {
        // One event: the same RTP timestamp on every packet, duration growing every 20 ms, then
        // three end packets (E bit) — RFC 4733 §2.5.1.
        const ssrc = (Math.random() * 0xffffffff) >>> 0;
        const ts = (Math.random() * 0xffffffff) >>> 0;
        let seq = (Math.random() * 0xffff) | 0;
        const steps = 8;
        let n = 0;
        this.dtmfUntil.set(id, performance.now() + (steps + 3) * 20 + 60);
        const send = (duration: number, end: boolean, marker: boolean) => {
          const pkt = Buffer.alloc(16);
          pkt[0] = 0x80;
          pkt[1] = (marker ? 0x80 : 0) | ep.telephoneEventPt!;
          pkt.writeUInt16BE(seq, 2);
          seq = (seq + 1) & 0xffff;
          pkt.writeUInt32BE(ts, 4);
          pkt.writeUInt32BE(ssrc, 8);
          pkt[12] = event;
          pkt[13] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
          pkt.writeUInt16BE(duration, 14);
          ep.sendRtp(this.output(id).write(pkt), true);
        };
        const timer = setInterval(() => {
          n++;
          if (n <= steps) send(n * FRAME, false, n === 1);
          else send(steps * FRAME, true, false);
          if (n >= steps + 3) {
            clearInterval(timer);
            resolve();
          }
        }, 20);
      });
    const prev = this.digitQueue.get(id) ?? Promise.resolve();
    const next = prev.then(play, play);
    this.digitQueue.set(id, next);
    await next;
    return true;
  }

  private output(id: string): OutputStream {
    let o = this.outputs.get(id);
    if (!o) this.outputs.set(id, (o = new OutputStream()));
    return o;
  }
  private music?: MusicSource;

  constructor(private readonly opts: MediaOptions) {
    super();
  }

  private musicSource(): MusicSource {
    this.music ??= new MusicSource(this.opts.musicOnHold ? readMusicWav(this.opts.musicOnHold) : builtInMusic());
    return this.music;
  }

  async hold(id: string): Promise<void> {
    const ep = this.get(id);
    if (this.players.has(id)) return;
    const partner = this.partners.get(id);
    // Neither side hears the other while on hold.
    ep.onRtp = undefined;
    if (partner) {
      const p = this.endpoints.get(partner);
      if (p) p.onRtp = undefined;
    }
    this.players.set(id, this.playMusic(ep));
  }

  async resume(id: string): Promise<void> {
    const timer = this.players.get(id);
    if (timer) clearInterval(timer);
    this.players.delete(id);
    const partner = this.partners.get(id);
    const ep = this.endpoints.get(id);
    const p = partner ? this.endpoints.get(partner) : undefined;
    if (ep && p) {
      this.route(ep, p);
      this.route(p, ep);
    }
  }

  /**
   * Sends the music to `ep` as its own RTP stream (new SSRC), 20 ms per packet, catching up on
   * timer drift from the wall clock so the pace stays 50 packets/s.
   */
  private playMusic(ep: Endpoint): NodeJS.Timeout {
    const music = this.musicSource();
    const codec = ep.codec ?? 'PCMU';
    const ssrc = (Math.random() * 0xffffffff) >>> 0;
    let seq = (Math.random() * 0xffff) | 0;
    let ts = (Math.random() * 0xffffffff) >>> 0;
    let sent = 0;
    const start = performance.now();
    const timer = setInterval(() => {
      const due = Math.floor((performance.now() - start) / 20) + 1;
      for (let n = 0; sent < due && n < 5; n++, sent++) {
        const payload = music.frame(codec, sent);
        const pkt = Buffer.alloc(12 + payload.length);
        pkt[0] = 0x80;
        pkt[1] = (sent === 0 ? 0x80 : 0) | STATIC_PT[codec];
        pkt.writeUInt16BE(seq, 2);
        pkt.writeUInt32BE(ts >>> 0, 4);
        pkt.writeUInt32BE(ssrc, 8);
        payload.copy(pkt, 12);
        seq = (seq + 1) & 0xffff;
        ts = (ts + FRAME) >>> 0;
        ep.sendRtp(this.output(ep.id).write(pkt));
      }
      sent = Math.max(sent, due - 5);
    }, 20);
    timer.unref?.();
    return timer;
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

  /** Installs the receive hook; the first packet is reported once, each DTMF digit once. */
  private route(from: Endpoint, to: Endpoint): void {
    let first = true;
    let lastEventTs: number | undefined;
    from.onRtp = (packet) => {
      if (first) {
        first = false;
        this.emit('firstPacket', from.id);
      }
      this.relayed++;
      const te = from.telephoneEventPt;
      const dtmf = te !== undefined && (packet[1]! & 0x7f) === te;
      // While a generated digit plays to `to`, its relayed audio waits (one stream, one source).
      const hush = this.dtmfUntil.get(to.id);
      if (hush !== undefined && !dtmf) {
        if (performance.now() < hush) return;
        this.dtmfUntil.delete(to.id);
      }
      if (dtmf && packet.length >= 16) {
        // RFC 4733 §2.3: one event = one RTP timestamp, repeated (and its end sent 3 times).
        const ts = packet.readUInt32BE(4);
        const digit = DTMF_EVENTS[packet[12]!];
        if (ts !== lastEventTs && digit) {
          lastEventTs = ts;
          this.emit('dtmf', from.id, digit);
        }
      }
      to.sendRtp(this.output(to.id).write(packet), dtmf);
    };
  }

  async connect(a: string, b: string): Promise<void> {
    const ea = this.get(a);
    const eb = this.get(b);
    // Re-bridging (a transfer): the endpoints' previous partners stop feeding them.
    for (const [x, y] of [[a, b], [b, a]] as const) {
      const old = this.partners.get(x);
      if (old !== undefined && old !== y) {
        this.partners.delete(old);
        const o = this.endpoints.get(old);
        if (o) o.onRtp = undefined;
      }
    }
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
    const player = this.players.get(id);
    if (player) clearInterval(player);
    this.players.delete(id);
    this.outputs.delete(id);
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
