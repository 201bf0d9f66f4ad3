/**
 * Supervision in Chromium, three demo pages with a tone each: a customer (1300 Hz) calls agent
 * alice (500 Hz); supervisor sue (2000 Hz) picks the call from her live-calls panel and whispers,
 * then barges, then monitors — switching mid-call with the panel's buttons. After each switch
 * every ear's spectrum is checked for the tones it must and must not contain (must: ≥ −40 dBFS;
 * must not: ≥ 30 dB below the wanted ones). The customer never hears the supervisor unless she
 * barged, and never sees her in the roster otherwise; the agent is told (notifyAgent). An agent
 * may not supervise (SB_FORBIDDEN). The record lists sue with her modes and whom she supervised.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertEar, launchAgent, loginDemo, measureTones, waitForAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const CUSTOMER = 1300;
const AGENT = 500;
const SUPERVISOR = 2000;
const ALL = [CUSTOMER, AGENT, SUPERVISOR];
let gw: TestGateway;
let customer: Agent;
let alice: Agent;
let sue: Agent;
let bob: Agent;

before(async () => {
  gw = await startGateway({
    users: [
      { username: 'customer', password: 'customer-pw', role: 'agent', extension: '3001' },
      { username: 'alice', password: 'alice-pw', role: 'agent', extension: '1001' },
      { username: 'bob', password: 'bob-pw', role: 'agent', extension: '1002' },
      { username: 'sue', password: 'sue-pw', role: 'supervisor', extension: '1009' },
    ] as never,
    supervision: { notifyAgent: true },
  });
  [customer, alice, sue, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, CUSTOMER), launchAgent(gw.addrs.httpUrl, AGENT), launchAgent(gw.addrs.httpUrl, SUPERVISOR), launchAgent(gw.addrs.httpUrl, 800)]);
  await Promise.all([loginDemo(customer.page, 'customer', 'customer-pw'), loginDemo(alice.page, 'alice', 'alice-pw'), loginDemo(sue.page, 'sue', 'sue-pw'), loginDemo(bob.page, 'bob', 'bob-pw')]);
});

after(async () => {
  await Promise.all([customer?.close(), alice?.close(), sue?.close(), bob?.close()]);
  await gw?.stop();
});

/** All three ears at once. */
async function ears(): Promise<{ customer: Record<number, number>; agent: Record<number, number>; supervisor: Record<number, number> }> {
  const [c, a, s] = await Promise.all([
    measureTones(customer.page, 'window.demo.call?.remoteStream', ALL, 1200),
    measureTones(alice.page, 'window.demo.call?.remoteStream', ALL, 1200),
    measureTones(sue.page, 'window.demo.supervision?.call.remoteStream', ALL, 1200),
  ]);
  return { customer: c, agent: a, supervisor: s };
}

const names = (page: Agent['page']) => page.evaluate(() => window.demo.call?.participants.map((p) => `${p.name}:${p.mode}`).sort() ?? []);

test('whisper → barge → monitor: each ear hears exactly what its mode allows; the customer never hears a whisper', async () => {
  await customer.page.getByTestId('target').fill('1001');
  await customer.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await customer.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });

  // The supervisor's panel lists the call; she whispers to alice.
  await sue.page.getByTestId('whisper-alice').click({ timeout: 10_000 });
  await sue.page.getByTestId('sup-mode').filter({ hasText: 'whisper' }).waitFor({ timeout: 10_000 });
  await alice.page.getByTestId('supervised').filter({ hasText: 'sue is listening (whisper)' }).waitFor({ timeout: 5000 });
  await Promise.all([waitForAudio(customer.page, 'window.demo.call?.remoteStream'), waitForAudio(sue.page, 'window.demo.supervision?.call.remoteStream')]);
  await new Promise((r) => setTimeout(r, 500));
  let e = await ears();
  console.log(`# whisper  ${assertEar('customer', e.customer, [AGENT], [SUPERVISOR, CUSTOMER])}`);
  console.log(`# whisper  ${assertEar('agent', e.agent, [CUSTOMER, SUPERVISOR], [AGENT])}`);
  console.log(`# whisper  ${assertEar('supervisor', e.supervisor, [CUSTOMER, AGENT], [SUPERVISOR])}`);
  assert.deepEqual(await names(customer.page), [], 'the customer sees no roster (no conference, nobody visible joined)');

  await sue.page.getByTestId('sup-barge').click();
  await sue.page.getByTestId('sup-mode').filter({ hasText: 'barge' }).waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 400));
  e = await ears();
  console.log(`# barge    ${assertEar('customer', e.customer, [AGENT, SUPERVISOR], [CUSTOMER])}`);
  console.log(`# barge    ${assertEar('agent', e.agent, [CUSTOMER, SUPERVISOR], [AGENT])}`);
  console.log(`# barge    ${assertEar('supervisor', e.supervisor, [CUSTOMER, AGENT], [SUPERVISOR])}`);
  assert.deepEqual(await names(customer.page), ['alice:conference', 'customer:conference', 'sue:barge'], 'a barging supervisor is a visible party');

  await sue.page.getByTestId('sup-monitor').click();
  await sue.page.getByTestId('sup-mode').filter({ hasText: 'monitor' }).waitFor({ timeout: 5000 });
  await alice.page.getByTestId('supervised').filter({ hasText: 'monitor' }).waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 400));
  e = await ears();
  console.log(`# monitor  ${assertEar('customer', e.customer, [AGENT], [SUPERVISOR, CUSTOMER])}`);
  console.log(`# monitor  ${assertEar('agent', e.agent, [CUSTOMER], [SUPERVISOR, AGENT])}`);
  console.log(`# monitor  ${assertEar('supervisor', e.supervisor, [CUSTOMER, AGENT], [SUPERVISOR])}`);
  assert.deepEqual(await names(customer.page), ['alice:conference', 'customer:conference'], 'a silent monitor is not shown to the customer');

  // She leaves; the call goes on; the agent is told.
  await sue.page.getByTestId('sup-end').click();
  await sue.page.getByTestId('sup-session').waitFor({ state: 'hidden', timeout: 5000 });
  await alice.page.getByTestId('supervised').waitFor({ state: 'hidden', timeout: 5000 });
  const still = await measureTones(customer.page, 'window.demo.call?.remoteStream', ALL, 800);
  console.log(`# after    ${assertEar('customer', still, [AGENT], [SUPERVISOR, CUSTOMER])}`);
  assert.equal(gw.gw.b2bua.active.length, 1, 'the call goes on without the supervisor');
});

test('an agent may not supervise: SB_FORBIDDEN, and the call is untouched', async () => {
  const code = await bob.page.evaluate(() => window.demo.phone!.supervisor.monitor('alice').then(() => 'allowed', (e: { code?: string }) => e.code ?? String(e)));
  assert.equal(code, 'SB_FORBIDDEN');
  const listed = await bob.page.evaluate(() => window.demo.phone!.supervisor.calls().then(() => 'allowed', (e: { code?: string }) => e.code ?? String(e)));
  assert.equal(listed, 'SB_FORBIDDEN', 'nor list the calls');
  const [call] = gw.gw.b2bua.active;
  assert.deepEqual(call!.parties.map((p) => p.party).sort(), ['alice', 'customer']);
});

test('monitoring an agent who is on no call: a coded error', async () => {
  const code = await sue.page.evaluate(() => window.demo.phone!.supervisor.monitor('bob').then(() => 'allowed', (e: { code?: string }) => e.code ?? String(e)));
  assert.equal(code, 'SB_TARGET_NOT_FOUND');
});

test('the call record lists the supervisor: whom, when, and each mode', async () => {
  const callId = gw.gw.b2bua.active[0]!.id;
  await alice.page.getByTestId('hangup').click();
  await customer.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await new Promise((r) => setTimeout(r, 200));
  const rec = gw.gw.center.store.calls({}).find((r) => r.id === callId)!;
  const sueRec = rec.parties!.find((p) => p.party === 'sue')!;
  assert.equal(sueRec.role, 'supervisor');
  assert.equal(sueRec.supervises, 'alice');
  assert.deepEqual(sueRec.modes.map((m) => m.mode), ['whisper', 'barge', 'monitor']);
  assert.ok(sueRec.leftAt! >= sueRec.joinedAt && sueRec.leftAt! < rec.endedAt + 1, 'she left before the call ended');
  assert.deepEqual(rec.parties!.filter((p) => p.role !== 'supervisor').map((p) => `${p.party}:${p.role}`), ['customer:caller', 'alice:callee']);
});
