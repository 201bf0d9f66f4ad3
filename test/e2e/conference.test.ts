/**
 * Conferences with parties nobody here wrote: a customer on a real SIP phone (baresip, 1800 Hz)
 * behind a real PBX (Kamailio, the gateway's trunk), two agents in Chromium (alice 1000 Hz, bob
 * 2400 Hz) and a SIP desk phone registered at the gateway (baresip, 2200 Hz). The tones are
 * chosen so that no second- or third-order intermodulation product of three of them (f1 ± f2,
 * 2·f1 − f2, f1 + f2 − f3: G.711's companding is not linear) falls within 200 Hz of the fourth —
 * with 500/1100/1300/2000 Hz, 2000 + 1100 − 2·1300 = 500 Hz put a −56 dB trace of "alice" in
 * alice's own ear. The phones play their tones at amplitude 0.1 (about −23 dBFS), near what the
 * browsers' fake microphones deliver (−20 to −30 dBFS), so that a loud phone's companding
 * products do not stand out against a quiet browser. Every ear's
 * spectrum is checked: each party hears all the others (≥ −40 dBFS) and not itself (≥ 30 dB
 * below). Also: consult → merge → three-way, then the agent drops and the customer and the
 * consultee go on; and the records list every party with its join and leave times.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { recentTones } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { assertEar, launchAgent, loginDemo, measureTones, waitForAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { Kamailio } from '../support/kamailio.js';
import { settle, waitFor } from '../support/net.js';

const CUSTOMER = 1800;
const ALICE = 1000;
const BOB = 2400;
const DESK = 2200;
const ALL = [CUSTOMER, ALICE, BOB, DESK];
/** The supervisor's desk phone (in a call with the customer and alice only: no product of 1000/1800 lands on it). */
const SUPERVISOR = 2200;

let pbx: Kamailio;
let customer: Baresip;
let desk: Baresip;
let supDesk: Baresip;
let gw: TestGateway;
let alice: Agent;
let bob: Agent;


before(async () => {
  pbx = await Kamailio.start('pbx-conf');
  customer = await Baresip.start({ name: 'conf-customer', user: '5552000', password: 'customer-secret', gatewayPort: pbx.port, toneHz: CUSTOMER, toneAmplitude: 0.1 });
  gw = await startGateway({
    users: [
      { username: 'alice', password: 'alice-pw', role: 'agent', extension: '1001', skills: { support: 5 } },
      { username: 'bob', password: 'bob-pw', role: 'agent', extension: '1002' },
      { username: 'desk', password: 'desk-pw', role: 'agent', extension: '2001', digestAlgorithms: ['MD5'] },
      { username: 'suedesk', password: 'sue-pw', role: 'supervisor', extension: '2009', digestAlgorithms: ['MD5'] },
    ] as never,
    trunks: [{ name: 'pbx', host: '127.0.0.1', port: pbx.port, transport: 'udp', username: 'switchboard', password: 'trunk-secret', realm: 'pbx.test', expires: 120, dids: { '5551000': '1001', '5551700': '700' }, optionsInterval: 5 }] as never,
  });
  desk = await Baresip.start({ name: 'conf-desk', user: 'desk', password: 'desk-pw', gatewayPort: gw.addrs.sipUdpPort, toneHz: DESK, toneAmplitude: 0.1 });
  supDesk = await Baresip.start({ name: 'conf-supdesk', user: 'suedesk', password: 'sue-pw', gatewayPort: gw.addrs.sipUdpPort, toneHz: SUPERVISOR, toneAmplitude: 0.1 });
  [alice, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE), launchAgent(gw.addrs.httpUrl, BOB)]);
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-pw'), loginDemo(bob.page, 'bob', 'bob-pw')]);
  await waitFor(() => gw.gw.trunks.trunks[0]!.registration === 'registered', 8000, 'the trunk registered');
  await waitFor(() => gw.gw.sip.registrar.lookup('desk').length > 0 && gw.gw.sip.registrar.lookup('suedesk').length > 0, 8000, 'the desk phones registered');
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await Promise.all([customer?.stop(), desk?.stop(), supDesk?.stop()]);
  await gw?.stop();
  await pbx?.stop();
});

// After each test, whatever it left (a failed assertion skips its own hang-ups): every call
// ended from the gateway, the phones idle, the agents available again — so one failure does
// not make the next tests fail too.
afterEach(async () => {
  for (const c of [...gw.gw.b2bua.active]) c.hangup({ by: 'gateway', status: 200, reason: 'test cleanup' });
  await waitFor(() => gw.gw.b2bua.active.length === 0, 5000, 'every call ended');
  await settle(300);
  for (const a of [alice, bob]) {
    if ((await a.page.getByTestId('agent-state').textContent()) === 'wrap-up') await a.page.getByTestId('wrapup-done').click();
  }
});

/** The customer calls the DID (alice's, or the support queue's — alice must be available); alice answers. */
async function customerCallsAlice(did = '5551000'): Promise<void> {
  const dial = await customer.command('dial', `sip:${did}@127.0.0.1:${pbx.port}`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await waitForAudio(alice.page, 'window.demo.call?.remoteStream');
}

/**
 * The customer's ear (baresip behind the PBX) checked; if it fails, the message also gives what it
 * heard 1.5 s later and what the media engine and rtpengine hold, so a failure in CI can be read.
 */
async function assertCustomer(file: string, must: number[], mustNot: number[]): Promise<string> {
  try {
    return assertEar('customer', recentTones(file, ALL), must, mustNot);
  } catch (err) {
    await settle(1500);
    const later = Object.entries(recentTones(file, ALL)).map(([f, l]) => `${f} Hz ${l.toFixed(1)}`).join(', ');
    const stats = JSON.stringify(await gw.gw.media.stats());
    const rtpengine = gw.rtpengine ? `\nrtpengine:\n${await gw.rtpengine.dump()}` : '';
    throw new Error(`${(err as Error).message}\n1.5 s later: ${later}\nmedia: ${stats}${rtpengine}`);
  }
}

const callOf = () => gw.gw.b2bua.active.find((c) => c.parties.some((p) => p.party === '5552000'))!;
const talking = () => callOf()?.talkers.map((p) => p.party).sort() ?? [];

test('conference of four — customer via the PBX trunk, two browser agents, a SIP desk phone: every ear hears the other three and not itself; the first agent leaves and the others go on', async () => {
  await customerCallsAlice();
  // alice adds bob (he answers in his browser) and the desk phone (it answers on its own).
  await alice.page.getByTestId('add-target').fill('bob');
  await alice.page.getByTestId('add').click();
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  await waitFor(() => talking().length === 3, 10_000, 'bob joined');
  await waitForAudio(bob.page, 'window.demo.call?.remoteStream');
  await alice.page.getByTestId('add-target').fill('2001');
  await alice.page.getByTestId('add').click();
  await waitFor(() => talking().length === 4, 10_000, `the desk phone joined (${talking().join(', ')})`);
  await alice.page.locator('[data-testid="participant"]').nth(3).waitFor({ timeout: 5000 });
  const roster = await alice.page.locator('[data-testid="participant"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.name).sort());
  assert.deepEqual(roster, ['2001', '5552000', 'alice', 'bob'].map((n) => (n === '2001' ? 'desk' : n)).sort(), 'alice sees all four');
  await settle(1200);

  const customerRec = customer.receivedRecordings().at(-1)!;
  const deskRec = desk.receivedRecordings().at(-1)!;
  const [a, b] = await Promise.all([measureTones(alice.page, 'window.demo.call?.remoteStream', ALL, 1200), measureTones(bob.page, 'window.demo.call?.remoteStream', ALL, 1200)]);
  console.log(`# four     ${assertEar('alice', a, [CUSTOMER, BOB, DESK], [ALICE])}`);
  console.log(`# four     ${assertEar('bob', b, [CUSTOMER, ALICE, DESK], [BOB])}`);
  console.log(`# four     ${await assertCustomer(customerRec, [ALICE, BOB, DESK], [CUSTOMER])}`);
  console.log(`# four     ${assertEar('desk phone', recentTones(deskRec, ALL), [CUSTOMER, ALICE, BOB], [DESK])}`);

  // alice leaves: the other three go on.
  await alice.page.getByTestId('hangup').click();
  await waitFor(() => talking().length === 3, 5000, 'alice left');
  await settle(1200);
  const b2 = await measureTones(bob.page, 'window.demo.call?.remoteStream', ALL, 1200);
  console.log(`# three    ${assertEar('bob', b2, [CUSTOMER, DESK], [BOB, ALICE])}`);
  console.log(`# three    ${await assertCustomer(customerRec, [BOB, DESK], [CUSTOMER, ALICE])}`);
  console.log(`# three    ${assertEar('desk phone', recentTones(deskRec, ALL), [CUSTOMER, BOB], [DESK, ALICE])}`);
  assert.deepEqual(await bob.page.locator('[data-testid="participant"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.name).sort()), ['5552000', 'bob', 'desk']);

  // bob leaves too: the customer and the desk phone are still two — they go on; the desk hangs up: the call ends.
  const id = callOf().id;
  await bob.page.getByTestId('hangup').click();
  await waitFor(() => talking().length === 2, 5000, 'bob left');
  const closed = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await desk.command('hangup');
  await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  await settle(300);
  const rec = gw.gw.center.store.calls({}).find((r) => r.id === id)!;
  const parties = rec.parties!.map((p) => `${p.party}:${p.role}`);
  assert.deepEqual(parties, ['5552000:caller', 'alice:callee', 'bob:participant', 'desk:participant'], 'the record lists all four');
  for (const p of rec.parties!) assert.ok(p.leftAt !== undefined && p.leftAt >= p.joinedAt, `${p.party} has join and leave times`);
  const by = Object.fromEntries(rec.parties!.map((p) => [p.party, p]));
  assert.ok(by.alice!.leftAt! < by.bob!.leftAt! && by.bob!.leftAt! <= by.desk!.leftAt!, 'alice left first, then bob, then the call ended');
  assert.equal(rec.outcome, 'answered');
});

test('consult → merge → three-way; the agent drops and the customer and the consultee stay connected (a queue call: the agent goes to wrap-up as she leaves)', async () => {
  await alice.page.getByTestId('agent-select').selectOption('available');
  await alice.page.getByTestId('agent-state').filter({ hasText: /^available$/ }).waitFor({ timeout: 5000 });
  await customerCallsAlice('5551700');
  await alice.page.getByTestId('agent-state').filter({ hasText: 'on-call' }).waitFor({ timeout: 5000 });
  await alice.page.getByTestId('transfer-target').fill('bob');
  await alice.page.getByTestId('consult').click();
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('consult-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await waitForAudio(bob.page, 'window.demo.call?.remoteStream');
  await alice.page.getByTestId('merge').click();
  await waitFor(() => talking().length === 3, 10_000, 'the merge');
  await alice.page.getByTestId('consult-panel').waitFor({ state: 'hidden', timeout: 5000 });
  await settle(1000);
  const customerRec = customer.receivedRecordings().at(-1)!;
  const [a, b] = await Promise.all([measureTones(alice.page, 'window.demo.call?.remoteStream', ALL, 1200), measureTones(bob.page, 'window.demo.call?.remoteStream', ALL, 1200)]);
  console.log(`# merged   ${assertEar('alice', a, [CUSTOMER, BOB], [ALICE])}`);
  console.log(`# merged   ${assertEar('bob', b, [CUSTOMER, ALICE], [BOB])}`);
  console.log(`# merged   ${await assertCustomer(customerRec, [ALICE, BOB], [CUSTOMER])}`);
  assert.equal(gw.gw.b2bua.active.length, 1, 'the consultation call is gone');

  await alice.page.getByTestId('hangup').click();
  await waitFor(() => talking().length === 2, 5000, 'alice left');
  // Her part of the queue call is over although the call goes on.
  await alice.page.getByTestId('agent-state').filter({ hasText: 'wrap-up' }).waitFor({ timeout: 5000 });
  await settle(1200);
  const b2 = await measureTones(bob.page, 'window.demo.call?.remoteStream', ALL, 1200);
  console.log(`# after    ${assertEar('bob', b2, [CUSTOMER], [BOB, ALICE])}`);
  console.log(`# after    ${assertEar('customer', recentTones(customerRec, ALL), [BOB], [CUSTOMER, ALICE])}`);
  const call = callOf();
  assert.deepEqual([call.caller.party, call.callee.party], ['5552000', 'bob'], 'bob took alice\'s place in the call');
  // bob can still hold the customer (two-party operations work on what remains).
  await bob.page.getByTestId('hold').click();
  await bob.page.getByTestId('hold').filter({ hasText: 'Resume' }).waitFor({ timeout: 5000 });
  await settle(1500);
  const held = recentTones(customerRec, [262, 330, 392, BOB], 0.8, 0.3);
  const music = Math.max(held[262]!, held[330]!, held[392]!);
  assert.ok(music > -40 && held[BOB]! < music - 30, `the customer hears music on hold, not bob: ${JSON.stringify(held)}`);
  const closed = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await bob.page.getByTestId('hangup').click();
  await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  await alice.page.getByTestId('wrapup-done').click();
  await alice.page.getByTestId('agent-state').filter({ hasText: /^available$/ }).waitFor({ timeout: 5000 });
  await alice.page.getByTestId('agent-select').selectOption('offline');
});

test('monitor from a desk phone: the supervisor dials *51 and the agent\'s extension into alice\'s trunk call, hears both, nobody hears her; key 2 switches to whisper; an agent\'s phone is refused', async () => {
  await customerCallsAlice();
  const id = callOf().id;
  const est = supDesk.events.filter((e) => e.type === 'CALL_ESTABLISHED').length;
  const dial = await supDesk.command('dial', `sip:*511001@127.0.0.1:${gw.addrs.sipUdpPort}`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  await supDesk.waitEvent(() => supDesk.events.filter((e) => e.type === 'CALL_ESTABLISHED').length > est);
  await waitFor(() => callOf().parties.some((p) => p.role === 'supervisor' && p.joined), 5000, 'the supervisor joined');
  await settle(1500);
  const customerRec = customer.receivedRecordings().at(-1)!;
  const supRec = supDesk.receivedRecordings().at(-1)!;
  const tones = [CUSTOMER, ALICE, SUPERVISOR];
  console.log(`# monitor  ${assertEar('supervisor desk phone', recentTones(supRec, tones), [CUSTOMER, ALICE], [SUPERVISOR])}`);
  console.log(`# monitor  ${assertEar('customer', recentTones(customerRec, tones), [ALICE], [SUPERVISOR, CUSTOMER])}`);
  console.log(`# monitor  ${assertEar('alice', await measureTones(alice.page, 'window.demo.call?.remoteStream', tones, 1200), [CUSTOMER], [SUPERVISOR, ALICE])}`);

  // Key 2 on the desk phone: whisper — alice hears the supervisor, the customer still does not.
  const r = await supDesk.command('sndcode', '2');
  assert.ok(r.ok, r.data);
  await waitFor(() => callOf().parties.find((p) => p.role === 'supervisor')?.mode === 'whisper', 5000, 'whisper mode');
  await settle(1500);
  console.log(`# whisper  ${assertEar('alice', await measureTones(alice.page, 'window.demo.call?.remoteStream', tones, 1200), [CUSTOMER, SUPERVISOR], [ALICE])}`);
  console.log(`# whisper  ${assertEar('customer', recentTones(customerRec, tones), [ALICE], [SUPERVISOR, CUSTOMER])}`);

  // An agent's desk phone dialling the same code is refused (403) and changes nothing.
  const closed = desk.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await desk.command('dial', `sip:*511001@127.0.0.1:${gw.addrs.sipUdpPort}`);
  const ev = await desk.waitEvent(() => desk.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  const refusal = desk.events.filter((e) => e.type === 'CALL_CLOSED').at(-1)!;
  assert.match(String(refusal.param ?? ev.param), /403/, `refused: ${JSON.stringify(refusal)}`);
  assert.equal(callOf().parties.filter((p) => p.role === 'supervisor').length, 1);

  // The supervisor hangs up; the call goes on; the record says who monitored whom.
  await supDesk.command('hangup');
  await waitFor(() => !callOf().parties.some((p) => p.role === 'supervisor'), 5000, 'the supervisor left');
  const closedC = customer.events.filter((e) => e.type === 'CALL_CLOSED').length;
  await alice.page.getByTestId('hangup').click();
  await customer.waitEvent(() => customer.events.filter((e) => e.type === 'CALL_CLOSED').length > closedC);
  await settle(300);
  const rec = gw.gw.center.store.calls({}).find((x) => x.id === id)!;
  const sup = rec.parties!.find((p) => p.role === 'supervisor')!;
  assert.deepEqual([sup.party, sup.supervises, sup.modes.map((m) => m.mode).join('>')], ['suedesk', 'alice', 'monitor>whisper']);
});
