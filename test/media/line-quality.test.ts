/**
 * The gateway hears each party's line (calls/quality.ts over the engine's RFC 3550 receiver
 * counters): two RTP peers in a call through the real media engine, one of them on a bad line —
 * 15 % of its packets lost on the way and the rest delayed by 0–60 ms — and the other clean. The
 * bad leg shows the loss, the jitter and a low MOS; the clean one does not; the call's party
 * records keep the average and the worst.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Call } from '../../gateway/src/calls/call.js';
import { QualityMonitor } from '../../gateway/src/calls/quality.js';
import { LocalMediaEngine } from '../../gateway/src/media/engine.js';
import { RtpPeer } from '../support/rtp-peer.js';

const engine = new LocalMediaEngine({ bindAddress: '127.0.0.1' });
const peers: RtpPeer[] = [];
after(async () => {
  for (const p of peers) p.close();
  await engine.close();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function party(toneHz: number): Promise<{ peer: RtpPeer; ep: string }> {
  const peer = await RtpPeer.create(toneHz, 'PCMU');
  peers.push(peer);
  const ep = await engine.createEndpoint('rtp');
  peer.start(await engine.answer(ep, peer.offer(), 'PCMU'));
  return { peer, ep };
}

test('a bad line shows on its leg (loss, jitter, low MOS), a clean one does not; the records keep average and worst', async () => {
  const [bad, good] = await Promise.all([party(500), party(1300)]);
  bad!.peer.lossPct = 15;
  bad!.peer.jitterMs = 60;
  const call = new Call('q1', 'customer', 'agent', engine);
  call.caller.endpointId = bad!.ep;
  call.callee.endpointId = good!.ep;
  call.joined(call.caller);
  call.joined(call.callee);
  await call.applyMedia();
  const monitor = new QualityMonitor(engine, () => [call], 0);
  await sleep(500);
  await monitor.sample(); // the first look: counters only
  assert.equal(call.caller.quality, undefined);
  for (let i = 0; i < 2; i++) {
    await sleep(2000);
    await monitor.sample();
  }
  const b = call.caller.quality!;
  const g = call.callee.quality!;
  console.log(`# bad line: loss ${b.lossPct} %, jitter ${b.jitterMs} ms, MOS ${b.mos}; clean line: loss ${g.lossPct} %, jitter ${g.jitterMs} ms, MOS ${g.mos}`);
  assert.ok(b.lossPct >= 12 && b.lossPct <= 18, `the bad leg's loss: ${b.lossPct}`);
  assert.ok(b.jitterMs >= 8, `the bad leg's jitter: ${b.jitterMs}`);
  assert.ok(b.mos < 3, `the bad leg's MOS: ${b.mos}`);
  assert.ok(g.lossPct === 0 && g.jitterMs < 5 && g.mos >= 4.3, `the clean leg: ${JSON.stringify(g)}`);
  const rec = call.partyLog.find((r) => r.party === 'customer')!.quality!;
  console.log(`# record of the bad leg: ${JSON.stringify(rec)}`);
  assert.equal(rec.samples, 2);
  assert.ok(rec.worstMos <= rec.avgMos && rec.worstMos < 3 && rec.worstLossPct >= 12);
  assert.ok(call.partyLog.find((r) => r.party === 'agent')!.quality!.worstMos >= 4.3);
  call.hangup({ by: 'gateway', status: 200, reason: 'test' });
  for (const p of [bad, good]) p!.peer.stop();
  await sleep(100);
});
