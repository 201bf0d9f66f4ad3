/**
 * ITU-T G.711 µ-law and A-law as lookup tables, for the mixer's hot path: decoding is one
 * 256-entry table, encoding one 64 Ki-entry table indexed by the 16-bit sample (built once at
 * load from the reference per-sample encoders in music.ts, ~1 ms). A 20 ms frame of 160 samples
 * then costs 160 table reads each way.
 */
import { linearToAlaw, linearToUlaw } from './music.js';
import type { CodecName } from './sdp.js';

/** µ-law byte → 16-bit sample (ITU-T G.711, the inverse of linearToUlaw). */
function ulawToLinear(u: number): number {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  let s = ((mantissa << 3) + 0x84) << exponent;
  s -= 0x84;
  return sign ? -s : s;
}

/** A-law byte → 16-bit sample (ITU-T G.711, the inverse of linearToAlaw). */
function alawToLinear(a: number): number {
  a ^= 0x55;
  const sign = a & 0x80;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return sign ? t : -t;
}

const DECODE: Record<CodecName, Int16Array> = { PCMU: new Int16Array(256), PCMA: new Int16Array(256) };
const ENCODE: Record<CodecName, Uint8Array> = { PCMU: new Uint8Array(65536), PCMA: new Uint8Array(65536) };
for (let b = 0; b < 256; b++) {
  DECODE.PCMU[b] = ulawToLinear(b);
  DECODE.PCMA[b] = alawToLinear(b);
}
for (let s = -32768; s < 32768; s++) {
  ENCODE.PCMU[s + 32768] = linearToUlaw(s);
  ENCODE.PCMA[s + 32768] = linearToAlaw(s);
}

/** Decodes a G.711 payload into `out` (160 samples for 20 ms); returns the samples written. */
export function decodeG711(codec: CodecName, payload: Uint8Array, out: Int16Array): number {
  const table = DECODE[codec];
  const n = Math.min(payload.length, out.length);
  for (let i = 0; i < n; i++) out[i] = table[payload[i]!]!;
  return n;
}

/** Encodes 16-bit samples (already clipped to ±32767) into a G.711 payload. */
export function encodeG711(codec: CodecName, pcm: Int16Array, out: Uint8Array): void {
  const table = ENCODE[codec];
  for (let i = 0; i < pcm.length; i++) out[i] = table[pcm[i]! + 32768]!;
}
