/**
 * rtpengine's direct mode (`media.rtpengineDirect`, docs/media.md): a two-party call between a
 * browser (Chromium, the demo) and a SIP phone (baresip) is relayed by rtpengine alone from its
 * first offer (one ng offer and one answer set it up, either way round) — the
 * worker relays none of its packets — until it needs the worker (music on hold), which then
 * keeps it, each side hearing the other throughout. Digits from the phone still reach the
 * desktop (from rtpengine's DTMF log), and each party's line quality still reaches supervisors
 * and the record (from the far ends' RTCP reports, as rtpengine records them) — a line that
 * loses 15 % in the kernel shows as such.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { analyse, loudestWindow, readWav } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { inboundStreams, keepPeerConnections, launchAgent, loginDemo, measureRemoteAudio, mediaFlow, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { loseUdp, type LossyFlow } from '../support/loss.js';
import { poll, settle } from '../support/net.js';
import { Rtpengine } from '../support/rtpengine.js';
import { demoConfig } from '../../gateway/src/index.js';

const ALICE_HZ = 600;
const PHONE_HZ = 1500;

let rtpengine: Rtpengine;
let gw: TestGateway;
let phone: Baresip;
let alice: Agent;
let lossy: LossyFlow | undefined;

before(async () => {
  rtpengine = await Rtpengine.start();
  gw = await startGateway({ media: { ...demoConfig().media, engine: 'rtpengine', rtpengine: [rtpengine.address], rtpengineDirect: true, rtpengineDtmfLog: rtpengine.dtmfLog, qualityIntervalSeconds: 2 } });
  phone = await Baresip.start({ name: 'direct-phone', user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipUdpPort, toneHz: PHONE_HZ });
  alice = await launchAgent(gw.addrs.httpUrl, ALICE_HZ);
  await keepPeerConnections(alice.page);
  await loginDemo(alice.page, 'alice', 'alice-demo');
  await poll('the phone to register', 5000, () => (gw.gw.sip.registrar.lookup('deskphone').length ? true : undefined));
});

after(async () => {
  await lossy?.stop().catch(() => undefined);
  await alice?.close();
  await phone?.stop();
  await gw?.stop();
  await rtpengine?.stop();
});

const stats = () => gw.gw.media.stats();

// A test that fails mid-call leaves its call up: the next one starts from none.
afterEach(async () => {
  await lossy?.stop().catch(() => undefined);
  lossy = undefined;
  if (await alice.page.getByTestId('hangup').isVisible().catch(() => false)) await alice.page.getByTestId('hangup').click().catch(() => undefined);
  if (gw.gw.b2bua.active.length) await phone.command('hangup').catch(() => undefined);
  await poll('no media left', 5000, async () => ((await stats()).endpoints === 0 ? true : undefined)).catch(() => undefined);
});
const direct = async () => (await stats()).directPairs ?? 0;
/** ng offers and answers sent to rtpengine so far. */
const offersAnswers = async () => {
  const sent = (await stats()).rtpengines?.[0]?.commands ?? {};
  return { offer: sent.offer ?? 0, answer: sent.answer ?? 0 };
};
/**
 * A call forwarded to one callee is direct from its first offer: one ng offer (the caller's
 * offer, written for the callee) and one answer (the callee's, written for the caller), as a SIP
 * proxy with rtpengine sends — no worker in between (it took six before, and two worker hops).
 */
async function assertSetUpWithOneOfferAnswer(before: { offer: number; answer: number }): Promise<void> {
  const now = await offersAnswers();
  const used = { offer: now.offer - before.offer, answer: now.answer - before.answer };
  console.log(`# ng requests to set the call up: ${used.offer} offer, ${used.answer} answer`);
  assert.deepEqual(used, { offer: 1, answer: 1 }, 'the peers negotiated through rtpengine in one offer/answer');
}
const relayed = async () => (await stats()).packetsRelayed;

/** The worker's relayed-packet count over `ms` while `during` runs. */
async function relayedDuring(ms: number, during: () => Promise<unknown>): Promise<number> {
  const p0 = await relayed();
  await Promise.all([during(), settle(ms)]);
  return (await relayed()) - p0;
}

/** The phone dials alice, she answers in the demo, and the call goes direct. */
async function phoneCallsAlice(): Promise<void> {
  const dial = await phone.command('dial', `sip:1001@127.0.0.1:${gw.addrs.sipUdpPort}`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await alice.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await poll('the call to be relayed directly', 5000, async () => ((await direct()) === 1 ? true : undefined));
}

async function hearsPhone(what: string): Promise<void> {
  const heard = await measureRemoteAudio(alice.page, 1500);
  console.log(`# ${what}: alice hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  if (Math.abs(heard.frequency - PHONE_HZ) < 15 && heard.levelDb > -30) return;
  // Which sources her browser received (it plays only the newest SSRC it has not seen before).
  assert.fail(`${what}: alice should hear the phone: ${JSON.stringify(heard)}; her browser received ${JSON.stringify(await inboundStreams(alice.page))}`);
}

test('browser ↔ phone relayed by rtpengine alone from the first offer, the phone\'s keys reaching the desktop from rtpengine; on hold the worker takes over (music) and keeps the call; digits and audio both ways after', async () => {
  const ng0 = await offersAnswers();
  await alice.page.getByTestId('target').fill('2001');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED');
  const t0 = Date.now();
  await poll('the call to be relayed directly', 5000, async () => ((await direct()) === 1 ? true : undefined));
  console.log(`# direct ${Date.now() - t0} ms after the phone answered`);
  await assertSetUpWithOneOfferAnswer(ng0);

  // Direct: audio both ways, and the worker relays none of it.
  let n = await relayedDuring(1500, () => hearsPhone('direct'));
  console.log(`# the worker relayed ${n} packets in 1.5 s of direct call`);
  assert.equal(n, 0, 'the worker relays nothing of a direct call');

  // Keys on the phone (RFC 4733, relayed by rtpengine, reported by its DTMF log): the desktop shows them.
  n = await relayedDuring(1500, async () => {
    for (const key of ['4', '7', '#']) {
      assert.ok((await phone.command('sndcode', key)).ok);
      await settle(250);
    }
    await alice.page.getByTestId('dtmf-received').filter({ hasText: '47#' }).waitFor({ timeout: 5000 }).catch(() => undefined);
  });
  const shown = await alice.page.getByTestId('dtmf-received').textContent();
  console.log(`# keys from the phone in a direct call, as the desktop shows them: "${shown}" (the worker relayed ${n} packets meanwhile)`);
  assert.equal(shown, '47#');
  assert.equal(n, 0, 'the digits were not the worker\'s');

  // Hold: the phone gets music from the worker, which keeps the call after resume.
  await alice.page.getByTestId('hold').click();
  await alice.page.getByTestId('hold').filter({ hasText: 'Resume' }).waitFor({ timeout: 5000 });
  await poll('the call to leave direct mode', 5000, async () => ((await direct()) === 0 ? true : undefined));
  n = await relayedDuring(1000, async () => undefined);
  console.log(`# on hold: the worker sent ${n} packets of music in 1 s`);
  assert.ok(n >= 40, `music comes from the worker while on hold: ${n} packets`);
  await alice.page.getByTestId('hold').click();
  await alice.page.getByTestId('hold').filter({ hasText: 'Hold' }).waitFor({ timeout: 5000 });
  await settle(500);
  n = await relayedDuring(1500, () => hearsPhone('after resume, through the worker'));
  assert.equal(await direct(), 0, 'a call that left direct mode stays on the worker');
  assert.ok(n >= 100, `the worker relays both ways after resume: ${n} packets in 1.5 s`);

  // The desktop's keypad: the worker generates the digits.
  const seen = phone.events.length;
  for (const d of ['9', '8']) await alice.page.getByTestId(`key-${d}`).click();
  await settle(1200);
  const got = phone.events.slice(seen).filter((e) => e.type === 'CALL_DTMF_START').map((e) => String(e.param));
  assert.deepEqual(got, ['9', '8'], 'the phone detects the desktop\'s digits');

  const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await alice.page.getByTestId('hangup').click();
  await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  await poll('the media to be released', 5000, async () => ((await stats()).endpoints === 0 ? true : undefined));
  const rec = phone.receivedRecordings().at(-1)!;
  const { samples, sampleRate } = readWav(rec);
  const heard = analyse(loudestWindow(samples, sampleRate), sampleRate);
  console.log(`# the phone heard ${heard.frequency} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(heard.frequency - ALICE_HZ) <= 20 && heard.levelDb > -35, `the phone heard alice: ${JSON.stringify(heard)}`);
});

test('the phone calls the browser: the answered call is direct from the first offer too', async () => {
  const ng0 = await offersAnswers();
  await phoneCallsAlice();
  await assertSetUpWithOneOfferAnswer(ng0);
  const n = await relayedDuring(1500, () => hearsPhone('phone → browser, direct'));
  assert.equal(n, 0, 'the worker relays nothing');
  const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await phone.command('hangup');
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
});

test('a direct call\'s line quality comes from the far ends\' RTCP reports: clean, then 15 % loss in the kernel on the browser\'s flow', async () => {
  await phoneCallsAlice();
  const callId = gw.gw.b2bua.active[0]!.id;
  const party = (name: string) => gw.gw.center.liveCalls()[0]?.parties.find((p) => p.name === name)?.quality;

  // Clean: both parties' lines reported, no loss, while the worker relays nothing.
  const clean = await poll('both lines reported', 20_000, async () => {
    const a = party('alice');
    const d = party('deskphone');
    return a && d ? { a, d } : undefined;
  });
  console.log(`# clean direct call: alice's line MOS ${clean.a.mos}, loss ${clean.a.lossPct} %, jitter ${clean.a.jitterMs} ms; the phone's MOS ${clean.d.mos}, loss ${clean.d.lossPct} %`);
  assert.ok(clean.a.lossPct < 2 && clean.a.mos >= 4, `alice's clean line: ${JSON.stringify(clean.a)}`);
  assert.ok(clean.d.lossPct < 2 && clean.d.mos >= 4, `the phone's clean line: ${JSON.stringify(clean.d)}`);

  // The browser's line goes bad: 15 % of its flow dropped by the kernel, both ways.
  const flow = await mediaFlow(alice.page);
  assert.ok(flow, 'the call\'s selected candidate pair');
  const t0 = Date.now();
  lossy = await loseUdp(flow.browser, flow.gateway, 15);
  const bad = await poll('alice\'s line to show the loss', 25_000, async () => {
    const a = party('alice');
    return a && a.at > t0 + 1000 && a.lossPct >= 7 ? a : undefined;
  });
  const dropped = await lossy.counts();
  console.log(`# 15 % loss on alice's flow (${dropped.dropped} of ${dropped.seen} datagrams dropped): after ${Date.now() - t0} ms alice's line MOS ${bad.mos}, loss ${bad.lossPct} %, jitter ${bad.jitterMs} ms`);
  assert.ok(bad.mos < 4, `a lossy line scores lower: ${JSON.stringify(bad)}`);
  assert.equal(await direct(), 1, 'still relayed directly');
  await lossy.stop();
  lossy = undefined;

  const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await phone.command('hangup');
  await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  const rec = await poll('the record', 5000, async () => gw.gw.center.store.call(callId) ?? undefined);
  const line = rec.parties?.find((p) => p.party === 'alice')?.quality;
  console.log(`# the record: alice ${JSON.stringify(line)}`);
  assert.ok(line && line.worstLossPct >= 7 && line.worstMos < 4, `the record keeps the bad line: ${JSON.stringify(line)}`);
});
