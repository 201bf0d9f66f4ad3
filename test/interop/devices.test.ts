/**
 * An agent on several devices: a browser desktop (the demo, SDK in Chromium) and a SIP desk phone
 * (baresip) registered as the same user. Parallel ringing: both ring; the one that answers wins,
 * the other is cancelled with "Call completed elsewhere" (RFC 3326) and its screen says so.
 * Feature codes from the desk phone change the agent's state; a busy-lamp subscriber (sipp)
 * follows the agent's calls (RFC 4235), its documents validated against the RFC's schema.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { analyse, loudestWindow, readWav } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { launchAgent, loginDemo, measureRemoteAudio, WORK, type Agent } from '../support/browser.js';
import { sipp } from '../support/sipp.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { demoConfig } from '../../gateway/src/index.js';

const ALICE_HZ = 500;
const BOB_HZ = 900;
const DESK_HZ = 1700;

let gw: TestGateway;
let desk: Baresip;
let alice: Agent;
let bob: Agent;

before(async () => {
  // Alice's desk phone answers digest with MD5 (baresip 1.0 cannot do SHA-256).
  const users = demoConfig().users.map((u) => (u.username === 'alice' ? { ...u, digestAlgorithms: ['MD5' as const] } : u));
  // Subscriptions may be as short as 1 s here, so expiry is seen within the test.
  gw = await startGateway({ users, sip: { subscriptions: { minExpires: 1 } } });
  desk = await Baresip.start({ name: 'alice-desk', user: 'alice', password: 'alice-demo', gatewayPort: gw.addrs.sipUdpPort, toneHz: DESK_HZ, answerMode: 'manual' });
  alice = await launchAgent(gw.addrs.httpUrl, ALICE_HZ);
  await loginDemo(alice.page, 'alice', 'alice-demo');
  bob = await launchAgent(gw.addrs.httpUrl, BOB_HZ);
  await loginDemo(bob.page, 'bob', 'bob-demo');
  for (let i = 0; i < 100 && gw.gw.sip.registrar.lookup('alice').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(gw.gw.sip.registrar.lookup('alice').length, 2, `alice should be registered twice (browser and desk phone):\n${desk.log.slice(-2000)}`);
});

after(async () => {
  await bob?.close();
  await alice?.close();
  await desk?.stop();
  await gw?.stop();
});

function heardIn(file: string): { frequency: number; levelDb: number } {
  const { samples, sampleRate } = readWav(file);
  return analyse(loudestWindow(samples, sampleRate), sampleRate);
}

const count = (type: string) => desk.events.filter((e) => e.type === type).length;

test('parallel ringing: the browser and the desk phone both ring; the desk phone answers, the browser shows "answered elsewhere", caller and desk phone hear each other', async () => {
  const incomingBefore = count('CALL_INCOMING');
  const closedBefore = count('CALL_CLOSED');
  await bob.page.getByTestId('target').fill('1001');
  await bob.page.getByTestId('dial').click();
  // Both of alice's devices ring.
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await desk.waitEvent(() => count('CALL_INCOMING') > incomingBefore);
  assert.match((await alice.page.getByTestId('incoming-from').textContent()) ?? '', /bob|Bob/);
  // She picks up the handset.
  const accepted = await desk.command('accept');
  assert.ok(accepted.ok, `baresip could not answer: ${accepted.data}`);
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  // The desktop stops ringing and says where the call went — not a missed call.
  await alice.page.getByTestId('incoming').waitFor({ state: 'hidden', timeout: 5000 });
  const entry = alice.page.getByTestId('history-entry').first();
  await entry.waitFor({ timeout: 5000 });
  assert.match((await entry.textContent()) ?? '', /answered elsewhere/);
  assert.equal(await alice.page.getByTestId('active-call').isVisible(), false, 'the desktop has no call of its own');
  // The gateway holds one call, bob ↔ alice's desk phone, and no stray endpoint from the losing branch.
  const calls = gw.gw.b2bua.active;
  assert.equal(calls.length, 1);
  assert.equal((await gw.gw.media.stats()).endpoints, 2, 'two endpoints: the caller\'s and the desk phone\'s');
  const heard = await measureRemoteAudio(bob.page, 2000);
  console.log(`# bob hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(heard.frequency - DESK_HZ) < 15 && heard.levelDb > -30, `bob should hear the desk phone's ${DESK_HZ} Hz: ${JSON.stringify(heard)}`);
  await bob.page.getByTestId('hangup').click();
  await desk.waitEvent(() => count('CALL_CLOSED') > closedBefore);
  const got = heardIn(desk.receivedRecordings().at(-1)!);
  console.log(`# the desk phone heard ${got.frequency} Hz at ${got.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(got.frequency - BOB_HZ) <= 20 && got.levelDb > -35, `the desk phone should hear bob's ${BOB_HZ} Hz`);
});

test('parallel ringing: the browser answers; the desk phone stops ringing and the caller hears the browser', async () => {
  const incomingBefore = count('CALL_INCOMING');
  const closedBefore = count('CALL_CLOSED');
  await bob.page.getByTestId('target').fill('1001');
  await bob.page.getByTestId('dial').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await desk.waitEvent(() => count('CALL_INCOMING') > incomingBefore);
  await alice.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const closed = await desk.waitEvent(() => count('CALL_CLOSED') > closedBefore, 5000);
  console.log(`# the desk phone stopped ringing (${String(closed.param ?? '')})`);
  assert.equal(count('CALL_ESTABLISHED'), 1, 'the desk phone never picked this call up');
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 500));
  const heard = await measureRemoteAudio(bob.page, 2000);
  assert.ok(Math.abs(heard.frequency - ALICE_HZ) < 15 && heard.levelDb > -30, `bob should hear alice's browser: ${JSON.stringify(heard)}`);
  await alice.page.getByTestId('hangup').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  assert.equal((await gw.gw.media.stats()).endpoints, 0);
});

/** Alice's agent state as the HTTP API reports it. */
async function apiState(): Promise<{ state: string; reason?: string }> {
  const login = (await (await fetch(new URL('/api/login', gw.addrs.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-demo' }) })).json()) as { token: string };
  return (await (await fetch(new URL('/api/agents/alice', gw.addrs.httpUrl), { headers: { authorization: `Bearer ${login.token}` } })).json()) as { state: string; reason?: string };
}

/** Dials a feature code on the desk phone; returns what the phone heard before the gateway hung up. */
async function dialCode(code: string): Promise<{ frequency: number; levelDb: number; heldMs: number }> {
  const closed = count('CALL_CLOSED');
  const recordings = desk.receivedRecordings().length;
  const t0 = Date.now();
  const r = await desk.command('dial', `sip:${code}@127.0.0.1:${gw.addrs.sipUdpPort}`);
  assert.ok(r.ok, `baresip refused to dial ${code}: ${r.data}`);
  await desk.waitEvent(() => count('CALL_CLOSED') > closed, 10_000);
  const heldMs = Date.now() - t0;
  for (let i = 0; i < 40 && desk.receivedRecordings().length <= recordings; i++) await new Promise((res) => setTimeout(res, 50));
  return { ...heardIn(desk.receivedRecordings().at(-1)!), heldMs };
}

test('feature codes from the desk phone change the agent\'s state: the phone hears a confirmation tone, the API and the desktop show the new state', async () => {
  const stateShown = (state: string) => alice.page.locator(`[data-testid="agent-state"][data-state="${state}"]`).waitFor({ timeout: 5000 });
  // *712: not ready with the second reason of the list (break, lunch, …).
  const notReady = await dialCode('*712');
  console.log(`# *712: the phone heard ${notReady.frequency} Hz at ${notReady.levelDb.toFixed(1)} dBFS; the gateway hung up after ${notReady.heldMs} ms`);
  assert.ok(Math.abs(notReady.frequency - 1400) <= 20 && notReady.levelDb > -30, 'the confirmation beeps (1400 Hz)');
  assert.deepEqual(await apiState().then((s) => [s.state, s.reason]), ['not-ready', 'lunch']);
  await stateShown('not-ready');
  assert.equal(await alice.page.getByTestId('agent-reason').textContent(), '(lunch)');
  // *70: available.
  assert.ok(Math.abs((await dialCode('*70')).frequency - 1400) <= 20);
  assert.equal((await apiState()).state, 'available');
  await stateShown('available');
  // *71: not ready with the first reason.
  await dialCode('*71');
  assert.deepEqual(await apiState().then((s) => [s.state, s.reason]), ['not-ready', 'break']);
  await stateShown('not-ready');
  // *719: there is no ninth reason — refused with the reorder tone; nothing changes.
  const refused = await dialCode('*719');
  console.log(`# *719: the phone heard ${refused.frequency} Hz (reorder 480 + 620 Hz)`);
  assert.ok([480, 620].some((f) => Math.abs(refused.frequency - f) <= 20), `the reorder tone, got ${refused.frequency} Hz`);
  assert.deepEqual(await apiState().then((s) => [s.state, s.reason]), ['not-ready', 'break']);
  // *73 outside after-call work: refused too.
  const notInWrapUp = await dialCode('*73');
  assert.ok([480, 620].some((f) => Math.abs(notInWrapUp.frequency - f) <= 20), `reorder for *73 outside wrap-up, got ${notInWrapUp.frequency} Hz`);
  // *72: logged out.
  await dialCode('*72');
  assert.equal((await apiState()).state, 'offline');
  await stateShown('offline');
  // Each code's call ended, and nothing is left open.
  for (let i = 0; i < 40 && gw.gw.b2bua.active.length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(gw.gw.b2bua.active.map((c) => `${c.caller.party} -> ${c.callee.party}: ${c.state}`), []);
  assert.equal((await gw.gw.media.stats()).endpoints, 0);
});

/** The NOTIFY requests in a sipp message trace: Subscription-State and body of each, in order. */
function notifiesIn(file: string): Array<{ subscriptionState: string; body: string }> {
  const text = readFileSync(file, 'utf8');
  return text.split(/^-{10,}.*$/m)
    .map((chunk) => chunk.replace(/^[\s\S]*?message received[^\n]*\n\s*\n?/, ''))
    .filter((m) => /^NOTIFY /.test(m.trimStart()))
    .map((m) => {
      const msg = m.trimStart().replace(/\r\n/g, '\n');
      const split = msg.indexOf('\n\n');
      const head = msg.slice(0, split);
      return { subscriptionState: /^Subscription-State:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? '', body: msg.slice(split + 2).trim() };
    });
}

/** xmllint's verdict on a dialog-info document against RFC 4235's schema. */
function validate(xml: string, n: number): void {
  const file = path.join(WORK, `dialog-info-${process.pid}-${n}.xml`);
  writeFileSync(file, xml);
  try {
    execFileSync('xmllint', ['--noout', '--schema', path.resolve(import.meta.dirname, '../fixtures/dialog-info.xsd'), file], { stdio: 'pipe' });
  } catch (err) {
    assert.fail(`NOTIFY ${n} is not a valid dialog-info document:\n${(err as { stderr?: Buffer }).stderr?.toString()}\n${xml}`);
  }
}

test('busy lamp: a sipp subscriber follows the agent\'s call early → confirmed → terminated (RFC 4235, schema-valid), refreshes, and its subscription expires', async () => {
  const port = gw.addrs.sipUdpPort;
  const trace = path.join(WORK, `blf-${process.pid}.log`);
  const watcher = sipp([`127.0.0.1:${port}`, '-sf', 'uac-subscribe-dialog.xml', '-s', '1001', '-key', 'user', 'deskphone', '-au', 'deskphone', '-ap', 'deskphone-demo', '-auth_uri', `1001@127.0.0.1:${port}`,
    '-i', '127.0.0.1', '-t', 'u1', '-m', '1', '-trace_msg', '-message_file', trace, '-timeout', '60s'], 70_000);
  for (let i = 0; i < 100 && gw.gw.sip.notifier.size < 1; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(gw.gw.sip.notifier.size, 1, 'the subscription is in place');
  await new Promise((r) => setTimeout(r, 300));
  // Bob calls alice; she answers in the browser; bob hangs up after a second.
  await bob.page.getByTestId('target').fill('1001');
  await bob.page.getByTestId('dial').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 300));
  await alice.page.getByTestId('answer').click();
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 1000));
  await bob.page.getByTestId('hangup').click();
  const t0 = Date.now();
  const r = await watcher.done;
  assert.equal(r.code, 0, `the subscriber:\n${r.out.slice(-3000)}`);
  console.log(`# the subscription expired ${Date.now() - t0} ms after the call ended (refreshed for 2 s after the terminated NOTIFY)`);

  const notifies = notifiesIn(trace);
  assert.ok(notifies.length >= 5, `initial, early, confirmed, terminated, refresh, expiry — got ${notifies.length}`);
  const seen: string[] = [];
  notifies.forEach((n, i) => {
    validate(n.body, i);
    assert.match(n.body, new RegExp(`version="${i}"`), 'versions count up from 0, one per NOTIFY');
    assert.match(n.body, /state="full"/);
    assert.match(n.body, /entity="sip:alice@/);
    const state = /<state>(\w+)<\/state>/.exec(n.body)?.[1] ?? 'none';
    if (seen.at(-1) !== state) seen.push(state);
  });
  console.log(`# NOTIFY states: ${notifies.map((n) => /<state>(\w+)<\/state>/.exec(n.body)?.[1] ?? '-').join(' ')}; subscription states: ${notifies.map((n) => n.subscriptionState).join(' | ')}`);
  assert.deepEqual(seen.slice(0, 4), ['none', 'early', 'confirmed', 'terminated'], 'the lamp: dark, ringing, busy, and the call gone');
  assert.match(notifies[1]!.body, /direction="recipient"[\s\S]*<remote><identity>sip:bob@/, 'alice is called by bob');
  assert.ok(notifies.slice(0, -1).every((n) => /^active;expires=\d+$/.test(n.subscriptionState)), 'active until it expires');
  assert.equal(notifies.at(-1)!.subscriptionState, 'terminated;reason=timeout');
  assert.equal(gw.gw.sip.notifier.size, 0);
});

test('busy lamp: a target nobody is gets 404, a package the gateway does not serve 489', async () => {
  const port = gw.addrs.sipUdpPort;
  const refused = async (target: string, event: string) => {
    const trace = path.join(WORK, `blf-refused-${process.pid}-${target}-${event}.log`);
    const r = await sipp([`127.0.0.1:${port}`, '-sf', 'uac-subscribe-refused.xml', '-s', target, '-key', 'event', event, '-key', 'user', 'deskphone', '-au', 'deskphone', '-ap', 'deskphone-demo', '-auth_uri', `${target}@127.0.0.1:${port}`,
      '-i', '127.0.0.1', '-t', 'u1', '-m', '1', '-trace_msg', '-message_file', trace, '-timeout', '10s']).done;
    assert.equal(r.code, 0, r.out.slice(-2000));
    return /^SIP\/2\.0 (\d{3} [^\r\n]*)/m.exec(readFileSync(trace, 'utf8').split(/^-{10,}.*$/m).filter((c) => /SIP\/2\.0 [3-6]\d\d/.test(c) && !/SIP\/2\.0 407/.test(c)).at(-1) ?? '')?.[1];
  };
  assert.equal(await refused('nobody', 'dialog'), '404 No Such User Or Extension');
  assert.equal(await refused('1001', 'presence'), '489 Bad Event');
});
