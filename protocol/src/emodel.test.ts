/** The simplified E-model against values worked from ITU-T G.107 by hand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMos, mosFromR, rFactor } from './emodel.js';

test('E-model: a clean LAN call rates ~4.4; the G.107 MOS curve at its anchor points', () => {
  // d = 10/2 + 2·1 + 20 = 27 ms → Id = 0.648 → R = 92.55 → MOS 4.40
  assert.ok(Math.abs(rFactor({ rttMs: 10, jitterMs: 1, lossPct: 0 }) - 92.552) < 0.01);
  assert.equal(estimateMos({ rttMs: 10, jitterMs: 1, lossPct: 0 }), 4.4);
  assert.equal(mosFromR(0), 1);
  assert.equal(mosFromR(100), 4.5);
  assert.ok(Math.abs(mosFromR(50) - 2.58) < 0.01);
  assert.ok(Math.abs(mosFromR(70) - 3.6) < 0.01);
});

test('E-model: loss and delay each pull the score down the way G.107 says; a bad home line is "low"', () => {
  // 1 % random loss with PLC: Ie,eff = 95·1/(1+25.1) = 3.64; d = 20 ms (packetisation) → Id = 0.48
  assert.ok(Math.abs(rFactor({ rttMs: 0, jitterMs: 0, lossPct: 1 }) - (93.2 - 0.024 * 20 - 3.64)) < 0.01);
  // Delay past 177.3 ms one way costs 0.11 per ms more.
  const at300 = rFactor({ rttMs: 560, jitterMs: 0, lossPct: 0 }); // d = 300 ms
  assert.ok(Math.abs(at300 - (93.2 - 0.024 * 300 - 0.11 * (300 - 177.3))) < 0.01);
  // netem loss 15 % delay 150 ms on loopback (both ways: RTT ~600 ms): well below 3.5.
  const bad = estimateMos({ rttMs: 600, jitterMs: 20, lossPct: 15 });
  assert.ok(bad < 2.5, String(bad));
  assert.ok(estimateMos({ rttMs: 40, jitterMs: 5, lossPct: 0.5 }) > 4.2);
  // Out-of-range inputs are clamped, never NaN.
  const clamped = estimateMos({ rttMs: -5, jitterMs: -1, lossPct: 250 });
  assert.ok(clamped >= 1 && clamped < 1.5, String(clamped));
});
