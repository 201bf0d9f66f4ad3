/**
 * Audio helpers for tests: write sine-tone WAV files (the fake microphones), read WAV files
 * (baresip's recordings) and measure a signal's dominant frequency and level.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Writes a 16-bit mono PCM WAV of a sine tone at `amplitude` (0..1). */
export function writeToneWav(path: string, freq: number, seconds: number, sampleRate = 48_000, amplitude = 0.5): void {
  const n = Math.floor(seconds * sampleRate);
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * freq * i) / sampleRate) * amplitude * 32767), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  writeFileSync(path, Buffer.concat([h, data]));
}

/**
 * Reads a 16-bit PCM WAV (first channel) as floats in -1..1. `live`: the file is still being
 * written (baresip's recording of a call in progress), so its header's sizes are not final —
 * read the data chunk to the end of the file.
 */
export function readWav(path: string, live = false): { sampleRate: number; samples: Float32Array } {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV file`);
  let off = 12;
  let sampleRate = 8000;
  let channels = 1;
  let bits = 16;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(off + 10);
      sampleRate = buf.readUInt32LE(off + 12);
      bits = buf.readUInt16LE(off + 22);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${path}: only 16-bit PCM is supported`);
      const end = live ? buf.length : Math.min(buf.length, off + 8 + size);
      const count = Math.floor((end - off - 8) / (2 * channels));
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) samples[i] = buf.readInt16LE(off + 8 + i * 2 * channels) / 32768;
      return { sampleRate, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

/** Power of one frequency in a block (Goertzel), normalised to the block's energy. */
function goertzel(x: Float32Array, sampleRate: number, freq: number): number {
  const k = (2 * Math.cos((2 * Math.PI * freq) / sampleRate));
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s = x[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/** Dominant frequency (20 Hz steps, 200–3400 Hz) and RMS level in dBFS of a signal. */
export function analyse(samples: Float32Array, sampleRate: number): { frequency: number; levelDb: number } {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  const block = samples.subarray(0, Math.min(samples.length, sampleRate)); // up to 1 s
  let best = 0;
  let bestF = 0;
  for (let f = 200; f <= 3400; f += 20) {
    const p = goertzel(block, sampleRate, f);
    if (p > best) {
      best = p;
      bestF = f;
    }
  }
  return { frequency: bestF, levelDb: rms > 0 ? 20 * Math.log10(rms) : -Infinity };
}

/** The loudest stretch of `seconds` in a recording (skips silence before the call connected). */
export function loudestWindow(samples: Float32Array, sampleRate: number, seconds = 1): Float32Array {
  const w = Math.floor(seconds * sampleRate);
  if (samples.length <= w) return samples;
  let bestStart = 0;
  let best = -1;
  for (let start = 0; start + w <= samples.length; start += Math.floor(w / 4)) {
    let e = 0;
    for (let i = start; i < start + w; i++) e += samples[i]! * samples[i]!;
    if (e > best) {
      best = e;
      bestStart = start;
    }
  }
  return samples.subarray(bestStart, bestStart + w);
}

/**
 * The audio a recording received recently: `seconds` ending `lagSeconds` before the end of what
 * has been written so far (the writer buffers a little), for checks during a call.
 */
export function recentAudio(file: string, seconds = 1, lagSeconds = 0.3): { frequency: number; levelDb: number; samples: Float32Array; sampleRate: number } {
  const { samples, sampleRate } = readWav(file, true);
  const end = Math.max(0, samples.length - Math.floor(lagSeconds * sampleRate));
  const win = samples.subarray(Math.max(0, end - Math.floor(seconds * sampleRate)), end);
  return { ...analyse(win, sampleRate), samples: win, sampleRate };
}

/** Relative power (dB) of `freq` in a block: how much of the block's energy is at that frequency. */
export function toneLevelDb(samples: Float32Array, sampleRate: number, freq: number): number {
  const p = goertzel(samples, sampleRate, freq);
  // Goertzel power of a full-scale sine over N samples is (N/2)^2 * ... normalise to dBFS of a sine.
  const n = samples.length;
  const amp = (2 * Math.sqrt(Math.max(p, 0))) / Math.max(1, n);
  return amp > 0 ? 20 * Math.log10(amp / Math.SQRT2) : -Infinity;
}

/** Levels (dBFS, RMS of the sine) of `freqs` in what a recording received over its last `seconds` (see {@link recentAudio}). */
export function recentTones(file: string, freqs: number[], seconds = 1, lagSeconds = 0.3): Record<number, number> {
  const { samples, sampleRate } = recentAudio(file, seconds, lagSeconds);
  return Object.fromEntries(freqs.map((f) => [f, toneLevelDb(samples, sampleRate, f)]));
}
