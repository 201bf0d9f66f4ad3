/**
 * Blind transfer in Chromium, three demo pages with a tone each: a customer (carol, 1300 Hz)
 * calls agent A (alice, 500 Hz), who transfers to agent B (bob, 1100 Hz). The customer then
 * hears B and A's call is gone. Failures bring the customer back to the agent with a coded error.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const ALICE_HZ = 500;
const BOB_HZ = 1100;
const CAROL_HZ = 1300;
let gw: TestGateway;
let alice: Agent;
let bob: Agent;
let carol: Agent;

before(async () => {
  gw = await startGateway();
  [alice, bob, carol] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, BOB_HZ), launchAgent(gw.addrs.httpUrl, CAROL_HZ)]);
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-demo'), loginDemo(bob.page, 'bob', 'bob-demo'), loginDemo(carol.page, 'carol', 'carol-demo')]);
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
  await gw?.stop();
});

const near = (hz: number, want: number) => Math.abs(hz - want) < 15;

test('blind transfer: the customer ends up talking to agent B; agent A is released', async () => {
  await carol.page.getByTestId('target').fill('1001');
  await carol.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const before = await measureRemoteAudio(carol.page, 800);
  assert.ok(near(before.frequency, ALICE_HZ), `carol hears alice first: ${JSON.stringify(before)}`);

  await alice.page.getByTestId('transfer-target').fill('bob');
  await alice.page.getByTestId('transfer').click();
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await bob.page.getByTestId('incoming-from').textContent()) ?? '', /carol/, 'bob sees the customer, not alice');
  // While bob rings, carol hears music on hold, not alice.
  const waiting = await measureRemoteAudio(carol.page, 800);
  console.log(`# while B rings the customer hears ${waiting.frequency.toFixed(0)} Hz at ${waiting.levelDb.toFixed(1)} dBFS`);
  assert.ok([262, 330, 392].some((f) => near(waiting.frequency, f)), `music while the target rings: ${JSON.stringify(waiting)}`);
  await bob.page.getByTestId('answer').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 500));
  const [carolHears, bobHears] = await Promise.all([measureRemoteAudio(carol.page, 1200), measureRemoteAudio(bob.page, 1200)]);
  console.log(`# after transfer: customer hears ${carolHears.frequency.toFixed(0)} Hz at ${carolHears.levelDb.toFixed(1)} dBFS; B hears ${bobHears.frequency.toFixed(0)} Hz`);
  assert.ok(near(carolHears.frequency, BOB_HZ) && carolHears.levelDb > -30, `the customer hears agent B: ${JSON.stringify(carolHears)}`);
  assert.ok(near(bobHears.frequency, CAROL_HZ) && bobHears.levelDb > -30, `agent B hears the customer: ${JSON.stringify(bobHears)}`);
  const [call] = gw.gw.b2bua.active;
  assert.equal(gw.gw.b2bua.active.length, 1, 'one call, re-bridged');
  assert.deepEqual(call!.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed']]);
});

test('transfer to an unknown target: coded error, the customer is back with the agent', async () => {
  await bob.page.getByTestId('transfer-target').fill('9999');
  await bob.page.getByTestId('transfer').click();
  const err = bob.page.getByTestId('error');
  await err.waitFor({ state: 'visible', timeout: 5000 });
  assert.equal(await err.getAttribute('data-code'), 'SB_TRANSFER_FAILED');
  await new Promise((r) => setTimeout(r, 300));
  const back = await measureRemoteAudio(carol.page, 800);
  assert.ok(near(back.frequency, BOB_HZ) && back.levelDb > -30, `still talking to bob: ${JSON.stringify(back)}`);
});

test('transfer the target declines: hold is refused while it rings, then the customer comes back', async () => {
  await bob.page.getByTestId('transfer-target').fill('1001');
  await bob.page.getByTestId('transfer').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  // A hold while the transfer is pending is refused cleanly (SDK: one operation at a time).
  const refused = await bob.page.evaluate(() => window.demo.call!.hold().then(() => 'held', (e: { code?: string }) => e.code ?? 'error'));
  assert.equal(refused, 'SB_INVALID_STATE');
  await alice.page.getByTestId('reject').click();
  const err = bob.page.getByTestId('error');
  await err.filter({ hasText: '486' }).waitFor({ state: 'visible', timeout: 5000 });
  assert.equal(await err.getAttribute('data-code'), 'SB_TRANSFER_FAILED');
  await new Promise((r) => setTimeout(r, 300));
  const [carolHears, bobHears] = await Promise.all([measureRemoteAudio(carol.page, 800), measureRemoteAudio(bob.page, 800)]);
  assert.ok(near(carolHears.frequency, BOB_HZ) && carolHears.levelDb > -30, `the customer is back with bob: ${JSON.stringify(carolHears)}`);
  assert.ok(near(bobHears.frequency, CAROL_HZ) && bobHears.levelDb > -30, `bob hears the customer again: ${JSON.stringify(bobHears)}`);
  assert.deepEqual(gw.gw.b2bua.active[0]!.transfers.map((t) => t.result), ['completed', '404 No Such User Or Extension', '486 Busy Here']);
  await carol.page.getByTestId('hangup').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  // The call record keeps every hop, the failed ones too.
  await new Promise((r) => setTimeout(r, 200));
  const rec = gw.gw.center.store.calls({ party: 'carol' })[0]!;
  assert.deepEqual(rec.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed'], ['bob', '9999', '404 No Such User Or Extension'], ['bob', '1001', '486 Busy Here']]);
  assert.deepEqual([rec.caller, rec.callee, rec.outcome, rec.endedBy], ['carol', 'bob', 'answered', 'caller']);
  assert.equal(rec.timeline.filter((e) => e.event === 'transfer').length, 3);
});

test('consult cancelled: the consultation ends and the customer is back with the agent', async () => {
  await carol.page.getByTestId('target').fill('1001');
  await carol.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await alice.page.getByTestId('transfer-target').fill('1002');
  await alice.page.getByTestId('consult').click();
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('consult-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10_000 });
  await alice.page.getByTestId('cancel-consult').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await alice.page.getByTestId('consult-panel').waitFor({ state: 'hidden', timeout: 5000 });
  await new Promise((r) => setTimeout(r, 400));
  const [carolHears, aliceHears] = await Promise.all([measureRemoteAudio(carol.page, 1000), measureRemoteAudio(alice.page, 1000)]);
  assert.ok(near(carolHears.frequency, ALICE_HZ) && carolHears.levelDb > -30, `the customer hears alice again: ${JSON.stringify(carolHears)}`);
  assert.ok(near(aliceHears.frequency, CAROL_HZ) && aliceHears.levelDb > -30, `alice hears the customer again: ${JSON.stringify(aliceHears)}`);
  assert.equal(gw.gw.b2bua.active.length, 1);
  await carol.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
});

test('consult transfer: hold → consult → swap → complete; the customer and the target hear each other', async () => {
  // Fresh call: carol (customer) → alice.
  await carol.page.getByTestId('target').fill('1001');
  await carol.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });

  // Consult bob: carol goes on hold with music, alice talks to bob privately.
  await alice.page.getByTestId('transfer-target').fill('1002');
  await alice.page.getByTestId('consult').click();
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  await alice.page.getByTestId('consult-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 500));
  const music = [262, 330, 392];
  const [carolWaits, { frequency: aliceWithBob }] = await Promise.all([measureRemoteAudio(carol.page, 1000), measureRemoteAudio(alice.page, 1000, 'consult')]);
  console.log(`# consult: customer hears ${carolWaits.frequency.toFixed(0)} Hz (music); alice hears ${aliceWithBob.toFixed(0)} Hz on the consult call`);
  assert.ok(music.some((f) => near(carolWaits.frequency, f)), `the customer hears music while alice consults: ${JSON.stringify(carolWaits)}`);
  assert.ok(near(aliceWithBob, BOB_HZ), `alice talks to bob privately: ${aliceWithBob} Hz`);

  // Swap: back to carol (bob hears music), then back to bob.
  await alice.page.getByTestId('swap').click();
  await alice.page.getByTestId('consult-state').filter({ hasText: 'on hold' }).waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 400));
  const [bobWaits, aliceWithCarol] = await Promise.all([measureRemoteAudio(bob.page, 1000), measureRemoteAudio(alice.page, 1000)]);
  assert.ok(music.some((f) => near(bobWaits.frequency, f)), `after swap bob hears music: ${JSON.stringify(bobWaits)}`);
  assert.ok(near(aliceWithCarol.frequency, CAROL_HZ), `after swap alice hears carol: ${JSON.stringify(aliceWithCarol)}`);
  await alice.page.getByTestId('swap').click();
  await alice.page.getByTestId('consult-state').filter({ hasText: /^connected$/ }).waitFor({ timeout: 5000 });

  // Complete: carol and bob are connected, alice has no call left.
  await alice.page.getByTestId('complete').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  await alice.page.getByTestId('consult-panel').waitFor({ state: 'hidden', timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 500));
  const [carolHears, bobHears] = await Promise.all([measureRemoteAudio(carol.page, 1200), measureRemoteAudio(bob.page, 1200)]);
  console.log(`# consult complete: customer hears ${carolHears.frequency.toFixed(0)} Hz, target hears ${bobHears.frequency.toFixed(0)} Hz`);
  assert.ok(near(carolHears.frequency, BOB_HZ) && carolHears.levelDb > -30, `customer hears the target: ${JSON.stringify(carolHears)}`);
  assert.ok(near(bobHears.frequency, CAROL_HZ) && bobHears.levelDb > -30, `target hears the customer: ${JSON.stringify(bobHears)}`);
  assert.equal(gw.gw.b2bua.active.length, 1, 'one call left: customer ↔ target');
  assert.deepEqual(gw.gw.b2bua.active[0]!.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed (attended)']]);
  await carol.page.getByTestId('hangup').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await new Promise((r) => setTimeout(r, 200));
  const [rec] = gw.gw.center.store.calls({ party: 'carol' });
  assert.deepEqual(rec!.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'bob', 'completed (attended)']]);
  assert.equal(rec!.callee, 'bob');
  // The consultation call (alice → bob) has its own record, ended by the gateway when it was joined.
  const consult = gw.gw.center.store.calls({ party: 'alice' }).find((r) => r.caller === 'alice' && r.callee === 'bob')!;
  assert.deepEqual([consult.endedBy, consult.endReason], ['gateway', 'Transferred']);
});
