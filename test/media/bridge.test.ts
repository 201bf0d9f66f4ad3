/**
 * The media engine's bridges on real UDP sockets: parties are plain-RTP peers sending tones
 * (test/support/rtp-peer.ts); what each one receives is decoded and its spectrum checked, and
 * its RTP stream checked for continuity across relay ↔ mix switches.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { LocalMediaEngine } from '../../gateway/src/media/engine.js';
import type { BridgeMember } from '../../gateway/src/media/types.js';
import { RtpPeer } from '../support/rtp-peer.js';

const engine = new LocalMediaEngine({ bindAddress: '127.0.0.1' });
const peers: RtpPeer[] = [];
after(async () => {
  for (const p of peers) p.close();
  await engine.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A peer with its endpoint in the engine, sending its tone. */
async function party(toneHz: number, codec: 'PCMU' | 'PCMA' = 'PCMU'): Promise<{ peer: RtpPeer; ep: string }> {
  const peer = await RtpPeer.create(toneHz, codec);
  peers.push(peer);
  const ep = await engine.createEndpoint('rtp');
  peer.start(await engine.answer(ep, peer.offer(), codec));
  return { peer, ep };
}

/** Everybody hears everybody else. */
function conference(...eps: string[]): BridgeMember[] {
  return eps.map((e) => ({ endpoint: e, hears: eps.filter((x) => x !== e) }));
}

/** Asserts `peer` hears `must` (≥ −40 dBFS) and not `mustNot` (≥ 30 dB below the weakest wanted tone). */
function assertHears(name: string, peer: RtpPeer, must: number[], mustNot: number[], ms = 800): void {
  const lv = peer.levels([...must, ...mustNot], ms);
  const fmt = Object.entries(lv).map(([f, l]) => `${f} Hz ${l.toFixed(1)} dB`).join(', ');
  const weakest = Math.min(...must.map((f) => lv[f]!));
  for (const f of must) assert.ok(lv[f]! >= -40, `${name} must hear ${f} Hz: ${fmt}`);
  for (const f of mustNot) assert.ok(lv[f]! <= weakest - 30, `${name} must not hear ${f} Hz: ${fmt}`);
}

/** Consecutive sequence numbers (mod 2^16), one SSRC, increasing timestamps. */
function assertContinuous(name: string, peer: RtpPeer): void {
  const r = peer.received.filter((p) => p.pt === 0 || p.pt === 8);
  assert.ok(r.length > 20, `${name} received ${r.length} packets`);
  const ssrcs = new Set(r.map((p) => p.ssrc));
  assert.equal(ssrcs.size, 1, `${name}: one SSRC, got ${ssrcs.size}`);
  for (let i = 1; i < r.length; i++) {
    const dSeq = (r[i]!.seq - r[i - 1]!.seq) & 0xffff;
    const dTs = (r[i]!.ts - r[i - 1]!.ts) >>> 0;
    assert.equal(dSeq, 1, `${name}: sequence ${r[i - 1]!.seq} -> ${r[i]!.seq} at packet ${i}`);
    assert.ok(dTs > 0 && dTs < 0x80000000, `${name}: timestamp ${r[i - 1]!.ts} -> ${r[i]!.ts}`);
  }
}

test('three-party conference: each ear hears the other two tones and not its own', async (t) => {
  const [a, b, c] = await Promise.all([party(500), party(1300), party(2000)]);
  // Closed even when an assertion fails, so the next test starts from an empty engine.
  t.after(() => engine.closeBridge('conf3'));
  await engine.setBridge('conf3', conference(a!.ep, b!.ep, c!.ep));
  await sleep(1000);
  assertHears('A', a!.peer, [1300, 2000], [500]);
  assertHears('B', b!.peer, [500, 2000], [1300]);
  assertHears('C', c!.peer, [500, 1300], [2000]);
  const s = await engine.stats();
  assert.equal(s.mixing?.listeners, 3);
  console.log(`# mixer latency p50 ${s.mixing?.latencyP50Ms.toFixed(1)} ms, p99 ${s.mixing?.latencyP99Ms.toFixed(1)} ms; concealed ${s.mixing?.concealed}, late ${s.mixing?.late}`);
  assert.ok(s.mixing!.latencyP99Ms <= 40, `added latency p99 ${s.mixing!.latencyP99Ms.toFixed(1)} ms`);
  await engine.closeBridge('conf3');
  for (const p of [a, b, c]) p!.peer.stop();
});

test('relay → mix → relay: a third party joins and leaves; the first party\'s stream never breaks', async (t) => {
  const [a, b, c] = await Promise.all([party(500), party(1300), party(2000)]);
  t.after(() => engine.closeBridge('switch'));
  await engine.setBridge('switch', conference(a!.ep, b!.ep));
  await sleep(500);
  assertHears('A (relay)', a!.peer, [1300], [500, 2000]);
  assert.equal((await engine.stats()).mixing?.listeners, 0, 'two parties are relayed, not mixed');
  await engine.setBridge('switch', conference(a!.ep, b!.ep, c!.ep));
  await sleep(600);
  assertHears('A (mixed)', a!.peer, [1300, 2000], [500], 400);
  await engine.setBridge('switch', conference(a!.ep, b!.ep));
  await sleep(600);
  assertHears('A (relay again)', a!.peer, [1300], [500, 2000], 400);
  assertContinuous('A', a!.peer);
  assertContinuous('B', b!.peer);
  await engine.closeBridge('switch');
  for (const p of [a, b, c]) p!.peer.stop();
});

test('a party leaving mid-call (its endpoint closed between frames) — the others go on, a new one is heard at once', async (t) => {
  const [a, b, c] = await Promise.all([party(500), party(1300), party(2000)]);
  t.after(() => engine.closeBridge('leave'));
  await engine.setBridge('leave', conference(a!.ep, b!.ep, c!.ep));
  await sleep(400);
  // Closed in the middle of a 20 ms frame, without telling the bridge first.
  await sleep(7);
  await engine.closeEndpoint(c!.ep);
  c!.peer.stop();
  await sleep(600);
  a!.peer.clear();
  await sleep(600);
  assertHears('A after C left', a!.peer, [1300], [500, 2000]);
  const d = await party(800);
  await engine.setBridge('leave', conference(a!.ep, b!.ep, d.ep));
  await sleep(150);
  a!.peer.clear();
  await sleep(500);
  assertHears('A after D joined', a!.peer, [1300, 800], [500]);
  await engine.closeBridge('leave');
  for (const p of [a, b, d]) p!.peer.stop();
});

test('mixing transcodes: a PCMA party and two PCMU parties hear each other', async (t) => {
  const [a, b, c] = await Promise.all([party(500, 'PCMA'), party(1300), party(2000)]);
  t.after(() => engine.closeBridge('codec'));
  await engine.setBridge('codec', conference(a!.ep, b!.ep, c!.ep));
  await sleep(800);
  assert.ok(a!.peer.received.every((r) => r.pt === 8), 'the PCMA party gets PCMA');
  assertHears('A (PCMA)', a!.peer, [1300, 2000], [500]);
  assertHears('B (PCMU)', b!.peer, [500, 2000], [1300]);
  await engine.closeBridge('codec');
  for (const p of [a, b, c]) p!.peer.stop();
});

test('monitor: a listener nobody hears; whisper: one listener hears it', async (t) => {
  const [cust, agent, sup] = await Promise.all([party(1300), party(500), party(2000)]);
  t.after(() => engine.closeBridge('sup'));
  await engine.setBridge('sup', [
    { endpoint: cust.ep, hears: [agent.ep] },
    { endpoint: agent.ep, hears: [cust.ep] },
    { endpoint: sup.ep, hears: [cust.ep, agent.ep] },
  ]);
  await sleep(800);
  assertHears('supervisor (monitor)', sup.peer, [1300, 500], [2000]);
  assertHears('agent (monitor)', agent.peer, [1300], [2000, 500]);
  assertHears('customer (monitor)', cust.peer, [500], [2000, 1300]);
  await engine.setBridge('sup', [
    { endpoint: cust.ep, hears: [agent.ep] },
    { endpoint: agent.ep, hears: [cust.ep, sup.ep] },
    { endpoint: sup.ep, hears: [cust.ep, agent.ep] },
  ]);
  await sleep(600);
  assertHears('agent (whisper)', agent.peer, [1300, 2000], [500]);
  assertHears('customer (whisper)', cust.peer, [500], [2000, 1300]);
  assertContinuous('customer', cust.peer);
  await engine.closeBridge('sup');
  for (const p of [cust, agent, sup]) p.peer.stop();
});

test('music and DTMF inside a bridge of three: the member on music hears music; a digit is reported once and reaches the mixed ears', async (t) => {
  const [a, b, c] = await Promise.all([party(500), party(1300), party(2000)]);
  const digits: string[] = [];
  engine.on('dtmf', (ep, d) => ep === a!.ep && digits.push(d));
  t.after(() => engine.closeBridge('mdtmf'));
  await engine.setBridge('mdtmf', [
    { endpoint: a!.ep, hears: [b!.ep, c!.ep] },
    { endpoint: b!.ep, hears: [a!.ep, c!.ep] },
    { endpoint: c!.ep, hears: [], music: '' },
  ]);
  await sleep(800);
  const music = c!.peer.levels([262, 330, 392, 500, 1300], 800);
  assert.ok(Math.max(music[262]!, music[330]!, music[392]!) > -40 && music[500]! < -50 && music[1300]! < -50, `C hears music only: ${JSON.stringify(music)}`);
  b!.peer.clear();
  a!.peer.sendDigit(5);
  await sleep(300);
  assert.deepEqual(digits, ['5'], 'one digit reported');
  const events = b!.peer.received.filter((r) => r.pt === 101);
  assert.ok(events.length >= 3 && events.every((e) => e.payload[0] === 5), `B got the event packets (${events.length})`);
  await engine.closeBridge('mdtmf');
  for (const p of [a, b, c]) p!.peer.stop();
});
