/**
 * The mixer's pieces frame by frame: the jitter buffer (order, loss, lateness, adaptation,
 * refill) and one listener's mix (mix-minus sums, the limiter that keeps two loud talkers from
 * wrapping around).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeG711, encodeG711 } from './g711.js';
import { JitterBuffer, mixFor, mixMinus, SAMPLES } from './mixer.js';

/** An RTP packet whose 160 PCMU samples are all `value` (so frames can be told apart). */
function packet(seq: number, value: number, ssrc = 1234): Buffer {
  const p = Buffer.alloc(12 + SAMPLES);
  p[0] = 0x80;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  encodeG711('PCMU', new Int16Array(SAMPLES).fill(value), p.subarray(12));
  return p;
}

/**
 * The (G.711-rounded) value a frame ends with, or undefined for silence. The buffer plays a
 * couple of ms behind the newest sample, so a frame's end carries the packet it is mostly made of.
 */
function valueOf(f: Int16Array | undefined): number | undefined {
  return f ? f[SAMPLES - 1] : undefined;
}

const q = (v: number) => {
  const out = new Int16Array(1);
  const enc = new Uint8Array(1);
  encodeG711('PCMU', new Int16Array([v]), enc);
  decodeG711('PCMU', enc, out);
  return out[0];
};

test('G.711 tables: decode(encode(x)) stays within the µ-law and A-law step sizes', () => {
  for (const codec of ['PCMU', 'PCMA'] as const) {
    for (const x of [0, 1, 100, 1000, 8000, 20000, 32767, -1, -1000, -32768]) {
      const enc = new Uint8Array(1);
      const dec = new Int16Array(1);
      encodeG711(codec, new Int16Array([x]), enc);
      decodeG711(codec, enc, dec);
      assert.ok(Math.abs(dec[0]! - x) <= Math.max(16, Math.abs(x) / 16), `${codec} ${x} -> ${dec[0]}`);
    }
  }
});

test('jitter buffer: frames come out in sequence order even when packets arrive reordered', () => {
  const jb = new JitterBuffer();
  for (const seq of [10, 12, 11]) jb.push(packet(seq, seq * 100), 'PCMU', 0);
  // Each frame read before the next pop (the buffer reuses its frame).
  assert.deepEqual([valueOf(jb.pop(0)), valueOf(jb.pop(0)), valueOf(jb.pop(0))], [q(1000), q(1100), q(1200)]);
});

test('jitter buffer: a lost packet is concealed with silence and playout goes on', () => {
  const jb = new JitterBuffer();
  const got: Array<number | undefined> = [];
  for (const seq of [1, 2, 4, 5]) {
    jb.push(packet(seq, seq * 100), 'PCMU', seq * 20);
    got.push(valueOf(jb.pop(seq * 20)));
  }
  got.push(valueOf(jb.pop(120)));
  assert.deepEqual(got, [q(100), q(200), undefined, q(400), q(500)]);
  assert.equal(jb.stats.concealed, 1);
  assert.equal(jb.stats.underruns, 0);
});

test('jitter buffer: a packet after its playout time is dropped as late', () => {
  const jb = new JitterBuffer();
  jb.push(packet(1, 100), 'PCMU', 0);
  jb.push(packet(2, 200), 'PCMU', 20);
  jb.pop(20);
  jb.pop(40);
  jb.push(packet(1, 100), 'PCMU', 40);
  assert.equal(jb.stats.late, 1);
});

/**
 * Feeds a buffer in time order: packet i arrives at `arrival(i)`, the mixer pops at 20 ms + `phase`
 * steps. Returns each pop's delay (undefined: silence).
 */
function simulate(jb: JitterBuffer, frames: number, arrival: (i: number) => number, phase: number): Array<number | undefined> {
  const events: Array<{ at: number; push?: number }> = [];
  for (let i = 0; i < frames; i++) events.push({ at: arrival(i), push: i }, { at: i * 20 + phase });
  // At the same moment, the packet is there before the tick.
  events.sort((a, b) => a.at - b.at || (a.push === undefined ? 1 : -1));
  const delays: Array<number | undefined> = [];
  for (const e of events) {
    if (e.push !== undefined) jb.push(packet(e.push, 100 + (e.push % 100)), 'PCMU', e.at);
    else delays.push(jb.pop(e.at) ? jb.lastDelayMs : undefined);
  }
  return delays;
}

test('jitter buffer: a steady stream plays at its arrival phase, no margin; a jittery one settles on the frames of margin it needs', () => {
  const steady = new JitterBuffer();
  const d = simulate(steady, 100, (i) => i * 20, 5);
  assert.ok(d.every((x) => x !== undefined && Math.abs(x - 5) < 0.01), `steady delays: ${[...new Set(d)].join(', ')}`);
  assert.equal(steady.stats.underruns, 0);
  // ±30 ms of arrival jitter (a bad Wi-Fi): after the first second, nothing late any more.
  const jittery = new JitterBuffer();
  const j = simulate(jittery, 300, (i) => 100 + i * 20 + (i % 2 ? 30 : -30), 7);
  const settled = j.slice(60);
  assert.ok(settled.every((x) => x !== undefined), `silent pops after settling: ${settled.filter((x) => x === undefined).length}`);
  assert.ok(Math.max(...(settled as number[])) <= 80, `delay ${Math.max(...(settled as number[]))} ms`);
  assert.ok(jittery.jitterMs > 20, `RFC 3550 jitter ${jittery.jitterMs.toFixed(1)} ms`);
});

test('jitter buffer: a packet late for its tick costs one frame of silence, nothing lost; the frame of margin it adds goes 2.5 s later if unused', () => {
  const jb = new JitterBuffer();
  // Packets every 20 ms, the mixer pops 10 ms after each; packet 30 comes 15 ms late.
  const d = simulate(jb, 300, (i) => i * 20 + (i === 30 ? 15 : 0), 10);
  assert.deepEqual(d.flatMap((x, i) => (x === undefined ? [i] : [])), [30], 'one frame of silence while packet 30 was late');
  assert.equal(jb.stats.late, 0);
  assert.equal(jb.stats.underruns, 1);
  assert.ok(Math.abs(d[10]! - 10) < 0.01, `before: ${d[10]} ms`);
  // Packet 30 plays at the next tick, 30 − 15 = 15 ms after it came... and every later one a frame behind.
  assert.ok(d.slice(32, 120).every((x) => Math.abs(x! - 30) < 0.01), `held: ${[...new Set(d.slice(32, 120))].join(', ')}`);
  assert.ok(d.slice(170).every((x) => Math.abs(x! - 10) < 0.01), `after the trim: ${[...new Set(d.slice(170))].join(', ')}`);
  assert.equal(jb.stats.dropped, 1);
});

test('jitter buffer: a stream that stops drains, then refills from its next packet (no stale audio)', () => {
  const jb = new JitterBuffer();
  jb.push(packet(1, 100), 'PCMU', 0);
  assert.equal(valueOf(jb.pop(0)), q(100));
  assert.equal(jb.pop(20), undefined);
  assert.equal(jb.pop(40), undefined);
  assert.equal(jb.stats.underruns, 1);
  // The sender resumes far ahead (hold, DTX): it plays at once from there.
  jb.push(packet(500, 500), 'PCMU', 5000);
  assert.equal(valueOf(jb.pop(5000)), q(500));
});

test('jitter buffer: a new SSRC (a re-INVITE, a transfer) starts over', () => {
  const jb = new JitterBuffer();
  jb.push(packet(1, 100, 1), 'PCMU', 0);
  jb.push(packet(9000, 900, 2), 'PCMU', 20);
  assert.equal(valueOf(jb.pop(20)), q(900));
});

test('jitter buffer: a burst deeper than ten frames (a stall) is cut to the newest two at once', () => {
  const jb = new JitterBuffer(10);
  for (let i = 1; i <= 16; i++) jb.push(packet(i, i * 100), 'PCMU', 0);
  assert.equal(valueOf(jb.pop(0)), q(1500));
  assert.equal(jb.stats.dropped, 1);
  assert.ok(Math.abs(jb.lastDelayMs - 20) < 0.01, `delay ${jb.lastDelayMs} ms`);
  assert.equal(valueOf(jb.pop(20)), q(1600));
});

/** Level (dB of a sine's RMS re full scale) of one frequency in a block (Goertzel). */
function toneLevelDb(x: Float32Array, rate: number, freq: number): number {
  const k = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const v of x) {
    const s = v + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const amp = (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - k * s1 * s2))) / x.length;
  return 20 * Math.log10(amp / Math.SQRT2);
}

function sine(freq: number, amplitude: number, n = SAMPLES, start = 0): Int16Array {
  const f = new Int16Array(n);
  for (let i = 0; i < n; i++) f[i] = Math.round(Math.sin((2 * Math.PI * freq * (start + i)) / 8000) * amplitude * 32767);
  return f;
}

test('mix: the sum of the frames heard; silent sources count as nothing', () => {
  const acc = new Int32Array(SAMPLES);
  const out = new Int16Array(SAMPLES);
  const lim = { gain: 1 };
  const a = new Int16Array(SAMPLES).fill(1000);
  const b = new Int16Array(SAMPLES).fill(-300);
  assert.equal(mixFor([a, undefined, b], lim, acc, out), true);
  assert.equal(out[0], 700);
  assert.equal(mixFor([undefined], lim, acc, out), false);
  assert.equal(out[0], 0);
});

test('mix: two full-scale talkers never wrap around — the limiter keeps both tones, peak at most full scale', () => {
  const acc = new Int32Array(SAMPLES);
  const out = new Int16Array(SAMPLES);
  const lim = { gain: 1 };
  const mixed = new Float32Array(SAMPLES * 50);
  for (let k = 0; k < 50; k++) {
    mixFor([sine(500, 1, SAMPLES, k * SAMPLES), sine(1300, 1, SAMPLES, k * SAMPLES)], lim, acc, out);
    for (let i = 0; i < SAMPLES; i++) mixed[k * SAMPLES + i] = out[i]! / 32768;
  }
  let peak = 0;
  for (const v of mixed) peak = Math.max(peak, Math.abs(v));
  assert.ok(peak <= 1, `peak ${peak}`);
  const l500 = toneLevelDb(mixed, 8000, 500);
  const l1300 = toneLevelDb(mixed, 8000, 1300);
  // Both tones are there at about the same level (a wrapped sum would smear energy everywhere).
  assert.ok(l500 > -12 && l1300 > -12 && Math.abs(l500 - l1300) < 1, `500 Hz ${l500.toFixed(1)} dB, 1300 Hz ${l1300.toFixed(1)} dB`);
  const l900 = toneLevelDb(mixed, 8000, 900);
  assert.ok(l900 < l500 - 30, `no distortion products: 900 Hz at ${l900.toFixed(1)} dB`);
  assert.ok(lim.gain < 0.6, `gain pulled down to ${lim.gain.toFixed(2)}`);
});

test('mix: after a loud stretch the gain recovers toward 1 within ~40 frames', () => {
  const acc = new Int32Array(SAMPLES);
  const out = new Int16Array(SAMPLES);
  const lim = { gain: 1 };
  for (let k = 0; k < 10; k++) mixFor([sine(500, 1), sine(700, 1)], lim, acc, out);
  assert.ok(lim.gain < 0.6);
  for (let k = 0; k < 40; k++) mixFor([sine(500, 0.1)], lim, acc, out);
  assert.ok(lim.gain > 0.95, `gain ${lim.gain.toFixed(3)}`);
});

test('mix-minus from the total: the same frame as summing the others, own voice absent, silent self or silent others', () => {
  const a = sine(500, 0.3);
  const b = sine(1300, 0.3);
  const c = sine(2000, 0.3);
  const total = new Int32Array(SAMPLES);
  for (const f of [a, b, c]) for (let i = 0; i < SAMPLES; i++) total[i]! += f[i]!;
  const acc = new Int32Array(SAMPLES);
  const direct = new Int16Array(SAMPLES);
  const minus = new Int16Array(SAMPLES);
  assert.equal(mixFor([b, c], { gain: 1 }, acc, direct), true);
  assert.equal(mixMinus(total, a, true, { gain: 1 }, acc, minus), true);
  assert.deepEqual(minus, direct);
  // A silent listener (no own frame) hears the whole total.
  const quiet = new Int32Array(SAMPLES);
  for (const f of [b, c]) for (let i = 0; i < SAMPLES; i++) quiet[i]! += f[i]!;
  assert.equal(mixMinus(quiet, undefined, true, { gain: 1 }, acc, minus), true);
  assert.deepEqual(minus, direct);
  // Nobody else had sound: silence, and the gain recovers.
  const lim = { gain: 0.5 };
  assert.equal(mixMinus(Int32Array.from(a), a, false, lim, acc, minus), false);
  assert.ok(minus.every((v) => v === 0) && lim.gain > 0.5);
});
