/**
 * The mixer's two pieces, free of sockets and timers so they can be tested frame by frame:
 *
 * - {@link JitterBuffer}: one per source that somebody hears mixed. Packets arrive with network
 *   jitter; the mixer takes exactly one 20 ms frame per source per tick. The buffer decodes G.711
 *   on arrival into a ring of samples placed by RTP timestamp, conceals a lost packet with
 *   silence, and holds the fewest whole frames of margin that kept every packet on time lately.
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
  /** Times whole frames of delay were dropped (no tick needed them for half a second; a burst). */
  dropped: number;
  /** Times a packet was not there at its tick (late, or the stream stopped): silence, then a refill. */
  underruns: number;
}

/** Ring of decoded samples: 4096 at 8 kHz = 512 ms, more than the deepest delay plus a frame. */
const RING = 4096;
/** Pops per trim window (25 × 20 ms = 0.5 s). */
const TRIM_EVERY = 25;
/** Pops after a late packet before a frame of delay may go again (100 × 20 ms = 2 s). */
const HOLD_AFTER_LATE = 100;

/**
 * An adaptive jitter buffer for one G.711 source. Samples sit in a ring placed by RTP timestamp
 * (RFC 3550 §5.1; any packet duration works); each {@link pop} takes the next 160. The delay it
 * adds is what the listener hears as latency:
 *
 *   delay = (now − arrival of the newest packet) + (buffered samples − 160) / 8 ms
 *
 * — the arrival phase against the mixer's 20 ms clock (0–20 ms) plus whole frames of margin.
 * Only whole frames protect: the mixer needs a packet at the first tick whose frame overlaps it,
 * so a part-frame margin would add delay and save no late packet. The buffer starts with no
 * margin (it plays the newest packet at the next tick). A packet late for its tick makes it
 * refill from that packet — one frame of silence, nothing lost — which is a frame of margin
 * from then on; a packet overtaken by a later one (played as a hole) steps playout back by the
 * frames it missed by, so the next one as late makes it. A frame of margin no packet needed
 * over half a second (each landed at least a frame ahead of playout) is dropped, but not within
 * 2 s of a late packet (so a sender that is late now and then does not make it step back and
 * forth). A burst deeper than `maxFrames` (a stall) is cut to two frames at once, the old audio
 * dropped rather than played late. A stream that stops (hold, DTX, a transfer) refills from its
 * next packet. The RFC 3550 interarrival jitter (§6.4.1 / A.8) is tracked in `jitterMs`.
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
  /** One past the furthest position played since the last resync. */
  private playedTo = 0;
  /** When the packet ending at `end` arrived (performance.now() ms). */
  private endArrival = 0;
  private lastArrival = 0;
  private lastTs = 0;
  /** Whether the buffer ran dry while playing (the next packet is late, not a new talkspurt). */
  private starved = false;
  /**
   * How far ahead of the play position the packets of this trim window landed, at least (in
   * samples); the pops in the window, and the pops left before trimming is allowed.
   */
  private minLead = Infinity;
  private pops = 0;
  private hold = 0;
  /** Interarrival jitter estimate in ms (RFC 3550 A.8, with the 1/16 gain). */
  jitterMs = 0;
  /** Delay the last {@link pop}'s frame added, in ms (its newest sample's arrival → now). */
  lastDelayMs = 0;
  readonly stats: JitterStats = { played: 0, concealed: 0, late: 0, dropped: 0, underruns: 0 };

  /** `maxFrames` bounds the delay (10 frames = 200 ms, a bad Wi-Fi). */
  constructor(private readonly maxFrames = 10) {}

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
    }
    this.lastArrival = now;
    this.lastTs = ts;

    let pos = (ts - this.baseTs) | 0;
    if (pos < this.cursor && this.playing) {
      // Late: its place was played as silence already (overtaken by a later packet, so no tick
      // went without data). Playing it now would put it out of order; instead the play position
      // steps back the whole frames it missed by (silence now), so the next one as late makes it.
      this.stats.late++;
      const back = Math.ceil((this.cursor - pos) / SAMPLES) * SAMPLES;
      if (this.end - this.cursor + back <= this.maxFrames * SAMPLES) {
        this.cursor -= back;
        this.holdAfterLate();
      }
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

    if (this.playing) this.minLead = Math.min(this.minLead, pos - this.cursor);
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
      // A frame is here: play from where playout stopped at the next tick (a packet that
      // overtook the missing one makes that a frame of margin); from the newest frame if that
      // is too far back.
      this.playing = true;
      if (this.end - this.cursor > this.maxFrames * SAMPLES) this.cursor = this.end - SAMPLES;
      if (this.starved) {
        // It was late for its tick: the frame of delay it gained stays a while.
        this.starved = false;
        this.holdAfterLate();
      }
    }
  }

  /**
   * The frame due now, or undefined for silence (not started, or the stream is late or stopped).
   * The returned array is the buffer's own: read it before the next pop.
   */
  pop(now = performance.now()): Int16Array | undefined {
    if (!this.playing) return undefined;
    let buffered = this.end - this.cursor;
    if (buffered < SAMPLES) {
      // Its packet is not here: silence now, and it plays from the next tick when it comes
      // (or the stream stopped). The samples left are played again as part of that frame.
      this.playing = false;
      this.starved = true;
      this.stats.underruns++;
      return undefined;
    }
    if (buffered > this.maxFrames * SAMPLES) {
      // Far too deep (a burst after a stall): keep two frames.
      this.skip(buffered - 2 * SAMPLES);
      buffered = 2 * SAMPLES;
    }
    // Whole frames of delay no packet needed for half a second go (every packet landed at
    // least that far ahead of the play position); not while held after a late one.
    if (this.hold > 0) this.hold--;
    else if (++this.pops >= TRIM_EVERY) {
      const spare = Math.min(buffered - SAMPLES, Math.floor(this.minLead / SAMPLES) * SAMPLES);
      if (spare > 0) {
        this.skip(spare);
        buffered -= spare;
      }
      this.pops = 0;
      this.minLead = Infinity;
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
        // Never played, and later samples are here: a lost packet.
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

  /** A packet was late: the delay it added is kept for a while before trimming may take it. */
  private holdAfterLate(): void {
    this.hold = HOLD_AFTER_LATE;
    this.pops = 0;
    this.minLead = Infinity;
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
    this.baseTs = ts;
    this.cursor = 0;
    this.end = 0;
    this.playedTo = 0;
    this.playing = false;
    this.starved = false;
  }

  /** Forgets everything buffered (the stream restarts). */
  reset(): void {
    this.valid.fill(0);
    this.playing = false;
    this.starved = false;
    this.ssrc = -1;
    this.jitterMs = 0;
    this.cursor = 0;
    this.end = 0;
    this.playedTo = 0;
    this.pops = 0;
    this.hold = 0;
    this.minLead = Infinity;
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
  limitInto(acc, limiter, out);
  return true;
}

/**
 * Mix-minus from a bridge's total: `out` = limit(`total` − `own`), for a listener who hears
 * every source summed in `total` except its own (`own` undefined: it was silent). One sum per
 * frame for the whole conference instead of one per listener — O(N), not O(N²). `acc` is
 * scratch; `othersHeard` says whether any other source had sound (false: `out` is silence).
 */
export function mixMinus(total: Int32Array, own: Int16Array | undefined, othersHeard: boolean, limiter: Limiter, acc: Int32Array, out: Int16Array): boolean {
  if (!othersHeard) return mixFor([], limiter, acc, out);
  if (own) for (let i = 0; i < SAMPLES; i++) acc[i] = total[i]! - own[i]!;
  else acc.set(total);
  limitInto(acc, limiter, out);
  return true;
}

/** The limiter and the hard clip: `acc` (a sum) into `out`, updating the listener's gain. */
function limitInto(acc: Int32Array, limiter: Limiter, out: Int16Array): void {
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
}
