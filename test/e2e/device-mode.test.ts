/**
 * Device mode (docs/devices.md): an agent's audio on a SIP desk phone, the calls shown and driven
 * from the browser desktop. The customer is a real SIP phone (baresip, 1800 Hz) behind a real PBX
 * (Kamailio, the gateway's trunk); alice's desk phone is baresip (2200 Hz) set to answer every
 * call by itself (a `device` profile: the gateway calls it only when alice answers on the
 * desktop); bob is a browser agent (1000 Hz). A second desk phone, sipp, answers only an INVITE
 * that carries `Call-Info: …;answer-after=0` — the click-to-answer of phones that ring first.
 * Every ear is checked by its spectrum: who hears whom, music on hold, ringback. Blind and consult
 * transfer, DTMF and hang-up are driven from the desktop.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { recentTones } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { assertEar, launchAgent, loginDemo, measureTones, WORK, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { Kamailio } from '../support/kamailio.js';
import { settle, waitFor } from '../support/net.js';
import { sipp } from '../support/sipp.js';

const CUSTOMER = 1800;
const DESK = 2200;
const ALICE = 2400;
const BOB = 1000;
/** The default music on hold: a C-E-G arpeggio. */
const MUSIC = [262, 330, 392];
/** Ringback: 440 + 480 Hz. */
const RINGBACK = [440, 480];

let pbx: Kamailio;
let customer: Baresip;
let desk: Baresip;
let gw: TestGateway;
let alice: Agent;
let bob: Agent;


before(async () => {
  pbx = await Kamailio.start('pbx-devmode');
  customer = await Baresip.start({ name: 'dm-customer', user: '5552000', password: 'customer-secret', gatewayPort: pbx.port, toneHz: CUSTOMER, toneAmplitude: 0.1 });
  gw = await startGateway({
    users: [
      { username: 'alice', password: 'alice-pw', role: 'agent', extension: '1001', skills: { support: 5 }, digestAlgorithms: ['MD5'] },
      { username: 'bob', password: 'bob-pw', role: 'agent', extension: '1002', digestAlgorithms: ['MD5'] },
    ] as never,
    trunks: [{ name: 'pbx', host: '127.0.0.1', port: pbx.port, transport: 'udp', username: 'switchboard', password: 'trunk-secret', realm: 'pbx.test', expires: 120, dids: { '5551700': '700', '5551002': '1002' }, optionsInterval: 5 }] as never,
    // baresip 1.0 reads no auto-answer header; this one is set to answer every call itself.
    devices: { profiles: [{ userAgent: '^baresip', autoAnswer: 'device' }] } as never,
  });
  desk = await Baresip.start({ name: 'dm-desk', user: 'alice', password: 'alice-pw', gatewayPort: gw.addrs.sipUdpPort, toneHz: DESK, toneAmplitude: 0.1, answerMode: 'auto' });
  [alice, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE), launchAgent(gw.addrs.httpUrl, BOB)]);
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-pw'), loginDemo(bob.page, 'bob', 'bob-pw')]);
  await waitFor(() => gw.gw.trunks.trunks[0]!.registration === 'registered', 8000, 'the trunk registered');
  await waitFor(() => gw.gw.sip.registrar.lookup('alice').length === 2, 8000, 'alice registered in the browser and on the desk phone');
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await Promise.all([customer?.stop(), desk?.stop()]);
  await gw?.stop();
  await pbx?.stop();
});

afterEach(async () => {
  for (const c of [...gw.gw.b2bua.active]) c.hangup({ by: 'gateway', status: 200, reason: 'test cleanup' });
  await waitFor(() => gw.gw.b2bua.active.length === 0, 5000, 'every call ended');
  await settle(300);
  for (const a of [alice, bob]) {
    if ((await a.page.getByTestId('agent-state').textContent()) === 'wrap-up') await a.page.getByTestId('wrapup-done').click();
  }
});

const stateShown = (a: Agent, state: string) => a.page.locator(`[data-testid="agent-state"][data-state="${state}"]`).waitFor({ timeout: 10_000 });
const count = (phone: Baresip, type: string) => phone.events.filter((e) => e.type === type).length;

/** What a baresip heard over the last second of its current call (dBFS per frequency). */
function ear(phone: Baresip, freqs: number[]): Record<number, number> {
  return recentTones(phone.receivedRecordings().at(-1)!, freqs, 1, 0.3);
}

/**
 * A phone's ear checked as {@link assertEar} does, again every 250 ms until it holds or `ms`
 * pass (the recording trails the call by a few hundred ms, more on a loaded machine).
 */
async function earSettles(name: string, phone: Baresip, freqs: number[], must: number[], mustNot: number[], ms = 6000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    try {
      return assertEar(name, ear(phone, freqs), must, mustNot);
    } catch (err) {
      if (Date.now() - t0 > ms) throw err;
      await settle(250);
    }
  }
}

/** Puts the agent's desktop in device mode (the demo's "Audio on" choice), once. */
async function deviceMode(a: Agent, expectDevice: RegExp): Promise<void> {
  if ((await a.page.getByTestId('audio-route').inputValue()) !== 'device') await a.page.getByTestId('audio-route').selectOption('device');
  await a.page.getByTestId('audio-devices').filter({ hasText: expectDevice }).waitFor({ timeout: 5000 });
}

test('a queue call in device mode: the desktop rings with the queue, answering makes the desk phone pick up, customer and desk phone hear each other; hold gives the customer music; a blind transfer sends the customer to bob', async () => {
  await deviceMode(alice, /baresip.*picks up when you answer here/);
  await alice.page.getByTestId('agent-select').selectOption('available');
  await stateShown(alice, 'available');
  const deskCalls = count(desk, 'CALL_ESTABLISHED');

  const dial = await customer.command('dial', `sip:5551700@127.0.0.1:${pbx.port}`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  // The desktop rings with the queue's name; the desk phone (answers by itself) is not called yet.
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await alice.page.getByTestId('incoming-from').textContent()) ?? '', /5552000/);
  assert.match((await alice.page.getByTestId('incoming-queue').textContent()) ?? '', /via support, waited \d+ s/);
  await stateShown(alice, 'ringing');
  await settle(500);
  assert.equal(count(desk, 'CALL_ESTABLISHED'), deskCalls, 'the desk phone is called only when alice answers');

  // Click to answer: the desk phone picks up by itself.
  const t0 = Date.now();
  await alice.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await desk.waitEvent(() => count(desk, 'CALL_ESTABLISHED') > deskCalls, 5000);
  console.log(`# answer clicked → desktop shows connected in ${Date.now() - t0} ms`);
  await stateShown(alice, 'on-call');
  const call = gw.gw.b2bua.active[0]!;
  assert.deepEqual(call.talkers.map((p) => p.party).sort(), ['5552000', 'alice']);
  assert.equal((await gw.gw.media.stats()).endpoints, 2, 'the customer\'s and the desk phone\'s endpoints: no browser media');

  await settle(1500);
  console.log(`# talking  ${await earSettles('customer', customer, [CUSTOMER, DESK, ALICE, ...MUSIC], [DESK], [ALICE, ...MUSIC])}`);
  console.log(`# talking  ${await earSettles('desk phone', desk, [CUSTOMER, DESK, ALICE], [CUSTOMER], [ALICE])}`);

  // Hold from the desktop: the customer hears music, not the desk phone.
  await alice.page.getByTestId('hold').click();
  await alice.page.getByTestId('hold-state').filter({ hasText: /caller hears music/ }).waitFor({ timeout: 5000 });
  await settle(1500);
  const held = ear(customer, [DESK, ...MUSIC]);
  console.log(`# on hold  customer hears ${MUSIC.map((f) => `${f} Hz ${held[f]!.toFixed(1)}`).join(', ')}; desk ${held[DESK]!.toFixed(1)} dBFS`);
  assert.ok(MUSIC.some((f) => held[f]! > -45), `the customer hears music on hold: ${JSON.stringify(held)}`);
  assert.ok(held[DESK]! < -50, `the customer does not hear the desk phone while held: ${JSON.stringify(held)}`);
  await alice.page.getByTestId('hold').click();
  await alice.page.getByTestId('hold-state').waitFor({ state: 'hidden', timeout: 5000 });
  await settle(1500);
  console.log(`# resumed  ${await earSettles('customer', customer, [DESK, ...MUSIC], [DESK], MUSIC)}`);

  // The gateway hears both lines (sampled every 5 s): clean on loopback, shown to supervisors.
  await waitFor(() => (gw.gw.center.liveCalls()[0]?.parties.filter((p) => p.quality).length ?? 0) >= 2, 12_000, 'both lines sampled');
  const lines = gw.gw.center.liveCalls()[0]!.parties.map((p) => `${p.name} MOS ${p.quality?.mos} loss ${p.quality?.lossPct} % jitter ${p.quality?.jitterMs} ms`);
  console.log(`# lines as the gateway hears them: ${lines.join('; ')}`);
  for (const p of gw.gw.center.liveCalls()[0]!.parties) assert.ok(p.quality && p.quality.mos >= 4 && p.quality.lossPct < 1, `a clean line: ${JSON.stringify(p)}`);

  // Blind transfer from the desktop to bob: bob's browser rings, he answers, the customer hears
  // bob; the desk phone's leg ends and alice goes to after-call work.
  const deskClosed = count(desk, 'CALL_CLOSED');
  await alice.page.getByTestId('transfer-target').fill('bob');
  await alice.page.getByTestId('transfer').click();
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await bob.page.getByTestId('answer').click();
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await desk.waitEvent(() => count(desk, 'CALL_CLOSED') > deskClosed, 5000);
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await stateShown(alice, 'wrap-up');
  await settle(1500);
  console.log(`# transfer ${await earSettles('customer', customer, [BOB, DESK, ...MUSIC], [BOB], [DESK, ...MUSIC])}`);
  console.log(`# transfer ${assertEar('bob', await measureTones(bob.page, 'window.demo.call?.remoteStream', [CUSTOMER, DESK]), [CUSTOMER], [DESK])}`);
  const closed = count(customer, 'CALL_CLOSED');
  await bob.page.getByTestId('hangup').click();
  await customer.waitEvent(() => count(customer, 'CALL_CLOSED') > closed);

  const rec = gw.gw.center.store.call(call.id)!;
  assert.equal(rec.outcome, 'answered');
  assert.equal(rec.agent, 'alice');
  assert.deepEqual(rec.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed']]);
  assert.ok(rec.timeline.some((e) => e.event === 'hold' && e.detail === 'alice'), 'the hold is in the record');
  const deskLine = rec.parties?.find((p) => p.party === 'alice')?.quality;
  console.log(`# the record keeps the desk phone's line: ${JSON.stringify(deskLine)}`);
  assert.ok(deskLine && deskLine.samples >= 1 && deskLine.worstMos >= 4, 'the record keeps each line\'s average and worst MOS');
});

test('device mode: DTMF and hang-up from the desktop — the hang-up ends both legs', async () => {
  await deviceMode(alice, /baresip/);
  await alice.page.getByTestId('agent-select').selectOption('available');
  await stateShown(alice, 'available');
  const deskClosed = count(desk, 'CALL_CLOSED');
  const customerClosed = count(customer, 'CALL_CLOSED');
  assert.ok((await customer.command('dial', `sip:5551700@127.0.0.1:${pbx.port}`)).ok);
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const call = gw.gw.b2bua.active[0]!;
  // Digits from the desktop reach the customer's phone as RFC 4733 events.
  const seen = customer.events.length;
  await alice.page.evaluate(() => window.demo.call!.sendDigits('59#'));
  await customer.waitEvent(() => customer.events.slice(seen).filter((e) => e.type === 'CALL_DTMF_START').length >= 3, 5000);
  const digits = customer.events.slice(seen).filter((e) => e.type === 'CALL_DTMF_START').map((e) => String(e.param)).join('');
  console.log(`# the customer's phone received the digits ${digits}`);
  assert.equal(digits, '59#');
  await alice.page.getByTestId('hangup').click();
  await desk.waitEvent(() => count(desk, 'CALL_CLOSED') > deskClosed, 5000);
  await customer.waitEvent(() => count(customer, 'CALL_CLOSED') > customerClosed, 5000);
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  const rec = gw.gw.center.store.call(call.id)!;
  console.log(`# hang-up from the desktop: ${rec.endedBy} ${rec.endStatus} ${rec.endReason}`);
  assert.equal(rec.outcome, 'answered');
  assert.match(rec.endReason, /Hung Up From The Desktop/);
  assert.equal(gw.gw.b2bua.active.length, 0);
  assert.equal((await gw.gw.media.stats()).endpoints, 0);
});

test('click-to-dial: the desk phone picks up by itself and hears ringback, bob answers, they hear each other', async () => {
  await deviceMode(alice, /baresip/);
  const deskCalls = count(desk, 'CALL_ESTABLISHED');
  await alice.page.getByTestId('target').fill('bob');
  await alice.page.getByTestId('dial').click();
  // The gateway calls the desk phone first: it answers by itself and hears ringback while bob rings.
  await desk.waitEvent(() => count(desk, 'CALL_ESTABLISHED') > deskCalls, 10_000);
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await bob.page.getByTestId('incoming-from').textContent()) ?? '', /alice/i);
  await settle(2000);
  const ringing = ear(desk, [...RINGBACK, BOB]);
  console.log(`# dialling: the desk phone hears ${RINGBACK.map((f) => `${f} Hz ${ringing[f]!.toFixed(1)}`).join(', ')} dBFS`);
  assert.ok(RINGBACK.every((f) => ringing[f]! > -40), `ringback while bob rings: ${JSON.stringify(ringing)}`);
  assert.match((await alice.page.getByTestId('call-state').textContent()) ?? '', /dialing|alerting|ringing/i);
  await bob.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await settle(1500);
  console.log(`# talking  ${await earSettles('desk phone', desk, [BOB, ...RINGBACK, ALICE], [BOB], [...RINGBACK, ALICE])}`);
  console.log(`# talking  ${assertEar('bob', await measureTones(bob.page, 'window.demo.call?.remoteStream', [DESK, ALICE]), [DESK], [ALICE])}`);
  const call = gw.gw.b2bua.active[0]!;
  await alice.page.getByTestId('hangup').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  const rec = gw.gw.center.store.call(call.id)!;
  assert.deepEqual([rec.caller, rec.callee, rec.outcome], ['alice', 'bob', 'answered']);
});

test('consult transfer in device mode: the desk phone takes the consultation as a second call (the customer hears music), then the customer and bob are joined and both of the phone\'s calls end', async () => {
  await deviceMode(alice, /baresip/);
  await alice.page.getByTestId('agent-select').selectOption('available');
  await stateShown(alice, 'available');
  assert.ok((await customer.command('dial', `sip:5551700@127.0.0.1:${pbx.port}`)).ok);
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const established = count(desk, 'CALL_ESTABLISHED');
  const deskClosed = count(desk, 'CALL_CLOSED');

  // Consult bob: the customer is held (music), the desk phone picks up a second call to bob.
  await alice.page.getByTestId('transfer-target').fill('bob');
  await alice.page.getByTestId('consult').click();
  await desk.waitEvent(() => count(desk, 'CALL_ESTABLISHED') > established, 10_000);
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('consult-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10_000 });
  await settle(1500);
  const waiting = ear(customer, [DESK, BOB, ...MUSIC]);
  console.log(`# consult  customer hears ${Object.entries(waiting).map(([f, l]) => `${f} Hz ${l.toFixed(1)}`).join(', ')}`);
  assert.ok(MUSIC.some((f) => waiting[f]! > -45), `the customer hears music while alice consults: ${JSON.stringify(waiting)}`);
  assert.ok(waiting[DESK]! < -50 && waiting[BOB]! < -50, `the customer hears neither alice's phone nor bob while held: ${JSON.stringify(waiting)}`);
  console.log(`# consult  ${await earSettles('desk phone (consultation)', desk, [BOB, CUSTOMER, ...RINGBACK], [BOB], [CUSTOMER, ...RINGBACK])}`);

  // Complete: the customer and bob talk; both of the desk phone's calls end.
  await alice.page.getByTestId('complete').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  await desk.waitEvent(() => count(desk, 'CALL_CLOSED') >= deskClosed + 2, 5000);
  await settle(1500);
  console.log(`# complete ${await earSettles('customer', customer, [BOB, DESK, ...MUSIC], [BOB], [DESK, ...MUSIC])}`);
  console.log(`# complete ${assertEar('bob', await measureTones(bob.page, 'window.demo.call?.remoteStream', [CUSTOMER, DESK]), [CUSTOMER], [DESK])}`);
  assert.equal(gw.gw.b2bua.active.length, 1, 'one call left: customer ↔ bob');
  assert.deepEqual(gw.gw.b2bua.active[0]!.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed (attended)']]);
  await bob.page.getByTestId('hangup').click();
});

test('click-to-answer on a phone that rings first: its INVITE is cancelled and sent again with Call-Info answer-after=0, which it answers (sipp as the desk phone)', async () => {
  const trace = path.join(WORK, `desk-autoanswer-${process.pid}.log`);
  const phone = sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-register-desk.xml', '-oocsf', 'uas-desk-autoanswer.xml', '-s', 'bob', '-au', 'bob', '-ap', 'bob-pw',
    '-d', '30000', '-i', '127.0.0.1', '-t', 'u1', '-m', '1', '-trace_msg', '-message_file', trace], 40_000);
  try {
    await waitFor(() => gw.gw.sip.registrar.lookup('bob').some((b) => !b.webrtc), 8000, 'the sipp desk phone registered as bob');
    await deviceMode(bob, /sipp-desk.*picks up when you answer here/);
    assert.ok((await customer.command('dial', `sip:5551002@127.0.0.1:${pbx.port}`)).ok);
    await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
    await settle(500);
    await bob.page.getByTestId('answer').click();
    await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    const call = gw.gw.b2bua.active[0]!;
    assert.deepEqual(call.talkers.map((p) => p.party).sort(), ['5552000', 'bob']);
    await bob.page.getByTestId('hangup').click();
    await waitFor(() => gw.gw.b2bua.active.length === 0, 5000, 'the call ended');
    await settle(500);
  } finally {
    phone.proc.kill('SIGKILL');
    await phone.done;
  }
  // What the phone got, in order: a ringing INVITE without the header, its CANCEL, then the
  // INVITE with it, answered; then the BYE.
  const received = readFileSync(trace, 'utf8').split(/^-{10,}.*$/m).filter((c) => /message received/.test(c)).map((c) => c.replace(/^[\s\S]*?message received[^\n]*\n\s*\n?/, '').trimStart());
  const requests = received.filter((m) => /^[A-Z]+ sip:/.test(m)).map((m) => m.split(/\r?\n/)[0]!.split(' ')[0]!);
  console.log(`# the desk phone received: ${requests.join(' ')}`);
  const invites = received.filter((m) => m.startsWith('INVITE '));
  assert.equal(invites.length, 2, 'two INVITEs: the ringing one and the auto-answer one');
  assert.doesNotMatch(invites[0]!, /answer-after/i, 'the first INVITE rings');
  assert.match(invites[1]!, /^Call-Info: <sip:[^>]+>;answer-after=0/im);
  assert.match(invites[1]!, /^Alert-Info: <[^>]+>;info=alert-autoanswer/im);
  assert.deepEqual(requests.filter((r) => r !== 'ACK'), ['INVITE', 'CANCEL', 'INVITE', 'BYE']);
});
