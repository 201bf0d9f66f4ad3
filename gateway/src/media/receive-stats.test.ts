/** RFC 3550 receiver counters: loss from sequence numbers, interarrival jitter. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReceiveStats } from './receive-stats.js';

const rtp = (seq: number, ts: number) => {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  return b;
};

test('a steady stream: nothing lost, no jitter; across the sequence wrap', () => {
  const s = new ReceiveStats();
  for (let i = 0; i < 100; i++) s.update(rtp(65500 + i, 1000 + i * 160), i * 20);
  const c = s.snapshot();
  assert.deepEqual([c.received, c.expected], [100, 100]);
  assert.ok(c.jitterMs < 0.01, `jitter ${c.jitterMs}`);
});

test('15 % loss counted from the sequence gaps; arrival jitter of ±10 ms read as about 10 ms', () => {
  const s = new ReceiveStats();
  let n = 0;
  for (let i = 0; i < 1000; i++) {
    if (i % 20 < 3) continue; // 3 of every 20 lost
    const wobble = n++ % 2 ? 10 : -10;
    s.update(rtp(i, i * 160), i * 20 + wobble);
  }
  const c = s.snapshot();
  // 150 lost, less the 3 before the first packet received (RFC 3550 counts from the first).
  assert.equal(c.expected - c.received, 147);
  assert.ok(Math.abs((c.expected - c.received) / c.expected - 0.15) < 0.01);
  assert.ok(c.jitterMs > 8 && c.jitterMs < 22, `jitter ${c.jitterMs}`);
});

test('a restart of the sequence starts the counters again; duplicates are not loss', () => {
  const s = new ReceiveStats();
  for (let i = 0; i < 10; i++) s.update(rtp(100 + i, i * 160), i * 20);
  s.update(rtp(105, 5 * 160), 200);
  for (let i = 0; i < 10; i++) s.update(rtp(40000 + i, 90000 + i * 160), 300 + i * 20);
  const c = s.snapshot();
  assert.deepEqual([c.received, c.expected], [10, 10]);
});
