/**
 * The mixer's two pieces, free of sockets and timers so they can be tested frame by frame:
 *
 * - {@link JitterBuffer}: one per source that somebody hears mixed. Packets arrive with network
 *   jitter; the mixer takes exactly one 20 ms frame per source per tick. The buffer decodes G.711
 *   on arrival into a ring of samples placed by RTP timestamp, conceals a lost packet with
 *   silence, and keeps a margin of twice the measured interarrival jitter (RFC 3550 §6.4.1 /
 *   A.8) beyond the frame being played: ~2 ms on a quiet LAN, up to 180 ms on a bad Wi-Fi.
 *   A stream that stops (hold, DTX, a transfer) drains and refills from its next packet, so no
 *   stale audio is played when it comes back.
 * - {@link mixFor}: one listener's frame — the sum of the frames of the sources it hears (never
 *   its own: the caller passes the hearing list, which the call layer builds mix-minus), through
 *   a limiter that pulls the gain down at once when the sum would clip and lets it back up over
 *   ~200 ms, then a hard clip as the last guard. Two loud talkers never wrap around into noise.
 */
import { decodeG711 } from './g711.js';
import type { CodecName } from './sdp.js';

/** Samples in one 20 ms frame at 8 kHz (RFC 3551 §4.5.14 / §4.5.15: G.711 is 8000 Hz). */
export const SAMPLES = 160;

/** Counters of one jitter buffer (for stats and the benchmark). */
export interface JitterStats {
  /** Frames played with audio from real packets in them. */
  played: number;
  /** Frames with a hole (a packet lost while later ones had arrived), concealed with silence. */
  concealed: number;
  /** Packets that arrived after their playout time (dropped). */
  late: number;
  /** Times buffered audio was skipped to bring the delay back to target (after a burst or a late packet). */
  dropped: number;
  /** Times the stream was late for its frame (silence inserted, or the buffer ran dry and refilled). */
  underruns: number;
}

/** Ring of decoded samples: 4096 at 8 kHz = 512 ms, more than the deepest delay plus a frame. */
const RING = 4096;
/** Smallest margin kept beyond one frame (2 ms), in samples. */
const MIN_MARGIN = 16;
/** Transit-spread window: blocks of packets whose earliest and latest transit are kept (10 × 10 × 20 ms = 2 s). */
const SPREAD_BLOCK = 10;
const SPREAD_BLOCKS = 10;
/**
 * Most of the spread the margin follows (60 ms): lateness beyond it is a stall (a Wi-Fi scan, a
 * frozen sender), whose audio is dropped rather than paid for with seconds of added delay.
 * Steady jitter beyond it still raises the margin through the mean-jitter term.
 */
const SPREAD_CAP_MS = 60;
/** Frames per latency-trim window (25 × 20 ms = 0.5 s). */
const TRIM_EVERY = 25;
/** Frames in the trim window that follows a step back for a late packet (5 × 20 ms = 100 ms). */
const AFTER_STEP = 5;
/** Excess below which the trim leaves the delay alone (1 ms), in samples. */
const TRIM_SLACK = 8;

/**
 * An adaptive jitter buffer for one G.711 source, kept in samples rather than whole packets, so
 * that its delay is the arrival phase plus a margin sized to the jitter — not a whole frame more
 * for every frame of margin. Samples sit in a ring indexed by RTP timestamp (RFC 3550 §5.1; any
 * packet duration works). Each {@link pop} takes the next 160; the delay it adds is what the
 * listener hears as latency:
 *
 *   delay = (now − arrival of the newest packet) + (buffered samples − 160) / 8 ms
 *
 * that is the arrival phase against the mixer's 20 ms clock (0–20 ms) plus the margin.
 * The buffer keeps `buffered ≥ 160 + margin` at each pop, the margin the spread of the packets'
 * relative transit over the last ~2 s (how late a packet has been against the earliest, up to
 * 60 ms) or
 * twice the RFC 3550 interarrival jitter (§6.4.1 / A.8) if more, at least 2 ms, at most
 * `maxFrames` frames in all. A
 * packet late for its frame inserts exactly the silence needed for it to play (nothing is lost);
 * delay that was not needed over the last half second (after a burst, or a late packet whose
 * successor was on time) is skipped. A stream that stops or stalls for a whole frame refills from
 * its newest packet: after a Wi-Fi stall the old audio is dropped rather than played late.
 */
export class JitterBuffer {
  private readonly ring = new Int16Array(RING);
  private readonly valid = new Uint8Array(RING);
  private readonly frame = new Int16Array(SAMPLES);
  private readonly scratch = new Int16Array(RING / 4);
  private playing = false;
  private ssrc = -1;
  /** RTP timestamp of position 0; positions are samples relative to it (int32 arithmetic). */
  private baseTs = 0;
  /** Next position to play, and one past the newest sample received. */
  private cursor = 0;
  private end = 0;
  /** `end` when the play position last stepped back for a late packet (-1: not since). */
  private steppedAt = -1;
  /** One past the furthest position played since the last resync. */
  private playedTo = 0;
  /** When the packet ending at `end` arrived (performance.now() ms). */
  private endArrival = 0;
  private lastArrival = 0;
  private lastTs = 0;
  /** Smallest buffered depth seen at a pop in this trim window, and the pops in it. */
  private minBuffered = Infinity;
  private pops = 0;
  /** Interarrival jitter estimate in ms (RFC 3550 A.8, with the 1/16 gain). */
  jitterMs = 0;
  /** Earliest and latest relative transit (arrival − timestamp, ms) per block of packets. */
  private readonly transitMin = new Float64Array(SPREAD_BLOCKS).fill(Infinity);
  private readonly transitMax = new Float64Array(SPREAD_BLOCKS).fill(-Infinity);
  private transitBlock = 0;
  private transitInBlock = 0;
  /** Spread of the transit over the last ~2 s (latest − earliest, ms): how late a packet can be. */
  spreadMs = 0;
  /** Samples to hold at each pop: one frame plus the margin (adapts to jitter). */
  target = SAMPLES + MIN_MARGIN;
  /** Delay the last {@link pop}'s frame added, in ms (its newest sample's arrival → now). */
  lastDelayMs = 0;
  readonly stats: JitterStats = { played: 0, concealed: 0, late: 0, dropped: 0, underruns: 0 };

  /** `maxFrames` bounds the delay (10 frames = 200 ms, a bad Wi-Fi). */
  constructor(private readonly maxFrames = 10) {}

  /** Samples buffered ahead of the play position now. */
  get buffered(): number {
    return Math.max(0, this.end - this.cursor);
  }

  /** Adds one RTP packet (header parsed here; payload decoded with `codec`). */
  push(packet: Uint8Array, codec: CodecName, now = performance.now()): void {
    if (packet.length < 12 + 1) return;
    const cc = packet[0]! & 0x0f;
    const ext = (packet[0]! & 0x10) !== 0;
    let off = 12 + cc * 4;
    if (ext) {
      if (packet.length < off + 4) return;
      off += 4 + ((packet[off + 2]! << 8) | packet[off + 3]!) * 4;
    }
    let end = packet.length;
    if (packet[0]! & 0x20) end -= packet[end - 1]!; // padding (RFC 3550 §5.1)
    if (end <= off) return;
    const ts = ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
    const ssrc = ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0;
    const n = Math.min(end - off, RING / 4);

    if (ssrc !== this.ssrc) {
      // A new stream (a re-INVITE, a transfer, music replaced by the party): start over.
      this.reset();
      this.ssrc = ssrc;
      this.resync(ts);
    } else {
      // RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si), in ms at 8 kHz; J += (|D| - J) / 16. A stream
      // resuming after a pause (hold, silence suppression) is a gap, not jitter: not counted.
      const d = now - this.lastArrival - ((ts - this.lastTs) | 0) / 8;
      if (Math.abs(d) < 300) this.jitterMs += (Math.abs(d) - this.jitterMs) / 16;
      else this.forgetTransit();
    }
    this.lastArrival = now;
    this.lastTs = ts;
    let pos = (ts - this.baseTs) | 0;
    if (pos + n <= this.cursor && this.playing) {
      this.adapt(now - pos / 8);
      this.stats.late++;
      return;
    } else if (pos < this.cursor && !this.playing) {
      // Filling: a reordered packet from just before the first one moves the start back; one
      // from long before (a sender that restarted its clock) starts over on it.
      if (this.cursor - pos <= this.maxFrames * SAMPLES) this.cursor = pos;
      else {
        this.resync(ts);
        pos = 0;
      }
    } else if (pos + n - this.cursor > RING - 2 * SAMPLES || pos - this.end > this.maxFrames * SAMPLES) {
      // Far ahead (resumed after hold with the clock running, a jump): resynchronise on it.
      this.resync(ts);
      pos = 0;
    }

    this.adapt(now - pos / 8);
    const decoded = this.scratch.subarray(0, n);
    const got = decodeG711(codec, packet.subarray(off, off + n), decoded);
    for (let i = Math.max(0, this.cursor - pos); i < got; i++) {
      const k = (pos + i) & (RING - 1);
      this.ring[k] = decoded[i]!;
      this.valid[k] = 1;
    }
    if (pos + got > this.end) {
      this.end = pos + got;
      this.endArrival = now;
    }
    if (!this.playing && this.end - this.cursor >= SAMPLES) {
      // A frame is here: play it from the next pop, behind the margin (silence before it).
      this.playing = true;
      this.cursor = this.end - this.target;
    }
  }

  /**
   * The frame due now, or undefined for silence (not started, or the stream stopped). The
   * returned array is the buffer's own: read it before the next pop.
   */
  pop(now = performance.now()): Int16Array | undefined {
    if (!this.playing) return undefined;
    let buffered = this.end - this.cursor;
    if (buffered <= 0 || (buffered < SAMPLES && this.end === this.steppedAt)) {
      // Nothing new for a whole frame (or since the last step back): the stream stopped, or
      // stalled. It refills from its next packet.
      this.playing = false;
      this.stats.underruns++;
      return undefined;
    }
    const late = buffered < SAMPLES;
    if (late) {
      // The stream is late for this frame: step back so it plays behind the margin, the gap
      // heard as silence (those positions were played already and are empty).
      this.cursor = this.end - this.target;
      this.steppedAt = this.end;
      buffered = this.target;
      this.stats.underruns++;
      // A short trim window follows (100 ms, not counting this pop): if the next packets are
      // on time, the frame of delay the late one added goes at once.
      this.pops = TRIM_EVERY - AFTER_STEP - 1;
      this.minBuffered = Infinity;
    } else if (buffered > this.target + this.maxFrames * SAMPLES) {
      // Far too deep (a burst after a stall): cut back to the target at once.
      this.skip(buffered - this.target);
      buffered = this.target;
    }
    // Every half second (100 ms after a step back), the delay no pop needed (the smallest depth beyond the target) goes.
    if (!late) this.minBuffered = Math.min(this.minBuffered, buffered);
    if (++this.pops >= TRIM_EVERY) {
      const excess = this.minBuffered - this.target;
      if (excess >= TRIM_SLACK) {
        this.skip(excess);
        buffered -= excess;
      }
      this.pops = 0;
      this.minBuffered = Infinity;
    }

    let heard = 0;
    let holes = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const p = this.cursor + i;
      const k = p & (RING - 1);
      if (this.valid[k]) {
        this.frame[i] = this.ring[k]!;
        this.valid[k] = 0;
        heard++;
      } else {
        this.frame[i] = 0;
        // Never played, and later samples are here: a lost packet (not inserted silence).
        if (p >= this.playedTo && p < this.end) holes++;
      }
    }
    this.cursor += SAMPLES;
    this.playedTo = Math.max(this.playedTo, this.cursor);
    if (holes) this.stats.concealed++;
    if (heard === 0) return undefined;
    this.stats.played++;
    this.lastDelayMs = now - this.endArrival + (buffered - SAMPLES) / 8;
    return this.frame;
  }

  /**
   * Records one packet's relative transit (arrival − timestamp, ms) and sets the target: one
   * frame plus a margin that covers the worst lateness seen in the last ~2 s (a burst on a
   * loaded link or sender) and at least twice the mean jitter, within bounds.
   */
  private adapt(transit: number): void {
    const b = this.transitBlock;
    if (transit < this.transitMin[b]!) this.transitMin[b] = transit;
    if (transit > this.transitMax[b]!) this.transitMax[b] = transit;
    if (++this.transitInBlock >= SPREAD_BLOCK) {
      this.transitInBlock = 0;
      this.transitBlock = (b + 1) % SPREAD_BLOCKS;
      this.transitMin[this.transitBlock] = Infinity;
      this.transitMax[this.transitBlock] = -Infinity;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < SPREAD_BLOCKS; i++) {
      if (this.transitMin[i]! < lo) lo = this.transitMin[i]!;
      if (this.transitMax[i]! > hi) hi = this.transitMax[i]!;
    }
    this.spreadMs = hi - lo;
    const margin = Math.max(MIN_MARGIN, Math.round(Math.max(2 * this.jitterMs, Math.min(SPREAD_CAP_MS, this.spreadMs)) * 8));
    this.target = SAMPLES + Math.min((this.maxFrames - 1) * SAMPLES, margin);
  }

  /** Starts the transit window afresh (a new stream, or one resuming after a pause: not jitter). */
  private forgetTransit(): void {
    this.transitMin.fill(Infinity);
    this.transitMax.fill(-Infinity);
    this.transitInBlock = 0;
    this.spreadMs = 0;
  }

  /** Drops `n` samples at the play position. */
  private skip(n: number): void {
    for (let i = 0; i < n; i++) this.valid[(this.cursor + i) & (RING - 1)] = 0;
    this.cursor += n;
    this.stats.dropped++;
  }

  /** Makes `ts` position 0 with nothing buffered (not playing). */
  private resync(ts: number): void {
    this.valid.fill(0);
    this.forgetTransit();
    this.baseTs = ts;
    this.cursor = 0;
    this.end = 0;
    this.playedTo = 0;
    this.steppedAt = -1;
    this.playing = false;
  }

  /** Forgets everything buffered (the stream restarts). */
  reset(): void {
    this.valid.fill(0);
    this.playing = false;
    this.ssrc = -1;
    this.jitterMs = 0;
    this.cursor = 0;
    this.end = 0;
    this.playedTo = 0;
    this.steppedAt = -1;
    this.pops = 0;
    this.minBuffered = Infinity;
  }
}

/** A listener's limiter state: the gain applied to its mix (1 = unchanged). */
export interface Limiter {
  gain: number;
}

/** Peak a mix may reach before the limiter pulls it down (about −0.2 dBFS). */
const CEILING = 32_000;
/** Per-frame recovery of the gain toward 1 (≈200 ms to recover from a 6 dB reduction). */
const RELEASE = 0.1;

/**
 * One listener's 20 ms of audio: the sum of `frames` (undefined entries are silent sources),
 * limited and clipped into `out`. `acc` is scratch space of {@link SAMPLES} entries. Returns
 * whether anything was heard (false: `out` is silence).
 */
export function mixFor(frames: ReadonlyArray<Int16Array | undefined>, limiter: Limiter, acc: Int32Array, out: Int16Array): boolean {
  acc.fill(0);
  let any = false;
  for (const f of frames) {
    if (!f) continue;
    any = true;
    for (let i = 0; i < SAMPLES; i++) acc[i]! += f[i]!;
  }
  if (!any) {
    out.fill(0);
    // Silence lets the gain recover.
    limiter.gain = Math.min(1, limiter.gain + RELEASE * (1 - limiter.gain));
    return false;
  }
  let peak = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const a = acc[i]! < 0 ? -acc[i]! : acc[i]!;
    if (a > peak) peak = a;
  }
  // Attack at once (this frame already uses the lower gain), release slowly; the gain moves
  // linearly across the frame so a change is never a step (a click).
  const to = Math.min(Math.min(1, limiter.gain + RELEASE * (1 - limiter.gain)), CEILING / peak);
  const from = Math.min(limiter.gain, to);
  for (let i = 0; i < SAMPLES; i++) {
    const g = from + ((to - from) * i) / SAMPLES;
    let s = Math.round(acc[i]! * g);
    if (s > 32767) s = 32767;
    else if (s < -32768) s = -32768;
    out[i] = s;
  }
  limiter.gain = to;
  return true;
}
