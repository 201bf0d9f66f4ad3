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
  private readonly ssrc = newSource();
  private source?: number;
  private seqDelta = 0;
  private tsDelta = 0;
  private lastSeq = 0;
  private lastTs = 0;
  private started = false;
  /** Until when (performance.now() ms) relayed audio waits for a generated DTMF event; 0 = not paused. */
  pausedUntil = 0;

  /** Whether relayed (non-event) packets are held back now; clears an expired pause. */
  relayPaused(): boolean {
    if (this.pausedUntil === 0) return false;
    if (performance.now() < this.pausedUntil) return true;
    this.pausedUntil = 0;
    return false;
  }

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

/**
 * A packet from a source the engine generates (music, DTMF). Its SSRC only has to differ from
 * the relayed party's: the endpoint's {@link OutputStream} rewrites SSRC, sequence and timestamp.
 */
function rtpPacket(ssrc: number, pt: number, marker: boolean, n: number, ts: number, payload: Buffer): Buffer {
  const pkt = Buffer.alloc(12 + payload.length);
  pkt[0] = 0x80;
  pkt[1] = (marker ? 0x80 : 0) | pt;
  pkt.writeUInt16BE(n & 0xffff, 2);
  pkt.writeUInt32BE(ts >>> 0, 4);
  pkt.writeUInt32BE(ssrc, 8);
  payload.copy(pkt, 12);
  return pkt;
}

function newSource(): number {
  return (Math.random() * 0xffffffff) >>> 0;
}

/** One listener of music on hold / queue music. */
interface MusicPlayer {
  ep: Endpoint;
  /** The music's file ('' = the default) and its source. */
  file: string;
  music: MusicSource;
  codec: CodecName;
  out: OutputStream;
  ssrc: number;
  /** When the stream started, and how many 20 ms frames were sent since. */
  start: number;
  sent: number;
}

/** Media engine running in the current thread. */
export class LocalMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly partners = new Map<string, string>();
  private nextId = 1;
  private relayed = 0;
  /** Endpoints hearing music, all fed by one 20 ms ticker. */
  private readonly players = new Map<string, MusicPlayer>();
  private ticker?: NodeJS.Timeout;
  private readonly outputs = new Map<string, OutputStream>();
  /** Digits waiting to be played per endpoint (one event at a time, RFC 4733 §2.5). */
  private readonly digitQueue = new Map<string, Promise<void>>();
  /** Music sources by file ('' = the default), decoded and encoded once each. */
  private readonly music = new Map<string, MusicSource>();

  /** Endpoints whose peer may be silent now (holding), and those already reported silent. */
  private readonly quietAllowed = new Set<string>();
  private readonly reportedSilent = new Set<string>();
  private livenessTimer?: NodeJS.Timeout;

  constructor(private readonly opts: MediaOptions) {
    super();
    if (opts.rtpTimeoutMs && opts.rtpTimeoutMs > 0) {
      // One check a second for every endpoint: a Map walk, cheap against 50 packets/s per leg.
      this.livenessTimer = setInterval(() => this.checkLiveness(opts.rtpTimeoutMs!), Math.min(1000, opts.rtpTimeoutMs / 2));
      this.livenessTimer.unref?.();
    }
  }

  private checkLiveness(timeoutMs: number): void {
    const now = performance.now();
    for (const [id, ep] of this.endpoints) {
      if (!ep.peerSends || ep.lastRxAt === 0 || this.quietAllowed.has(id) || this.reportedSilent.has(id)) continue;
      const silent = now - ep.lastRxAt;
      if (silent < timeoutMs) continue;
      this.reportedSilent.add(id);
      this.emit('timeout', id, Math.round(silent));
    }
  }

  async expectMedia(id: string, expected: boolean): Promise<void> {
    if (expected) {
      if (this.quietAllowed.delete(id)) {
        // The clock restarts now: silence while holding does not count.
        const ep = this.endpoints.get(id);
        if (ep && ep.lastRxAt !== 0) ep.lastRxAt = Math.max(ep.lastRxAt, performance.now());
      }
    } else this.quietAllowed.add(id);
  }

  /**
   * Runs one WebRTC offer/answer between two throw-away endpoints, so the first real call does
   * not pay for loading and compiling werift's offer/answer path (~35–60 ms measured cold,
   * 2–4 ms warm). Best effort: a failure here only means the first call is slower.
   */
  async warmUp(): Promise<void> {
    const a = new WebRtcEndpoint('warm-a', this.opts);
    const b = new WebRtcEndpoint('warm-b', this.opts);
    try {
      await b.answer(await a.offer(['PCMU', 'PCMA']), 'PCMU');
    } catch {
      // ignore
    } finally {
      a.close();
      b.close();
    }
  }

  async hasTelephoneEvent(id: string): Promise<boolean> {
    return this.endpoints.get(id)?.telephoneEventPt !== undefined;
  }

  async sendDigit(id: string, digit: string): Promise<boolean> {
    const ep = this.get(id);
    const event = DTMF_EVENTS.indexOf(digit.toUpperCase());
    if (event < 0 || ep.telephoneEventPt === undefined) return false;
    const out = this.output(id);
    const play = () =>
      new Promise<void>((resolve) => {
        // One event: the same RTP timestamp on every packet, duration growing every 20 ms, then
        // three end packets (E bit) — RFC 4733 §2.5.1. Relayed audio to this leg waits meanwhile.
        const ssrc = newSource();
        const steps = 8;
        let n = 0;
        out.pausedUntil = performance.now() + (steps + 3) * 20 + 60;
        const timer = setInterval(() => {
          n++;
          const end = n > steps;
          const payload = Buffer.alloc(4);
          payload[0] = event;
          payload[1] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
          payload.writeUInt16BE(Math.min(n, steps) * FRAME, 2);
          ep.sendRtp(out.write(rtpPacket(ssrc, ep.telephoneEventPt!, n === 1, n, 0, payload)), true);
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

  /** Stops relaying what endpoint `id` receives. */
  private unroute(id: string | undefined): void {
    if (id === undefined) return;
    const ep = this.endpoints.get(id);
    if (ep) ep.onRtp = undefined;
  }

  private musicSource(file = ''): MusicSource {
    let m = this.music.get(file);
    if (!m) {
      const path = file || this.opts.musicOnHold;
      this.music.set(file, (m = new MusicSource(path ? readMusicWav(path) : builtInMusic())));
    }
    return m;
  }

  async hold(id: string, music = ''): Promise<void> {
    const ep = this.get(id);
    if (this.players.get(id)?.file === music) return;
    // Neither side hears the other while on hold.
    this.unroute(id);
    this.unroute(this.partners.get(id));
    this.players.set(id, this.playMusic(ep, music));
  }

  async resume(id: string): Promise<void> {
    this.stopMusic(id);
    const partner = this.partners.get(id);
    const ep = this.endpoints.get(id);
    const p = partner ? this.endpoints.get(partner) : undefined;
    if (ep && p) {
      this.route(ep, p);
      this.route(p, ep);
    }
  }

  /**
   * Starts the music to `ep` as its own RTP stream (new SSRC). One 20 ms ticker feeds every
   * listener — hundreds of waiting callers cost one timer, not hundreds — and each listener
   * catches up on timer drift from the wall clock so its pace stays 50 packets/s.
   */
  private playMusic(ep: Endpoint, file: string): MusicPlayer {
    const player: MusicPlayer = { ep, file, music: this.musicSource(file), codec: ep.codec ?? 'PCMU', out: this.output(ep.id), ssrc: newSource(), start: performance.now(), sent: 0 };
    if (!this.ticker) {
      this.ticker = setInterval(() => this.tick(), 20);
      this.ticker.unref?.();
    }
    return player;
  }

  private tick(): void {
    const now = performance.now();
    for (const p of this.players.values()) {
      const due = Math.floor((now - p.start) / 20) + 1;
      // Catch up at most 5 frames; beyond that skip (sequence and timestamp skip with them).
      p.sent = Math.max(p.sent, due - 5);
      for (; p.sent < due; p.sent++) p.ep.sendRtp(p.out.write(rtpPacket(p.ssrc, STATIC_PT[p.codec], p.sent === 0, p.sent, p.sent * FRAME, p.music.frame(p.codec, p.sent))));
    }
  }

  private stopMusic(id: string): void {
    this.players.delete(id);
    if (!this.players.size && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private get(id: string): Endpoint {
    const ep = this.endpoints.get(id);
    if (!ep) throw new Error(`no media endpoint ${id}`);
    return ep;
  }

  async createEndpoint(kind: EndpointKind): Promise<string> {
    const id = `${kind}-${this.opts.idPrefix ?? ''}${this.nextId++}`;
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

  reoffer(id: string): Promise<string> {
    return this.get(id).reoffer();
  }

  acceptAnswer(id: string, answer: string): Promise<CodecName> {
    return this.get(id).acceptAnswer(answer);
  }

  /** Installs the receive hook; the first packet is reported once, each DTMF digit once. */
  private route(from: Endpoint, to: Endpoint): void {
    let first = true;
    let lastEventTs: number | undefined;
    const out = this.output(to.id);
    from.onRtp = (packet) => {
      if (first) {
        first = false;
        this.emit('firstPacket', from.id);
      }
      this.relayed++;
      const te = from.telephoneEventPt;
      const dtmf = te !== undefined && (packet[1]! & 0x7f) === te;
      // While a generated digit plays to `to`, its relayed audio waits (one stream, one source).
      if (!dtmf && out.relayPaused()) return;
      if (dtmf && packet.length >= 16) {
        // RFC 4733 §2.3: one event = one RTP timestamp, repeated (and its end sent 3 times).
        const ts = packet.readUInt32BE(4);
        const digit = DTMF_EVENTS[packet[12]!];
        if (ts !== lastEventTs && digit) {
          lastEventTs = ts;
          this.emit('dtmf', from.id, digit);
        }
      }
      to.sendRtp(out.write(packet), dtmf);
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
        this.unroute(old);
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
    this.stopMusic(id);
    this.outputs.delete(id);
    this.endpoints.delete(id);
    this.quietAllowed.delete(id);
    this.reportedSilent.delete(id);
    const partner = this.partners.get(id);
    this.partners.delete(id);
    if (partner) {
      this.partners.delete(partner);
      this.unroute(partner);
    }
    ep.close();
  }

  async stats(): Promise<MediaStats> {
    let dropped = 0;
    for (const ep of this.endpoints.values()) dropped += ep.droppedUnverified;
    return { endpoints: this.endpoints.size, bridges: this.partners.size / 2, packetsRelayed: this.relayed, packetsDroppedUnverified: dropped };
  }

  async close(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    for (const id of [...this.endpoints.keys()]) await this.closeEndpoint(id);
  }
}
