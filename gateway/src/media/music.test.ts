import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputStream } from './engine.js';
import { builtInMusic, FRAME, linearToAlaw, linearToUlaw, MusicSource } from './music.js';

test('G.711 encoders match the ITU-T reference points', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(linearToUlaw(32767), 0x80);
  assert.equal(linearToUlaw(-32768), 0x00);
  assert.equal(linearToAlaw(0), 0xd5);
  assert.equal(linearToAlaw(32767), 0xaa);
  assert.equal(linearToAlaw(-32768), 0x2a);
});

test('music on hold: packet-aligned loop of 20 ms payloads in either codec', () => {
  const m = new MusicSource(builtInMusic());
  assert.equal(m.frames, 60, '1.2 s loop');
  assert.equal(m.frame('PCMU', 0).length, FRAME);
  assert.deepEqual(m.frame('PCMA', 61), m.frame('PCMA', 1), 'loops');
  assert.notDeepEqual(m.frame('PCMU', 5), m.frame('PCMA', 5));
});

function rtp(ssrc: number, seq: number, ts: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

test('output stream: one SSRC with continuous sequence and timestamps across source switches (hold, resume)', () => {
  const out = new OutputStream();
  const a1 = out.write(rtp(111, 65534, 1000));
  const a2 = out.write(rtp(111, 65535, 1160));
  const m1 = out.write(rtp(222, 7, 99999)); // music starts
  const m2 = out.write(rtp(222, 8, 100159));
  const b1 = out.write(rtp(111, 0, 1320)); // the party again, where it left off
  const ssrcs = new Set([a1, a2, m1, m2, b1].map((p) => p.readUInt32BE(8)));
  assert.equal(ssrcs.size, 1);
  assert.deepEqual([a1, a2, m1, m2, b1].map((p) => p.readUInt16BE(2)), [65534, 65535, 0, 1, 2]);
  assert.deepEqual([a1, a2, m1, m2, b1].map((p) => p.readUInt32BE(4)), [1000, 1160, 1320, 1480, 1640]);
  assert.equal(m1[1]! & 0x80, 0x80, 'marker on a new source');
  assert.equal(m2[1]! & 0x80, 0);
});

test('output stream: a new source goes on under a new SSRC, marked, sequence and timestamps continuous', () => {
  const out = new OutputStream();
  const a1 = out.write(rtp(111, 100, 1000));
  out.newSource(); // the peer heard another party directly meanwhile (rtpengine's direct mode)
  const a2 = out.write(rtp(111, 101, 1160));
  const a3 = out.write(rtp(111, 102, 1320));
  assert.notEqual(a2.readUInt32BE(8), a1.readUInt32BE(8), 'a new SSRC');
  assert.equal(a3.readUInt32BE(8), a2.readUInt32BE(8));
  assert.deepEqual([a1, a2, a3].map((p) => p.readUInt16BE(2)), [100, 101, 102]);
  assert.equal(a2[1]! & 0x80, 0x80, 'marker on the first packet of the new SSRC');
  assert.equal(a3[1]! & 0x80, 0);
});
