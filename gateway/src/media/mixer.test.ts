/**
 * The mixer's pieces frame by frame: the jitter buffer (order, loss, lateness, adaptation,
 * refill) and one listener's mix (mix-minus sums, the limiter that keeps two loud talkers from
 * wrapping around).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeG711, encodeG711 } from './g711.js';
import { JitterBuffer, mixFor, SAMPLES } from './mixer.js';

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
  assert.deepEqual(got, [q(100), q(200), 0, q(400), q(500)]);
  assert.ok(jb.stats.concealed >= 1);
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

test('jitter buffer: a steady stream plays ~2 ms behind its arrivals; a jittery one keeps a margin of twice its jitter', () => {
  const steady = new JitterBuffer();
  for (let i = 0; i < 100; i++) {
    steady.push(packet(i, 100), 'PCMU', i * 20);
    assert.ok(steady.pop(i * 20 + 5), `frame ${i} played`);
  }
  assert.equal(steady.target, SAMPLES + 16);
  // Arrived 5 ms before the pop, 2 ms of margin behind it.
  assert.ok(Math.abs(steady.lastDelayMs - 7) < 0.01, `delay ${steady.lastDelayMs} ms`);
  const jittery = new JitterBuffer();
  // ±30 ms of arrival jitter (a bad Wi-Fi).
  for (let i = 0; i < 100; i++) {
    jittery.push(packet(i, 100), 'PCMU', i * 20 + (i % 2 ? 30 : -30));
    jittery.pop(i * 20 + 40);
  }
  const frames = jittery.target / SAMPLES;
  assert.ok(frames >= 3 && frames <= 10, `target ${frames} frames for ${jittery.jitterMs.toFixed(1)} ms jitter`);
});

test('jitter buffer: a packet late for its frame inserts silence, nothing is lost; the margin grows to cover that lateness for ~2 s, the rest of the delay is trimmed 100 ms later', () => {
  const jb = new JitterBuffer();
  const delays: number[] = [];
  const silent: number[] = [];
  for (let i = 0; i < 200; i++) {
    // Packets every 20 ms, the mixer pops 10 ms after each; packet 30 comes 15 ms late.
    const late = i === 30;
    if (!late) jb.push(packet(i, 100 + i), 'PCMU', i * 20);
    const f = jb.pop(i * 20 + 10);
    if (late) jb.push(packet(i, 100 + i), 'PCMU', i * 20 + 15);
    if (!f) silent.push(i);
    else delays.push(jb.lastDelayMs);
  }
  assert.deepEqual(silent, [30], 'one frame of silence while packet 30 was late');
  assert.equal(jb.stats.late, 0);
  assert.equal(jb.stats.underruns, 1);
  assert.ok(jb.stats.dropped >= 2, 'the extra delay was trimmed');
  // 10 ms phase + 2 ms margin before the late packet.
  assert.ok(Math.abs(delays[10]! - 12) < 0.01, `before: ${delays[10]} ms`);
  // (delays has no entry for the silent pop 30: entry 30 is pop 31.)
  assert.ok(Math.min(...delays.slice(30, 34)) > 30, `the late packet delayed what followed by a frame: ${delays.slice(28, 40).join(', ')}`);
  // 100 ms later the frame of delay goes, but 15 ms of margin stay while that lateness is recent...
  const margin = delays.slice(34, 120);
  assert.ok(Math.max(...margin) <= 25.01 && Math.min(...margin) >= 24.99, `with the margin: ${Math.min(...margin)}–${Math.max(...margin)} ms`);
  // ...and go once it is ~2 s old.
  assert.ok(Math.max(...delays.slice(180)) <= 12.01, `afterwards: ${Math.max(...delays.slice(180))} ms`);
});

test('jitter buffer: a stream that stops drains, then refills from its next packet (no stale audio)', () => {
  const jb = new JitterBuffer();
  jb.push(packet(1, 100), 'PCMU', 0);
  assert.equal(valueOf(jb.pop(0)), q(100));
  assert.equal(jb.pop(20), undefined);
  assert.equal(jb.pop(40), undefined);
  assert.ok(jb.stats.underruns >= 1);
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

test('jitter buffer: a burst far deeper than the target (a stall) is cut to the target at once, the margin capped at 60 ms', () => {
  const jb = new JitterBuffer(10);
  for (let i = 1; i <= 16; i++) jb.push(packet(i, i * 100), 'PCMU', 0);
  assert.equal(jb.target, SAMPLES + 60 * 8, 'margin: 60 ms, not the 300 ms the stall spread over');
  // Buffered: 16 packets and the 2 ms lead-in; kept: the target, ending at packet 16.
  const first = Math.floor((16 * SAMPLES - jb.target) / SAMPLES) + 1;
  assert.equal(valueOf(jb.pop(0)), q(first * 100));
  assert.equal(jb.stats.dropped, 1);
  assert.ok(Math.abs(jb.lastDelayMs - 60) < 0.01, `delay ${jb.lastDelayMs} ms`);
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
