/** QualityTracker: webrtc-stats reports (as Chromium writes them) → samples and warnings. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QualityTracker } from './quality.js';

/** A stats report with the entries the tracker reads. */
function report(o: { received: number; lost: number; jitterS: number; rttS?: number; pairRttS?: number; fractionLost?: number; micLevel?: number }): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  m.set('IT01A', { id: 'IT01A', type: 'inbound-rtp', kind: 'audio', packetsReceived: o.received, packetsLost: o.lost, jitter: o.jitterS, codecId: 'CIT01_0' });
  m.set('CIT01_0', { id: 'CIT01_0', type: 'codec', mimeType: 'audio/PCMU' });
  if (o.rttS !== undefined) m.set('RI01', { id: 'RI01', type: 'remote-inbound-rtp', kind: 'audio', roundTripTime: o.rttS, fractionLost: o.fractionLost ?? 0 });
  if (o.pairRttS !== undefined) m.set('CP01', { id: 'CP01', type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: o.pairRttS });
  if (o.micLevel !== undefined) m.set('SA01', { id: 'SA01', type: 'media-source', kind: 'audio', audioLevel: o.micLevel });
  return m;
}

test('a clean call: MOS ~4.4, no warnings; the figures come from inbound-rtp, remote-inbound-rtp and the codec', () => {
  const t = new QualityTracker();
  t.update(report({ received: 100, lost: 0, jitterS: 0.001, rttS: 0.01, micLevel: 0.2 }), 0, false);
  const r = t.update(report({ received: 200, lost: 0, jitterS: 0.002, rttS: 0.012, micLevel: 0.2 }), 2000, false)!;
  assert.deepEqual(r.sample, { mos: 4.39, rttMs: 12, jitterMs: 2, lossPct: 0, codec: 'PCMU', micLevel: 0.2, warnings: [] });
  assert.deepEqual([r.started, r.cleared], [[], []]);
});

test('a bad line: loss in the interval and a long round trip start high-loss, high-rtt and low-mos; they clear after two good samples', () => {
  const t = new QualityTracker();
  t.update(report({ received: 100, lost: 0, jitterS: 0.002, pairRttS: 0.01 }), 0, false);
  // 85 received, 15 lost in this interval; RTT only from ICE consent checks (no RTCP yet).
  const bad = t.update(report({ received: 185, lost: 15, jitterS: 0.02, pairRttS: 0.6 }), 2000, false)!;
  assert.equal(bad.sample.lossPct, 15);
  assert.equal(bad.sample.rttMs, 600);
  assert.ok(bad.sample.mos < 2.5, String(bad.sample.mos));
  assert.deepEqual(bad.started.sort(), ['high-loss', 'high-rtt', 'low-mos']);
  // The line recovers: the first good sample keeps the warnings, the second clears them.
  const g1 = t.update(report({ received: 285, lost: 15, jitterS: 0.002, pairRttS: 0.01 }), 4000, false)!;
  assert.deepEqual([g1.cleared, g1.sample.warnings.sort()], [[], ['high-loss', 'high-rtt', 'low-mos']]);
  const g2 = t.update(report({ received: 385, lost: 15, jitterS: 0.002, pairRttS: 0.01 }), 6000, false)!;
  assert.deepEqual([g2.cleared.sort(), g2.sample.warnings], [['high-loss', 'high-rtt', 'low-mos'], []]);
  // A bad sample in between resets the count.
  t.update(report({ received: 400, lost: 100, jitterS: 0.002, pairRttS: 0.01 }), 8000, false);
  const again = t.update(report({ received: 500, lost: 100, jitterS: 0.002, pairRttS: 0.01 }), 10_000, false)!;
  assert.deepEqual(again.sample.warnings.sort(), ['high-loss', 'low-mos']);
});

test('what the far end reports lost counts too; thresholds are configurable; a report without inbound audio is no sample', () => {
  const t = new QualityTracker({ lossPct: 20, jitterMs: 10 });
  t.update(report({ received: 100, lost: 0, jitterS: 0.001, rttS: 0.02 }), 0, false);
  const r = t.update(report({ received: 200, lost: 0, jitterS: 0.015, rttS: 0.02, fractionLost: 0.1 }), 2000, false)!;
  assert.equal(r.sample.lossPct, 10);
  // Loss 10 % is under this threshold (20 %) but still rates the call ~3.3: low-mos; jitter 15 ms is over 10.
  assert.deepEqual(r.started.sort(), ['high-jitter', 'low-mos']);
  assert.ok(r.sample.mos > 3 && r.sample.mos < 3.5, String(r.sample.mos));
  assert.equal(t.update(new Map(), 4000, false), undefined);
});

test('mic-silent: after 5 s of a silent, unmuted microphone; muting exempts it; sound clears it at once', () => {
  const t = new QualityTracker();
  const at = (ms: number, level: number, muted = false) => t.update(report({ received: ms, lost: 0, jitterS: 0.001, rttS: 0.01, micLevel: level }), ms, muted)!;
  assert.deepEqual(at(0, 0).started, []);
  assert.deepEqual(at(4000, 0).started, []);
  assert.deepEqual(at(6000, 0).started, ['mic-silent']);
  assert.deepEqual(at(8000, 0.1).cleared, ['mic-silent']);
  at(10_000, 0, true);
  assert.deepEqual(at(20_000, 0, true).started, [], 'muted: silence is expected');
});
