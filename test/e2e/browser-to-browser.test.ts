/**
 * Two agents in Chromium call each other through the gateway using the demo page; each must hear
 * the other's tone (frequency and level measured on the received audio).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { firstAudioAt, launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const ALICE_HZ = 500;
const BOB_HZ = 1100;

let gw: TestGateway;
let alice: Agent;
let bob: Agent;

before(async () => {
  gw = await startGateway();
  [alice, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, BOB_HZ)]);
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await gw?.stop();
});

test('agents log in and register over WebSocket', async () => {
  const t0 = Date.now();
  await loginDemo(alice.page, 'alice', 'alice-demo');
  const registerMs = Date.now() - t0;
  await loginDemo(bob.page, 'bob', 'bob-demo');
  assert.equal(await alice.page.getByTestId('me').textContent(), 'alice');
  assert.deepEqual(gw.gw.sip.registrar.lookup('alice').map((b) => b.target.transport), ['WS']);
  assert.deepEqual(gw.gw.sip.registrar.lookup('bob').map((b) => b.target.transport), ['WS']);
  console.log(`# measured: login+register ${registerMs} ms`);
});

test('alice calls bob by extension; both hear each other', async () => {
  const tDial = Date.now();
  await alice.page.getByTestId('target').fill('1002');
  await alice.page.getByTestId('dial').click();
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  const tRinging = Date.now();
  assert.match((await bob.page.getByTestId('incoming-from').textContent()) ?? '', /alice/i);
  await alice.page.getByTestId('call-state').filter({ hasText: 'alerting' }).waitFor({ timeout: 5000 });

  const firstAudio = firstAudioAt(alice.page);
  const tAnswer = Date.now();
  await bob.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const tConnected = Date.now();
  const tAudio = await firstAudio;
  console.log(`# measured: dial->ringing ${tRinging - tDial} ms, answer->connected ${tConnected - tAnswer} ms, answer->first audio ${tAudio - tAnswer} ms`);

  const [heardByAlice, heardByBob] = await Promise.all([measureRemoteAudio(alice.page), measureRemoteAudio(bob.page)]);
  console.log(`# alice hears ${heardByAlice.frequency.toFixed(0)} Hz at ${heardByAlice.levelDb.toFixed(1)} dBFS; bob hears ${heardByBob.frequency.toFixed(0)} Hz at ${heardByBob.levelDb.toFixed(1)} dBFS`);
  // An 8192-point FFT at 48 kHz has ~6 Hz bins; G.711 keeps the tone, so allow one bin either way plus margin.
  assert.ok(Math.abs(heardByAlice.frequency - BOB_HZ) < 15, `alice should hear bob's ${BOB_HZ} Hz, heard ${heardByAlice.frequency} Hz`);
  assert.ok(Math.abs(heardByBob.frequency - ALICE_HZ) < 15, `bob should hear alice's ${ALICE_HZ} Hz, heard ${heardByBob.frequency} Hz`);
  assert.ok(heardByAlice.levelDb > -30, `alice's received level too low: ${heardByAlice.levelDb} dBFS`);
  assert.ok(heardByBob.levelDb > -30, `bob's received level too low: ${heardByBob.levelDb} dBFS`);
  assert.equal(gw.gw.b2bua.active.length, 1);
  // Both desktops know the gateway's id for the call (the caller from the ringing response).
  const ids = await Promise.all([alice.page.evaluate(() => window.demo.call?.id), bob.page.evaluate(() => window.demo.call?.id)]);
  assert.deepEqual(ids, [gw.gw.b2bua.active[0]!.id, gw.gw.b2bua.active[0]!.id], 'call.id is the gateway call id on both sides');
  callId = ids[0]!;
});

let callId = '';

test('mute silences alice for bob, unmute restores it', async () => {
  await alice.page.getByTestId('mute').click();
  await alice.page.getByTestId('mute').filter({ hasText: 'Unmute' }).waitFor();
  await new Promise((r) => setTimeout(r, 300));
  const muted = await measureRemoteAudio(bob.page, 800);
  assert.ok(muted.levelDb < -50, `bob should hear silence while alice is muted, got ${muted.levelDb} dBFS`);
  const [call] = gw.gw.b2bua.active;
  assert.equal(call!.caller.muted, true, 'the gateway knows alice muted (for supervisors)');
  await alice.page.getByTestId('mute').click();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(call!.caller.muted, false);
  const back = await measureRemoteAudio(bob.page, 800);
  assert.ok(Math.abs(back.frequency - ALICE_HZ) < 15 && back.levelDb > -30, `bob should hear alice again: ${JSON.stringify(back)}`);
});

test('hold: bob hears music on hold and not alice, alice hears nothing; resume restores both ways', async () => {
  const MUSIC = [262, 330, 392];
  await alice.page.getByTestId('hold').click();
  await alice.page.getByTestId('hold').filter({ hasText: 'Resume' }).waitFor({ timeout: 5000 });
  await bob.page.getByTestId('hold-state').filter({ hasText: 'You are on hold' }).waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 300));
  const [bobHears, aliceHears] = await Promise.all([measureRemoteAudio(bob.page, 1200), measureRemoteAudio(alice.page, 1200)]);
  console.log(`# on hold: bob hears ${bobHears.frequency.toFixed(0)} Hz at ${bobHears.levelDb.toFixed(1)} dBFS; alice hears ${aliceHears.levelDb.toFixed(1)} dBFS`);
  assert.ok(MUSIC.some((f) => Math.abs(bobHears.frequency - f) < 15) && bobHears.levelDb > -40, `bob should hear the music (262/330/392 Hz): ${JSON.stringify(bobHears)}`);
  assert.ok(aliceHears.levelDb < -50, `alice should hear nothing from bob while he is held: ${JSON.stringify(aliceHears)}`);
  // The held side cannot take over the hold.
  assert.equal(await bob.page.getByTestId('hold').isDisabled(), true);
  await alice.page.getByTestId('hold').click();
  await bob.page.getByTestId('hold-state').waitFor({ state: 'hidden', timeout: 5000 });
  await new Promise((r) => setTimeout(r, 300));
  const [bobBack, aliceBack] = await Promise.all([measureRemoteAudio(bob.page, 1000), measureRemoteAudio(alice.page, 1000)]);
  assert.ok(Math.abs(bobBack.frequency - ALICE_HZ) < 15 && bobBack.levelDb > -30, `bob hears alice again: ${JSON.stringify(bobBack)}`);
  assert.ok(Math.abs(aliceBack.frequency - BOB_HZ) < 15 && aliceBack.levelDb > -30, `alice hears bob again: ${JSON.stringify(aliceBack)}`);
});

test('bob hangs up; both pages show the call gone and the gateway frees it', async () => {
  await bob.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  for (let i = 0; i < 50 && gw.gw.b2bua.active.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(gw.gw.b2bua.active.length, 0);
  const stats = await gw.gw.media.stats();
  assert.equal(stats.endpoints, 0, 'media endpoints are closed');
  assert.ok(stats.packetsRelayed > 100, `packets were relayed (${stats.packetsRelayed})`);
  // call.id is the record's id in /api/records.
  const { token } = (await (await fetch(new URL('/api/login', gw.addrs.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: 'carol-demo' }) })).json()) as { token: string };
  const records = (await (await fetch(new URL('/api/records?limit=50', gw.addrs.httpUrl), { headers: { authorization: `Bearer ${token}` } })).json()) as { records: Array<{ id: string; caller: string; callee: string }> };
  const rec = records.records.find((r) => r.id === callId);
  assert.ok(rec, `a record with the desktop's call id ${callId}`);
  assert.equal(rec.caller, 'alice');
});

test('calling an unknown target shows a clear error', async () => {
  await alice.page.getByTestId('target').fill('9999');
  await alice.page.getByTestId('dial').click();
  const err = alice.page.getByTestId('error');
  await err.waitFor({ state: 'visible', timeout: 5000 });
  assert.equal(await err.getAttribute('data-code'), 'SB_TARGET_NOT_FOUND');
  assert.match((await err.textContent()) ?? '', /No user, extension or number/);
});

test('echo test: alice dials 600 and hears her own tone', async () => {
  await alice.page.getByTestId('target').fill('600');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const heard = await measureRemoteAudio(alice.page);
  assert.ok(Math.abs(heard.frequency - ALICE_HZ) < 15 && heard.levelDb > -30, `alice should hear her own ${ALICE_HZ} Hz: ${JSON.stringify(heard)}`);
  await alice.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
});

test('a wrong password is refused with a clear message', async () => {
  const page = await bob.browser.newPage();
  await page.goto(gw.addrs.httpUrl);
  await page.getByTestId('username').fill('bob');
  await page.getByTestId('password').fill('wrong-password');
  await page.getByTestId('login').click();
  const err = page.getByTestId('error');
  await err.waitFor({ state: 'visible' });
  assert.equal(await err.getAttribute('data-code'), 'SB_AUTH_FAILED');
  await page.close();
});
