/**
 * The mixer's two pieces, free of sockets and timers so they can be tested frame by frame:
 *
 * - {@link JitterBuffer}: one per source that somebody hears mixed. Packets arrive with network
 *   jitter; the mixer takes exactly one 20 ms frame per source per tick. The buffer decodes G.711
 *   on arrival, orders by sequence number, conceals a lost packet with silence, and adapts its
 *   depth to the measured interarrival jitter (RFC 3550 §6.4.1 / A.8): one frame on a quiet LAN,
 *   up to ten (200 ms) on a bad Wi-Fi. A stream that stops (hold, DTX, a transfer) drains and
 *   refills from the next packet, so no stale audio is played when it comes back.
 * - {@link mixFor}: one listener's frame — the sum of the frames of the sources it hears (never
 *   its own: the caller passes the hearing list, which the call layer builds mix-minus), through
 *   a limiter that pulls the gain down at once when the sum would clip and lets it back up over
 *   ~200 ms, then a hard clip as the last guard. Two loud talkers never wrap around into noise.
 */
import { decodeG711 } from './g711.js';
import type { CodecName } from './sdp.js';

/** Samples in one 20 ms frame at 8 kHz (RFC 3551 §4.5.14 / §4.5.15: G.711 is 8000 Hz). */
export const SAMPLES = 160;
/** Ring size: sequence numbers further than this ahead of playout restart the buffer. */
const SLOTS = 64;

/** Counters of one jitter buffer (for stats and the benchmark). */
export interface JitterStats {
  /** Frames played from real packets. */
  played: number;
  /** Frames that were due but missing while later ones had arrived (concealed with silence). */
  concealed: number;
  /** Packets that arrived after their playout time (dropped). */
  late: number;
  /** Frames dropped to bring the depth back to target (a burst, a faster sender clock). */
  dropped: number;
  /** Times the buffer ran dry and refilled. */
  underruns: number;
}

/** An adaptive jitter buffer for one G.711 source (20 ms packets). */
export class JitterBuffer {
  private readonly frames: Int16Array[] = Array.from({ length: SLOTS }, () => new Int16Array(SAMPLES));
  private readonly seqs = new Int32Array(SLOTS).fill(-1);
  /** When each slot's packet arrived (performance.now() ms), for latency measurements. */
  private readonly arrivals = new Float64Array(SLOTS);
  private count = 0;
  private next = 0;
  private playing = false;
  private ssrc = -1;
  private lastArrival = 0;
  private lastTs = 0;
  /** Interarrival jitter estimate in ms (RFC 3550 A.8, with the 1/16 gain). */
  jitterMs = 0;
  /** Frames to hold before playing (adapts to jitter between min and max). */
  target: number;
  readonly stats: JitterStats = { played: 0, concealed: 0, late: 0, dropped: 0, underruns: 0 };
  /** When the frame returned by the last {@link pop} arrived (0 for silence). */
  lastPlayedArrival = 0;

  constructor(
    private readonly minFrames = 1,
    private readonly maxFrames = 10,
  ) {
    this.target = minFrames;
  }

  /** Frames buffered now. */
  get depth(): number {
    return this.count;
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
    const seq = (packet[2]! << 8) | packet[3]!;
    const ts = ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
    const ssrc = ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0;

    if (ssrc !== this.ssrc) {
      // A new stream (a re-INVITE, a transfer, music replaced by the party): start over.
      this.reset();
      this.ssrc = ssrc;
    } else if (this.playing || this.count > 0) {
      // RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si), in ms at 8 kHz; J += (|D| - J) / 16. A stream
      // resuming after a pause (hold, silence suppression) is a gap, not jitter: not counted.
      const d = now - this.lastArrival - (((ts - this.lastTs) | 0) / 8);
      if (Math.abs(d) < 300) this.jitterMs += (Math.abs(d) - this.jitterMs) / 16;
    }
    this.lastArrival = now;
    this.lastTs = ts;
    // Depth to absorb about three times the jitter, within the bounds.
    this.target = Math.min(this.maxFrames, Math.max(this.minFrames, Math.ceil((3 * this.jitterMs) / 20)));

    if (!this.playing) {
      // Still filling: the oldest packet decides where playout starts (a reordered first few).
      if (this.count === 0) this.next = seq;
      else if (((seq - this.next) & 0xffff) >= 0x8000 && ((this.next - seq) & 0xffff) <= 8) this.next = seq;
    }
    const ahead = (seq - this.next) & 0xffff;
    if (ahead >= 0x8000) {
      this.stats.late++;
      return;
    }
    if (ahead >= SLOTS) {
      // A jump (a sender restart, a long gap on a new sequence): resynchronise on it.
      this.reset();
      this.ssrc = ssrc;
      this.next = seq;
    }

    const slot = seq % SLOTS;
    if (this.seqs[slot] === seq) return; // a duplicate
    if (this.seqs[slot] === -1) this.count++;
    this.seqs[slot] = seq;
    this.arrivals[slot] = now;
    const frame = this.frames[slot]!;
    const n = decodeG711(codec, packet.subarray(off, end), frame);
    if (n < SAMPLES) frame.fill(0, n);
    if (!this.playing && this.count >= this.target) this.playing = true;
  }

  /**
   * The frame due now, or undefined for silence (still filling, or a gap). The returned array is
   * the buffer's own: read it before the next push.
   */
  pop(): Int16Array | undefined {
    if (!this.playing) return undefined;
    if (this.count === 0) {
      // Ran dry: refill to the target before playing again (the next packet starts it).
      this.playing = false;
      this.stats.underruns++;
      this.lastPlayedArrival = 0;
      return undefined;
    }
    // Too deep (a burst after a stall, or the sender's clock runs fast): drop the oldest.
    while (this.count > this.target + 2) {
      this.take();
      this.stats.dropped++;
    }
    const frame = this.take();
    if (frame) this.stats.played++;
    else this.stats.concealed++;
    return frame;
  }

  /** Takes the frame at `next` (or nothing, a gap) and advances. */
  private take(): Int16Array | undefined {
    const slot = this.next % SLOTS;
    this.next = (this.next + 1) & 0xffff;
    if (this.seqs[slot] !== ((this.next - 1) & 0xffff)) {
      this.lastPlayedArrival = 0;
      return undefined;
    }
    this.seqs[slot] = -1;
    this.count--;
    this.lastPlayedArrival = this.arrivals[slot]!;
    return this.frames[slot];
  }

  /** Forgets everything buffered (the stream restarts). */
  reset(): void {
    this.seqs.fill(-1);
    this.count = 0;
    this.playing = false;
    this.ssrc = -1;
    this.jitterMs = 0;
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
