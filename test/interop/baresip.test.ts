/**
 * Interop with a real SIP phone (baresip): digest registration, and calls browser → phone and
 * phone → browser through the gateway, with each side's tone checked where it is received.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { analyse, loudestWindow, readWav } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { freePort, settle } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { demoConfig } from '../../gateway/src/index.js';

const ALICE_HZ = 500;
const PHONE_HZ = 1700;

let gw: TestGateway;
let phone: Baresip;
let alice: Agent;

let uasPort: number;

before(async () => {
  uasPort = await freePort();
  // Extension 3001: a static device (sipp) without telephone-event, for INFO DTMF.
  gw = await startGateway({ users: [...demoConfig().users, { username: 'ivr', password: 'ivr-password', role: 'agent', extension: '3001', staticContact: `sip:ivr@127.0.0.1:${uasPort}` }] });
  phone = await Baresip.start({ name: 'deskphone', user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipUdpPort, toneHz: PHONE_HZ });
  alice = await launchAgent(gw.addrs.httpUrl, ALICE_HZ);
  await loginDemo(alice.page, 'alice', 'alice-demo');
});

after(async () => {
  await alice?.close();
  await phone?.stop();
  await gw?.stop();
});

function assertHeard(file: string, hz: number): void {
  const { samples, sampleRate } = readWav(file);
  const got = analyse(loudestWindow(samples, sampleRate), sampleRate);
  console.log(`# ${file.split('/').pop()}: ${got.frequency} Hz at ${got.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(got.frequency - hz) <= 20, `expected ${hz} Hz in ${file}, found ${got.frequency} Hz`);
  assert.ok(got.levelDb > -35, `level too low in ${file}: ${got.levelDb} dBFS`);
}

test('baresip registers with digest authentication', async () => {
  // baresip registers at start-up, before its control socket is ours: watch the registrar.
  for (let i = 0; i < 100 && !gw.gw.sip.registrar.lookup('deskphone').length; i++) await new Promise((r) => setTimeout(r, 50));
  const [binding] = gw.gw.sip.registrar.lookup('deskphone');
  assert.ok(binding, `deskphone did not register:\n${phone.log}`);
  assert.equal(binding.target.transport, 'UDP');
  assert.equal(binding.target.port, phone.sipPort);
  assert.match(binding.userAgent ?? '', /baresip/);
});

test('browser calls the phone; each hears the other', async () => {
  await alice.page.getByTestId('target').fill('2001');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED');
  const heard = await measureRemoteAudio(alice.page, 2000);
  console.log(`# alice hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(heard.frequency - PHONE_HZ) < 15 && heard.levelDb > -30, `alice should hear the phone's ${PHONE_HZ} Hz: ${JSON.stringify(heard)}`);
  await alice.page.getByTestId('hangup').click();
  await phone.waitEvent((e) => e.type === 'CALL_CLOSED');
  const rec = phone.receivedRecordings();
  assert.ok(rec.length >= 1, 'baresip recorded the call');
  assertHeard(rec.at(-1)!, ALICE_HZ);
});

test('the phone calls the browser; each hears the other', async () => {
  const before = phone.receivedRecordings().length;
  const closedBefore = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  const dial = await phone.command('dial', `sip:1001@127.0.0.1:${gw.addrs.sipUdpPort}`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await alice.page.getByTestId('incoming-from').textContent()) ?? '', /deskphone/);
  await alice.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const heard = await measureRemoteAudio(alice.page, 2000);
  console.log(`# alice hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(heard.frequency - PHONE_HZ) < 15 && heard.levelDb > -30, `alice should hear the phone: ${JSON.stringify(heard)}`);
  await phone.command('hangup');
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await phone.waitEvent((e) => e.type === 'CALL_CLOSED' && phone.events.filter((x) => x.type === 'CALL_CLOSED').length > closedBefore);
  const rec = phone.receivedRecordings();
  assert.ok(rec.length > before, 'baresip recorded the second call');
  assertHeard(rec.at(-1)!, ALICE_HZ);
});

test('DTMF both ways: keys pressed on the phone reach the SDK as events; the browser\'s digits reach the phone', async () => {
  const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  const before = phone.events.length;
  await alice.page.getByTestId('target').fill('2001');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED' && phone.events.indexOf(e) >= before);
  await new Promise((r) => setTimeout(r, 800));
  // The phone's keypad (baresip's "sndcode" sends one key as RFC 4733 events).
  for (const key of ['4', '7', '*', '0', '#']) {
    const r = await phone.command('sndcode', key);
    assert.ok(r.ok, `baresip refused key ${key}: ${r.data}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  await alice.page.getByTestId('dtmf-received').filter({ hasText: '47*0#' }).waitFor({ timeout: 5000 }).catch(() => undefined);
  const shown = await alice.page.getByTestId('dtmf-received').textContent();
  console.log(`# the SDK reported keys "${shown}" from the phone`);
  assert.equal(shown, '47*0#', 'every key once, in order');
  // And the other way: the demo pad during the call.
  const seen = phone.events.length;
  for (const d of ['9', '8', '#']) await alice.page.getByTestId(`key-${d}`).click();
  await new Promise((r) => setTimeout(r, 1500));
  const got = phone.events.slice(seen).filter((e) => e.type === 'CALL_DTMF_START').map((e) => String(e.param));
  assert.deepEqual(got, ['9', '8', '#']);
  await alice.page.getByTestId('hangup').click();
  await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
});

test('SIP INFO digits from one device become RFC 4733 events toward the phone', async () => {
  const seen = phone.events.length;
  const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
  const r = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-info-dtmf.xml', '-s', '2001', '-au', 'alice', '-ap', 'alice-demo',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '20s']).done;
  assert.equal(r.code, 0, `sipp caller:\n${r.out.slice(-2000)}`);
  await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed);
  const got = phone.events.slice(seen).filter((e) => e.type === 'CALL_DTMF_START').map((e) => String(e.param));
  console.log(`# INFO → RFC 4733: the phone detected ${JSON.stringify(got)}`);
  assert.deepEqual(got, ['5', '#']);
});

test('a device without telephone-event gets the browser\'s keys as SIP INFO, in order', async () => {
  const device = sipp(['-sf', 'uas-info-dtmf.xml', '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  await settle();
  await alice.page.getByTestId('target').fill('3001');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 800));
  for (const d of ['1', '2', '#']) await alice.page.getByTestId(`key-${d}`).click();
  await new Promise((r) => setTimeout(r, 1500));
  await alice.page.getByTestId('hangup').click();
  const r = await device.done;
  assert.equal(r.code, 0, `the device did not get 1, 2, # as INFO:\n${r.out.slice(-2500)}`);
});

test('the phone transfers the browser to another agent with REFER; the call lands at the target', async () => {
  const BOB_HZ = 1100;
  const bob = await launchAgent(gw.addrs.httpUrl, BOB_HZ);
  try {
    await loginDemo(bob.page, 'bob', 'bob-demo');
    const closed = phone.events.filter((e) => e.type === 'CALL_CLOSED').length;
    await alice.page.getByTestId('target').fill('2001');
    await alice.page.getByTestId('dial').click();
    await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED' && phone.events.filter((x) => x.type === 'CALL_CLOSED').length === closed);
    // baresip's own blind transfer: REFER with Refer-To the target (RFC 3515).
    const r = await phone.command('transfer', `sip:1002@127.0.0.1:${gw.addrs.sipUdpPort}`);
    assert.ok(r.ok, `baresip refused to transfer: ${r.data}`);
    await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match((await bob.page.getByTestId('incoming-from').textContent()) ?? '', /alice/, 'bob is offered the transferred caller');
    await bob.page.getByTestId('answer').click();
    await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    await phone.waitEvent(() => phone.events.filter((e) => e.type === 'CALL_CLOSED').length > closed, 10_000);
    await new Promise((res) => setTimeout(res, 500));
    const heard = await measureRemoteAudio(alice.page, 1200);
    console.log(`# after the phone's REFER: alice hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
    assert.ok(Math.abs(heard.frequency - BOB_HZ) < 15 && heard.levelDb > -30, `alice now hears bob: ${JSON.stringify(heard)}`);
    assert.deepEqual(gw.gw.b2bua.active[0]?.transfers.map((t) => [t.by, t.to, t.result]), [['deskphone', 'bob', 'completed']]);
    await alice.page.getByTestId('hangup').click();
    await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  } finally {
    await bob.close();
  }
});

test('a phone with a wrong password is refused (403) and the gateway keeps serving', async () => {
  const bad = await Baresip.start({ name: 'wrongpass', user: 'deskphone', password: 'not-the-password', gatewayPort: gw.addrs.sipUdpPort, toneHz: 900 });
  try {
    for (let i = 0; i < 100 && !/403/.test(bad.log); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(bad.log, /deskphone.*403 Bad Credentials/, `the phone should show 403:\n${bad.log}`);
  } finally {
    await bad.stop();
  }
  assert.ok(gw.gw.sip.registrar.lookup('deskphone').length === 1, 'the good phone is still registered');
});
