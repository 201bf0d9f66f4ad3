/**
 * Music on hold: a built-in loop (a soft C-E-G arpeggio, 262/330/392 Hz, 400 ms per note with a
 * gentle envelope) or a configured 8 kHz mono 16-bit WAV file, encoded once per codec with
 * G.711 (ITU-T G.711 µ-law and A-law) and cut into 20 ms RTP payloads.
 */
import { readFileSync } from 'node:fs';
import type { CodecName } from './sdp.js';

const RATE = 8000;
/** Samples per 20 ms packet. */
export const FRAME = 160;

/** ITU-T G.711 µ-law encoding of one 16-bit sample. */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** ITU-T G.711 A-law encoding of one 16-bit sample. */
export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample))) >> 3;
  let mask: number;
  if (s >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    s = -s - 1;
  }
  const seg = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff].findIndex((end) => s <= end);
  if (seg < 0) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f);
  return aval ^ mask;
}

/** The built-in loop: three notes, 400 ms each, with 20 ms fades, at about −16 dBFS. */
export function builtInMusic(): Int16Array {
  const notes = [261.63, 329.63, 392.0];
  const noteLen = 0.4 * RATE;
  const out = new Int16Array(notes.length * noteLen);
  notes.forEach((f, n) => {
    for (let i = 0; i < noteLen; i++) {
      const env = Math.min(1, i / 160, (noteLen - i) / 160);
      out[n * noteLen + i] = Math.round(0.22 * 32767 * env * Math.sin((2 * Math.PI * f * i) / RATE));
    }
  });
  return out;
}

/**
 * Built-in signalling tones, played like music by naming `tone:<name>` instead of a file:
 * `confirm` — three 1400 Hz beeps of 100 ms (a feature code done), then 1.4 s of silence;
 * `reorder` — 480 + 620 Hz, 250 ms on and off (refused; ITU-T E.180 / North American reorder).
 */
export const TONES = {
  confirm: (): Int16Array => tonePattern([1400], [[100, 100], [100, 100], [100, 1400]]),
  reorder: (): Int16Array => tonePattern([480, 620], [[250, 250]]),
  /** North American ringback (440 + 480 Hz, 2 s on, 4 s off): a click-to-dial call's target is ringing. */
  ringback: (): Int16Array => tonePattern([440, 480], [[2000, 4000]]),
} as const;

/** `freqs` summed, switched on/off by `cadence` ([on ms, off ms], …), about −12 dBFS. */
function tonePattern(freqs: number[], cadence: Array<[number, number]>): Int16Array {
  const total = cadence.reduce((n, [on, off]) => n + ((on + off) * RATE) / 1000, 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const [on, off] of cadence) {
    const n = (on * RATE) / 1000;
    for (let i = 0; i < n; i++) {
      const env = Math.min(1, i / 40, (n - i) / 40);
      out[at + i] = Math.round((0.25 * 32767 * env * freqs.reduce((v, f) => v + Math.sin((2 * Math.PI * f * i) / RATE), 0)) / freqs.length);
    }
    at += n + (off * RATE) / 1000;
  }
  return out;
}

/** Reads an 8 kHz mono 16-bit PCM WAV file. Throws with a clear message otherwise. */
export function readMusicWav(path: string): Int16Array {
  const b = readFileSync(path);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV file`);
  let off = 12;
  let fmt: { channels: number; rate: number; bits: number } | undefined;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { channels: b.readUInt16LE(off + 10), rate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) };
    if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== RATE || fmt.bits !== 16) throw new Error(`${path} must be 8000 Hz mono 16-bit PCM (sox in.wav -r 8000 -c 1 -b 16 out.wav)`);
      const n = Math.floor(Math.min(size, b.length - off - 8) / 2);
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) pcm[i] = b.readInt16LE(off + 8 + 2 * i);
      return pcm;
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path} has no audio data`);
}

/** A music source encoded per codec, served as 20 ms payloads in a loop. */
export class MusicSource {
  private readonly encoded = new Map<CodecName, Buffer>();
  private readonly pcm: Int16Array;

  constructor(pcm: Int16Array) {
    // Whole frames only, so the loop stays packet-aligned.
    const frames = Math.max(1, Math.floor(pcm.length / FRAME));
    this.pcm = pcm.subarray(0, frames * FRAME);
  }

  /** Frames in one loop. */
  get frames(): number {
    return this.pcm.length / FRAME;
  }

  /** The payload of frame `i` (mod loop length) in `codec`. */
  frame(codec: CodecName, i: number): Buffer {
    let enc = this.encoded.get(codec);
    if (!enc) {
      const f = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
      enc = Buffer.alloc(this.pcm.length);
      for (let k = 0; k < this.pcm.length; k++) enc[k] = f(this.pcm[k]!);
      this.encoded.set(codec, enc);
    }
    const n = i % this.frames;
    return enc.subarray(n * FRAME, (n + 1) * FRAME);
  }
}
