/**
 * The in-thread media engine: owns endpoints and the bridges between them. It runs inside the
 * media worker (see worker-engine.ts), or directly in tests.
 *
 * A bridge is a set of members, each with the list of endpoints it hears (the call layer builds
 * that hearing matrix: mix-minus, monitor, whisper). Every listener's output is one of:
 * - relay: it hears exactly one source with the same codec — that source's packets are
 *   forwarded as they arrive, never decoded (a two-party call, a monitored agent's customer);
 * - mix: it hears two or more (or one with another codec) — each source it hears goes through a
 *   jitter buffer and is decoded, and one 20 ms ticker sums, limits and encodes its frame;
 * - music: music on hold or a queue's music;
 * - silence: it hears nobody (a party holding, a silent monitor's customer side).
 * Switching between them never breaks the listener's RTP stream: its {@link OutputStream}
 * keeps one SSRC with continuous sequence numbers and timestamps.
 */
import { Emitter } from '../util/emitter.js';
import type { Endpoint } from './endpoint.js';
import { builtInMusic, FRAME, MusicSource, readMusicWav, TONES } from './music.js';
import { encodeG711 } from './g711.js';
import { JitterBuffer, mixFor, mixMinus, SAMPLES, type Limiter } from './mixer.js';
import { RtpEndpoint } from './rtp-endpoint.js';
import { STATIC_PT, type CodecName } from './sdp.js';
import type { BridgeMember, EndpointKind, MediaEngine, MediaEngineEvents, MediaOptions, MediaStats, OfferOptions, ReceiveCounters } from './types.js';
import { ReceiveStats } from './receive-stats.js';
import { WebRtcEndpoint } from './webrtc-endpoint.js';

/**
 * One outgoing RTP stream per endpoint (RFC 3550 §5.1, §8): whatever feeds it — the bridged
 * party, music on hold, the party again after resume — the far end sees one SSRC with
 * continuous sequence numbers and timestamps. Without this a browser's jitter buffer discards
 * the party's packets after hold as "old" (found by the hold e2e test).
 */
export class OutputStream {
  private ssrc = newSource();
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

  /**
   * Goes on as a new SSRC (sequence and timestamps still continuous): the far end has heard
   * another source meanwhile, not through this stream (rtpengine's direct mode). Chrome plays
   * only the newest SSRC it has not seen before on an m-line without a=ssrc: coming back as an
   * SSRC it saw earlier, before the other source, it would not be heard.
   */
  newSource(): void {
    this.ssrc = newSource();
    this.source = undefined; // the next packet is marked (a new talkspurt)
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

/** What happens to the packets an endpoint receives. */
interface Feed {
  /** Listeners that hear only this endpoint: its packets are forwarded to them as they are. */
  relay: Endpoint[];
  /** Set when some listener mixes this endpoint: its audio is buffered and decoded for the mixer. */
  jb?: JitterBuffer;
  /** Listeners that mix this endpoint (DTMF events are forwarded to them too). */
  mixedInto: Ear[];
  first: boolean;
  lastEventTs?: number;
  /** What arrives from this endpoint's peer (RFC 3550 receiver counters). */
  rx: ReceiveStats;
  /** A bad line injected by a test (see {@link MediaEngine.impair}). */
  impaired?: Impairment | undefined;
}

/** A listener whose output is mixed. */
interface Ear {
  ep: Endpoint;
  sources: string[];
  limiter: Limiter;
  out: OutputStream;
  ssrc: number;
  seq: number;
  ts: number;
  /** Whether the last frame was sent as silence (the next sound starts a talkspurt). */
  silent: boolean;
}

/** A bridge: its members, its mixed listeners and their common frame clock. */
interface Bridge {
  members: BridgeMember[];
  ears: Ear[];
  /** Frame clock of the mixed listeners: when it started and how many frames were produced. */
  start: number;
  sent: number;
}

/** Latency samples kept for stats (a mixed source's audio: its packet's arrival → sent in the mix). */
const LATENCY_SAMPLES = 2048;
/** Histogram of the same latencies since start: 0.5 ms buckets up to 250 ms. */
const LATENCY_BUCKETS = 500;

/**
 * A 20 ms grid on the monotonic clock. Everything the ticker sends starts on a grid point, so
 * one timer serves every player and bridge. `now()` is read a millisecond ahead: timers fire
 * on whole milliseconds, and a wake-up a fraction early must still count as on time.
 */
class FrameClock {
  private readonly epoch = performance.now();
  /** Now, rounded onto the grid's timeline (up to 1 ms early counts as the grid point). */
  now(): number {
    return performance.now() + 1;
  }
  /** The grid point at or before now (where a new player or bridge starts). */
  grid(): number {
    return this.epoch + Math.floor((performance.now() + 1 - this.epoch) / 20) * 20;
  }
  /** Milliseconds to the next grid point (at least 1). */
  untilNext(): number {
    const since = (performance.now() - this.epoch) % 20;
    return Math.max(1, Math.ceil(20 - since));
  }
}

/** Media engine running in the current thread. */
export class LocalMediaEngine extends Emitter<MediaEngineEvents> implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly feeds = new Map<string, Feed>();
  private readonly bridges = new Map<string, Bridge>();
  /** Which bridge each endpoint belongs to. */
  private readonly memberOf = new Map<string, string>();
  private nextId = 1;
  private relayed = 0;
  private mixedFrames = 0;
  /** Endpoints hearing music, all fed by one 20 ms ticker. */
  private readonly players = new Map<string, MusicPlayer>();
  /** Mixed listeners' state, kept across bridge changes (one stream, one limiter). */
  private readonly ears = new Map<string, Ear>();
  private ticker?: NodeJS.Timeout;
  /** The 20 ms grid every player and bridge sends on (one timer wakes for all of them). */
  private readonly clock = new FrameClock();
  private readonly outputs = new Map<string, OutputStream>();
  /** Digits waiting to be played per endpoint (one event at a time, RFC 4733 §2.5). */
  private readonly digitQueue = new Map<string, Promise<void>>();
  /** Music sources by file ('' = the default), decoded and encoded once each. */
  private readonly music = new Map<string, MusicSource>();
  /** Scratch buffers of the mixer (one listener at a time). */
  private readonly acc = new Int32Array(SAMPLES);
  private readonly total = new Int32Array(SAMPLES);
  private readonly pcm = new Int16Array(SAMPLES);
  /** Recent added latencies of mixed frames (ms), a ring. */
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private latencyCount = 0;
  private readonly latencyHist = new Uint32Array(LATENCY_BUCKETS);

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

  async newOutputSource(id: string): Promise<void> {
    if (this.endpoints.has(id)) this.output(id).newSource();
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
        // three end packets (E bit) — RFC 4733 §2.5.1. Other audio to this leg waits meanwhile.
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

  private musicSource(file = ''): MusicSource {
    let m = this.music.get(file);
    if (!m) {
      const path = file || this.opts.musicOnHold;
      const name = file.startsWith('tone:') ? file.slice(5) : '';
      const tone = Object.hasOwn(TONES, name) ? TONES[name as keyof typeof TONES] : undefined;
      this.music.set(file, (m = new MusicSource(tone ? tone() : path ? readMusicWav(path) : builtInMusic())));
    }
    return m;
  }

  /**
   * Sets a bridge's members and who hears whom; replaces its previous membership. An endpoint
   * moving here from another bridge leaves that one first (a transfer joins two calls). Members
   * whose endpoint does not exist (closed meanwhile) are ignored.
   */
  async setBridge(bridgeId: string, members: readonly BridgeMember[]): Promise<void> {
    const live = members.filter((m) => this.endpoints.has(m.endpoint));
    const ids = new Set(live.map((m) => m.endpoint));
    const old = this.bridges.get(bridgeId);
    for (const m of old?.members ?? []) if (!ids.has(m.endpoint)) this.detach(m.endpoint);
    for (const id of ids) {
      const other = this.memberOf.get(id);
      if (other !== undefined && other !== bridgeId) this.leave(other, id);
      this.memberOf.set(id, bridgeId);
    }
    if (!live.length) {
      this.bridges.delete(bridgeId);
      return;
    }
    const bridge: Bridge = old ?? { members: [], ears: [], start: 0, sent: 0 };
    bridge.members = live.map((m) => ({ endpoint: m.endpoint, hears: m.hears.filter((h) => ids.has(h)), ...(m.music !== undefined ? { music: m.music } : {}) }));
    this.bridges.set(bridgeId, bridge);
    this.wire(bridge);
  }

  async closeBridge(bridgeId: string): Promise<void> {
    const b = this.bridges.get(bridgeId);
    if (!b) return;
    for (const m of b.members) this.detach(m.endpoint);
    this.bridges.delete(bridgeId);
  }

  /** Takes `id` out of bridge `bridgeId` (nobody hears it there any more), rewiring the rest. */
  private leave(bridgeId: string, id: string): void {
    const b = this.bridges.get(bridgeId);
    this.detach(id);
    if (!b) return;
    b.members = b.members.filter((m) => m.endpoint !== id).map((m) => ({ ...m, hears: m.hears.filter((h) => h !== id) }));
    if (!b.members.length) this.bridges.delete(bridgeId);
    else this.wire(b);
  }

  /** An endpoint leaves its bridge: it hears nothing, and its packets go nowhere. */
  private detach(id: string): void {
    this.memberOf.delete(id);
    this.stopMusic(id);
    this.ears.delete(id);
    const feed = this.feeds.get(id);
    if (feed) {
      feed.relay = [];
      feed.mixedInto = [];
      delete feed.jb;
    }
  }

  /** Computes every member's output from the hearing lists and installs the routes. */
  private wire(bridge: Bridge): void {
    for (const m of bridge.members) {
      const f = this.feeds.get(m.endpoint);
      if (f) {
        f.relay = [];
        f.mixedInto = [];
      }
    }
    const ears: Ear[] = [];
    const mixed = new Set<string>();
    for (const m of bridge.members) {
      const ep = this.endpoints.get(m.endpoint)!;
      if (m.music !== undefined) {
        this.ears.delete(m.endpoint);
        if (this.players.get(m.endpoint)?.file !== m.music) this.players.set(m.endpoint, this.playMusic(ep, m.music));
        continue;
      }
      this.stopMusic(m.endpoint);
      const only = m.hears.length === 1 ? this.endpoints.get(m.hears[0]!) : undefined;
      if (only && (!only.codec || !ep.codec || only.codec === ep.codec)) {
        this.ears.delete(m.endpoint);
        this.feeds.get(only.id)!.relay.push(ep);
        continue;
      }
      if (!m.hears.length) {
        this.ears.delete(m.endpoint);
        continue;
      }
      let ear = this.ears.get(m.endpoint);
      if (!ear) this.ears.set(m.endpoint, (ear = { ep, sources: [], limiter: { gain: 1 }, out: this.output(m.endpoint), ssrc: newSource(), seq: 0, ts: 0, silent: true }));
      ear.sources = [...m.hears];
      ears.push(ear);
      for (const s of m.hears) {
        mixed.add(s);
        this.feeds.get(s)!.mixedInto.push(ear);
      }
    }
    for (const m of bridge.members) {
      const f = this.feeds.get(m.endpoint)!;
      if (!mixed.has(m.endpoint)) delete f.jb;
      else f.jb ??= new JitterBuffer();
    }
    if (ears.length && !bridge.ears.length) {
      bridge.start = this.clock.grid();
      bridge.sent = 0;
    }
    bridge.ears = ears;
    this.ensureTicker();
  }

  /** Every packet an endpoint receives: reported, then relayed and/or buffered for the mixer. */
  private receive(from: Endpoint, feed: Feed, packet: Buffer, late = false): void {
    if (!late && feed.impaired && !feed.impaired.pass(() => this.receive(from, feed, packet, true))) return;
    if (feed.first) {
      feed.first = false;
      this.emit('firstPacket', from.id);
    }
    this.relayed++;
    // The endpoint stamped the arrival just before handing the packet over; a packet held back
    // by an injected impairment arrives now.
    feed.rx.update(packet, late ? performance.now() : from.lastRxAt);
    const te = from.telephoneEventPt;
    const dtmf = te !== undefined && (packet[1]! & 0x7f) === te;
    if (dtmf && packet.length >= 16) {
      // RFC 4733 §2.3: one event = one RTP timestamp, repeated (and its end sent 3 times).
      const ts = packet.readUInt32BE(4);
      const digit = DTMF_EVENTS[packet[12]!];
      if (ts !== feed.lastEventTs && digit) {
        feed.lastEventTs = ts;
        this.emit('dtmf', from.id, digit);
      }
    }
    if (!dtmf && feed.jb && from.codec) feed.jb.push(packet, from.codec);
    // Mixed listeners get the event packets too, their mix paused meanwhile (one stream).
    if (dtmf) {
      for (const ear of feed.mixedInto) {
        ear.out.pausedUntil = performance.now() + 60;
        ear.ep.sendRtp(ear.out.write(Buffer.from(packet)), true);
      }
    }
    const n = feed.relay.length;
    for (let i = 0; i < n; i++) {
      const to = feed.relay[i]!;
      const out = this.output(to.id);
      // While a generated digit plays to `to`, its relayed audio waits (one stream, one source).
      if (!dtmf && out.relayPaused()) continue;
      // The last listener gets the packet itself; others a copy (the stream rewrite is in place).
      to.sendRtp(out.write(i === n - 1 ? packet : Buffer.from(packet)), dtmf);
    }
  }

  /**
   * Starts the music to `ep` as its own RTP stream (new SSRC). One 20 ms ticker feeds every
   * listener — hundreds of waiting callers cost one timer, not hundreds — and each listener
   * catches up on timer drift from the wall clock so its pace stays 50 packets/s.
   */
  private playMusic(ep: Endpoint, file: string): MusicPlayer {
    return { ep, file, music: this.musicSource(file), codec: ep.codec ?? 'PCMU', out: this.output(ep.id), ssrc: newSource(), start: this.clock.grid(), sent: 0 };
  }

  private ensureTicker(): void {
    const needed = this.players.size > 0 || [...this.bridges.values()].some((b) => b.ears.length > 0);
    if (needed && !this.ticker) this.schedule();
    else if (!needed && this.ticker) {
      clearTimeout(this.ticker);
      this.ticker = undefined;
    }
  }

  /**
   * Wakes at the next 20 ms grid point (not every 20 ms from whenever the last tick ran: an
   * interval drifts later under load, and a frame that misses its moment waits a whole tick).
   */
  private schedule(): void {
    this.ticker = setTimeout(() => {
      // After this loop turn's I/O (setImmediate runs after the poll phase): when the thread
      // was busy past a grid point, the packets that arrived meanwhile are in the buffers before
      // the frames they belong to are mixed, instead of being taken for late.
      setImmediate(() => this.tick());
      if (this.ticker) this.schedule();
    }, this.clock.untilNext());
    this.ticker.unref?.();
  }

  private tick(): void {
    const now = this.clock.now();
    for (const p of this.players.values()) {
      const due = Math.floor((now - p.start) / 20) + 1;
      // Catch up at most 5 frames; beyond that skip (sequence and timestamp skip with them).
      p.sent = Math.max(p.sent, due - 5);
      for (; p.sent < due; p.sent++) {
        if (p.out.relayPaused()) continue;
        p.ep.sendRtp(p.out.write(rtpPacket(p.ssrc, STATIC_PT[p.codec], p.sent === 0, p.sent, p.sent * FRAME, p.music.frame(p.codec, p.sent))));
      }
    }
    for (const b of this.bridges.values()) if (b.ears.length) this.mix(b, now);
  }

  /** Produces the bridge's due frames for each mixed listener. */
  private mix(b: Bridge, now: number): void {
    const due = Math.floor((now - b.start) / 20) + 1;
    b.sent = Math.max(b.sent, due - 5);
    const frames = new Map<string, Int16Array | undefined>();
    for (; b.sent < due; b.sent++) {
      frames.clear();
      const at = performance.now();
      for (const ear of b.ears) {
        for (const s of ear.sources) {
          if (frames.has(s)) continue;
          const jb = this.feeds.get(s)?.jb;
          const f = jb?.pop(at);
          frames.set(s, f);
          // The delay this source's audio gets in the mix (its packet's arrival → sent now).
          if (f && jb) {
            this.latencies[this.latencyCount++ % LATENCY_SAMPLES] = jb.lastDelayMs;
            this.latencyHist[Math.min(LATENCY_BUCKETS - 1, Math.max(0, Math.floor(jb.lastDelayMs * 2)))]!++;
          }
        }
      }
      // The bridge's total, for the listeners who hear everyone but themselves (a conference).
      this.total.fill(0);
      let heardCount = 0;
      for (const f of frames.values()) {
        if (!f) continue;
        heardCount++;
        for (let i = 0; i < SAMPLES; i++) this.total[i]! += f[i]!;
      }
      for (const ear of b.ears) {
        const codec = ear.ep.codec ?? 'PCMU';
        let sound: boolean;
        if (frames.has(ear.ep.id) && ear.sources.length === frames.size - 1) {
          const own = frames.get(ear.ep.id);
          sound = mixMinus(this.total, own, heardCount > (own ? 1 : 0), ear.limiter, this.acc, this.pcm);
        } else {
          sound = mixFor(ear.sources.map((s) => frames.get(s)), ear.limiter, this.acc, this.pcm);
        }
        const payload = Buffer.allocUnsafe(12 + SAMPLES);
        encodeG711(codec, this.pcm, payload.subarray(12));
        payload[0] = 0x80;
        // Marker on the first packet after silence (RFC 3551 §4.1: the start of a talkspurt).
        payload[1] = (sound && ear.silent ? 0x80 : 0) | STATIC_PT[codec];
        payload.writeUInt16BE(ear.seq, 2);
        payload.writeUInt32BE(ear.ts >>> 0, 4);
        payload.writeUInt32BE(ear.ssrc, 8);
        ear.seq = (ear.seq + 1) & 0xffff;
        ear.ts = (ear.ts + SAMPLES) >>> 0;
        ear.silent = !sound;
        if (ear.out.relayPaused()) continue;
        ear.ep.sendRtp(ear.out.write(payload));
        this.mixedFrames++;
      }
    }
  }

  private stopMusic(id: string): void {
    if (this.players.delete(id)) this.ensureTicker();
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
    const feed: Feed = { relay: [], mixedInto: [], first: true, rx: new ReceiveStats() };
    this.feeds.set(id, feed);
    ep.onRtp = (packet) => this.receive(ep, feed, packet);
    this.endpoints.set(id, ep);
    return id;
  }

  answer(id: string, offer: string, codec: CodecName): Promise<string> {
    return this.get(id).answer(offer, codec);
  }

  offer(id: string, codecs: readonly CodecName[], opts?: OfferOptions): Promise<string> {
    // (`opts.peer`: this engine relays nothing peer to peer.) A dynamic payload type only (RFC 3551 §3: 96-127).
    const te = opts?.telephoneEvent;
    return this.get(id).offer(codecs, te !== undefined && te >= 96 && te <= 127 ? te : undefined);
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

  async closeEndpoint(id: string): Promise<void> {
    const ep = this.endpoints.get(id);
    if (!ep) return;
    const bridge = this.memberOf.get(id);
    if (bridge !== undefined) this.leave(bridge, id);
    this.detach(id);
    this.feeds.delete(id);
    this.outputs.delete(id);
    this.endpoints.delete(id);
    this.quietAllowed.delete(id);
    this.reportedSilent.delete(id);
    ep.close();
  }

  async stats(): Promise<MediaStats> {
    let dropped = 0;
    for (const ep of this.endpoints.values()) dropped += ep.droppedUnverified;
    let mixedListeners = 0;
    for (const b of this.bridges.values()) mixedListeners += b.ears.length;
    const jitter = { played: 0, concealed: 0, late: 0, dropped: 0, underruns: 0 };
    for (const f of this.feeds.values()) {
      if (!f.jb) continue;
      for (const k of Object.keys(jitter) as Array<keyof typeof jitter>) jitter[k] += f.jb.stats[k];
    }
    const n = Math.min(this.latencyCount, LATENCY_SAMPLES);
    const lat = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    const pct = (p: number) => (n ? lat[Math.min(n - 1, Math.floor(n * p))]! : 0);
    return {
      endpoints: this.endpoints.size,
      bridges: this.bridges.size,
      packetsRelayed: this.relayed,
      packetsDroppedUnverified: dropped,
      mixing: { listeners: mixedListeners, framesMixed: this.mixedFrames, ...jitter, latencyP50Ms: pct(0.5), latencyP99Ms: pct(0.99), latencyBuckets: Array.from(this.latencyHist) },
    };
  }

  async impair(id: string, impairment: { lossPct: number; delayMs: number } | null): Promise<void> {
    const ep = this.get(id);
    const feed = this.feeds.get(id)!;
    if (feed.impaired) ep.sendRtp = feed.impaired.send;
    feed.impaired = undefined;
    if (!impairment) return;
    const send = ep.sendRtp;
    const bad = new Impairment(impairment.lossPct, impairment.delayMs, send);
    feed.impaired = bad;
    // Packets to the peer: dropped or late too (copied when delayed: callers reuse buffers).
    ep.sendRtp = (packet, dtmf) => {
      const copy = impairment.delayMs > 0 ? Buffer.from(packet) : packet;
      if (bad.pass(() => send.call(ep, copy, dtmf))) send.call(ep, copy, dtmf);
    };
  }

  async receiveStats(ids: readonly string[]): Promise<Record<string, ReceiveCounters>> {
    const out: Record<string, ReceiveCounters> = {};
    for (const id of ids) {
      const c = this.feeds.get(id)?.rx.snapshot();
      if (c && c.received) out[id] = c;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    for (const id of [...this.endpoints.keys()]) await this.closeEndpoint(id);
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = undefined;
  }
}

/** A bad line on one leg (test fault injection): evenly spread loss, a fixed delay for the rest. */
class Impairment {
  private credit = 0;

  constructor(
    private readonly lossPct: number,
    private readonly delayMs: number,
    readonly send: Endpoint['sendRtp'],
  ) {}

  /** Whether a packet goes through now; a delayed one is handed to `later` and false returned. */
  pass(later: () => void): boolean {
    this.credit += this.lossPct;
    if (this.credit >= 100) {
      this.credit -= 100;
      return false;
    }
    if (this.delayMs <= 0) return true;
    setTimeout(later, this.delayMs);
    return false;
  }
}
