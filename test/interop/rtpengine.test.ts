/**
 * The rtpengine media engine against a real rtpengine (Debian rtpengine-daemon 10.5, userspace):
 *  - the ng client: ping, an error reply with rtpengine's reason, no answer → a timeout error;
 *  - a gateway configured for rtpengine that finds none says so and does not start;
 *  - echo calls from sipp carry their audio through rtpengine (rtpengine's own call list shows them);
 *  - rtpengine killed mid-call: the gateway notices within its ping budget, ends the calls with
 *    BYE and a finished record ("Media Engine Failure"), refuses new calls with 503 while it is
 *    down, and takes calls again once rtpengine is back;
 *  - direct mode (the engine driven on its own, two plain-RTP peers): a peer that heard the worker,
 *    then the other peer relayed by rtpengine alone, hears the worker afterwards under a new SSRC.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { LocalMediaEngine } from '../../gateway/src/media/engine.js';
import { RtpengineMediaEngine } from '../../gateway/src/media/rtpengine/engine.js';
import { NgClient, NgError } from '../../gateway/src/media/rtpengine/ng.js';
import { freePort, poll, settle } from '../support/net.js';
import { RtpPeer } from '../support/rtp-peer.js';
import { Rtpengine } from '../support/rtpengine.js';
import { sipp, type SippRun } from '../support/sipp.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const engines: Rtpengine[] = [];
const gateways: TestGateway[] = [];
const sipps: SippRun[] = [];
after(async () => {
  for (const s of sipps) s.proc.kill('SIGKILL');
  for (const g of gateways) await g.stop().catch(() => undefined);
  for (const e of engines) await e.stop();
});

test('ng client: ping → pong; an error reply carries rtpengine\'s reason; silence is a timeout', async () => {
  const r = await Rtpengine.start();
  engines.push(r);
  const ng = new NgClient(r.address);
  try {
    assert.deepEqual(await ng.request('ping'), { result: 'pong' });
    await assert.rejects(ng.request('answer', { 'call-id': 'no-such-call', 'from-tag': 'a', 'to-tag': 'b', sdp: 'v=0\r\n' }), (e: unknown) => e instanceof NgError && !e.timedOut && /rtpengine 127\.0\.0\.1:\d+: .+/.test(e.message));
  } finally {
    ng.close();
  }
  const nobody = new NgClient(`127.0.0.1:${await freePort()}`, { retransmitMs: 50, attempts: 2 });
  const t0 = Date.now();
  await assert.rejects(nobody.request('ping'), (e: unknown) => e instanceof NgError && e.timedOut && /did not answer ping \(2 × 50 ms\)/.test(e.message));
  assert.ok(Date.now() - t0 < 1000);
  nobody.close();
});

test('a gateway configured for rtpengine that finds none does not start, and says why', async () => {
  const port = await freePort();
  await assert.rejects(startGateway({ media: { engine: 'rtpengine', rtpengine: [`127.0.0.1:${port}`] } }), new RegExp(`no rtpengine answers an ng ping at 127\\.0\\.0\\.1:${port} — is rtpengine running`));
});

test('rtpengine out of ports: the call is refused with 503 No Media Port Available and Retry-After, like the embedded engine', async () => {
  // 4 ports (two RTP/RTCP pairs): one echo call's endpoint (its two sides), not a second.
  const r = await Rtpengine.start(4);
  engines.push(r);
  const gw = await startGateway({ media: { engine: 'rtpengine', rtpengine: [r.address] } });
  gateways.push(gw);
  const first = echoCalls(gw.addrs.sipUdpPort, 1);
  sipps.push(first);
  await until(() => gw.gw.b2bua.active.some((c) => c.state === 'connected'), 10_000, 'the first call');
  const second = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-wait-bye.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '10s']).done;
  assert.match(second.out, /SIP\/2\.0 503 No Media Port Available/, second.out.slice(0, 1500));
  assert.match(second.out, /Retry-After: 5/i);
  await gw.gw.b2bua.active[0]!.hangup({ by: 'gateway', status: 200, reason: 'Test Over' });
  assert.equal((await first.done).code, 0);
});

const echoCalls = (port: number, n: number) => sipp([`127.0.0.1:${port}`, '-sf', 'uac-wait-bye.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', String(n), '-l', String(n), '-r', '20', '-timeout', '60s']);

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await settle(50);
  }
  return Date.now() - t0;
}

test('rtpengine killed mid-call: calls end with a reason and a record, new calls get 503 meanwhile, and calls work again when it is back', async () => {
  const r = await Rtpengine.start();
  engines.push(r);
  const gw = await startGateway({ media: { engine: 'rtpengine', rtpengine: [r.address] }, center: { database: ':memory:' } });
  gateways.push(gw);
  const port = gw.addrs.sipUdpPort;
  const calls = echoCalls(port, 3);
  sipps.push(calls);
  await until(() => gw.gw.b2bua.active.filter((c) => c.state === 'connected').length === 3, 15_000, '3 connected calls');
  // rtpengine carries them: its call list has one call per endpoint.
  const ng = new NgClient(r.address);
  const list = (await ng.request('list', { limit: 100 })) as { calls?: string[] };
  ng.close();
  assert.equal(list.calls?.filter((c) => c.startsWith('sb-')).length, 3, `rtpengine's calls: ${JSON.stringify(list)}`);

  const killedAt = Date.now();
  await r.kill();
  const noticedMs = await until(() => gw.gw.b2bua.active.length === 0, 10_000, 'the calls to end');
  console.log(`# rtpengine killed: calls ended ${noticedMs} ms later`);
  const done = await calls.done;
  assert.equal(done.code, 0, `each sipp call got its BYE:\n${done.out.slice(-1500)}`);
  const records = gw.gw.center.store.calls({});
  assert.equal(records.length, 3);
  for (const rec of records) assert.deepEqual([rec.outcome, rec.endedBy, rec.endStatus, rec.endReason], ['answered', 'gateway', 500, 'Media Engine Failure']);
  assert.ok(Date.now() - killedAt < 8000);

  // While it is down: 503 with Retry-After, and health says so.
  const refused = await sipp([`127.0.0.1:${port}`, '-sf', 'uac-wait-bye.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '10s']).done;
  assert.notEqual(refused.code, 0);
  assert.match(refused.out, /SIP\/2\.0 503 Media Engine Unavailable/, 'refused with 503 while rtpengine is down');
  assert.match(refused.out, /Retry-After: 5/i);
  const health = (await (await fetch(new URL('/api/health', gw.addrs.httpUrl))).json()) as { media: { rtpengines: Array<{ up: boolean }> } };
  assert.deepEqual(health.media.rtpengines.map((x) => x.up), [false]);

  // Back: new calls go through again.
  await r.run();
  const backMs = await until(async () => ((await (await fetch(new URL('/api/health', gw.addrs.httpUrl))).json()) as typeof health).media.rtpengines[0]!.up, 5000, 'rtpengine back in rotation');
  console.log(`# rtpengine restarted: back in rotation after ${backMs} ms`);
  const again = echoCalls(port, 1);
  sipps.push(again);
  await until(() => gw.gw.b2bua.active.filter((c) => c.state === 'connected').length === 1, 10_000, 'a new call connected');
  await gw.gw.b2bua.active[0]!.hangup({ by: 'gateway', status: 200, reason: 'Test Over' });
  assert.equal((await again.done).code, 0);
});

test('direct mode, back to the worker: the peer hears the worker under an SSRC it has not heard before (a browser plays only the newest new one)', async () => {
  const r = await Rtpengine.start();
  engines.push(r);
  const engine = new RtpengineMediaEngine(new LocalMediaEngine({ bindAddress: '127.0.0.1' }), { addresses: [r.address], direct: true });
  // Two plain-RTP peers of one call: A calls, B is called.
  const [pa, pb] = await Promise.all([RtpPeer.create(440), RtpPeer.create(1000)]);
  const lastHeardByB = () => pb.received.filter((x) => x.pt === 0).map((x) => x.ssrc);
  const ssrcsAt = async (what: string, pred: (s: number) => boolean) => {
    pb.clear();
    return poll(what, 5000, () => {
      const heard = lastHeardByB();
      return heard.length >= 10 && pred(heard.at(-1)!) ? heard.at(-1)! : undefined;
    });
  };
  try {
    await engine.start();
    const a = await engine.createEndpoint('rtp', 'call-1');
    pa.start(await engine.answer(a, pa.offer(), 'PCMU'));
    const b = await engine.createEndpoint('rtp', 'call-1');
    const toB = await engine.offer(b, ['PCMU'], { telephoneEvent: 101 });
    await engine.acceptAnswer(b, pb.offer());
    pb.start(toB);
    // B hears the worker first (queue music), then A relayed by rtpengine alone, then — A on hold — the worker's music again.
    await engine.setBridge('br', [{ endpoint: a, hears: [] }, { endpoint: b, hears: [], music: '' }]);
    const before = await ssrcsAt('B to hear the worker', (s) => s !== pa.ssrc);
    await engine.setBridge('br', [{ endpoint: a, hears: [b] }, { endpoint: b, hears: [a] }]);
    await ssrcsAt('B to hear A directly', (s) => s === pa.ssrc);
    await engine.setBridge('br', [{ endpoint: a, hears: [] }, { endpoint: b, hears: [], music: '' }]);
    const after = await ssrcsAt('B to hear the worker again', (s) => s !== pa.ssrc);
    assert.notEqual(after, before, `back from direct, the worker's stream to B must be a new SSRC (a browser would not play ${before.toString(16)} again after A's)`);
    // Resumed: on the worker from now on, the same (new) stream.
    await engine.setBridge('br', [{ endpoint: a, hears: [b] }, { endpoint: b, hears: [a] }]);
    await settle(300);
    assert.deepEqual([...new Set(lastHeardByB().slice(-10))], [after]);
  } finally {
    pa.close();
    pb.close();
    await engine.close();
  }
});
