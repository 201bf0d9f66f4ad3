/**
 * A standard SIP-over-WebSocket client nobody here wrote — JsSIP 3.13 in Chromium, with digest
 * credentials and no token — on a call with a real phone (baresip). Hold by re-INVITE
 * (`a=sendonly`) and by UPDATE (RFC 3311), and an ICE restart, must be answered properly and
 * keep the call: the phone hears music on hold while held and the tones flow both ways after.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { recentAudio } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { launchAgent, measureStreamAudio, waitForAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { jssipPageDir, sb, waitEventLog } from '../support/jssip.js';

const ALICE_HZ = 600;
const PHONE_HZ = 1400;
const MUSIC = [262, 330, 392];

let gw: TestGateway;
let phone: Baresip;
let alice: Agent;

before(async () => {
  gw = await startGateway({ staticDirs: [{ prefix: '/jssip/', dir: jssipPageDir() }] });
  phone = await Baresip.start({ name: 'jssip-peer', user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipUdpPort, toneHz: PHONE_HZ });
  for (let i = 0; i < 100 && !gw.gw.sip.registrar.lookup('deskphone').length; i++) await new Promise((r) => setTimeout(r, 50));
  alice = await launchAgent(`${gw.addrs.httpUrl}jssip/`, ALICE_HZ);
  await sb(alice.page, 'start', gw.addrs.wsUrl, 'alice', 'alice-demo');
});

after(async () => {
  await alice?.close();
  await phone?.stop();
  await gw?.stop();
});

const jssipHears = () => measureStreamAudio(alice.page, 'window.sb.remoteStream', 1200);

/** What the phone received over the last second (its recording of the call in progress). */
async function phoneHears(): Promise<{ frequency: number; levelDb: number }> {
  const rec = phone.receivedRecordings().at(-1);
  assert.ok(rec, 'baresip records the call');
  const before = statSync(rec).size;
  await new Promise((r) => setTimeout(r, 1300));
  // The recording grows in real time: what we analyse was received just now, not earlier.
  assert.ok(statSync(rec).size - before >= 16_000, `the phone's recording should grow by ~1 s of audio (${statSync(rec).size - before} bytes)`);
  const { frequency, levelDb } = recentAudio(rec, 0.8, 0.2);
  return { frequency, levelDb };
}

function near(f: number, hz: number): boolean {
  return Math.abs(f - hz) <= 20;
}

async function assertBothWays(when: string): Promise<void> {
  const [a, p] = [await jssipHears(), await phoneHears()];
  console.log(`# ${when}: JsSIP hears ${a.frequency.toFixed(0)} Hz at ${a.levelDb.toFixed(1)} dBFS; the phone hears ${p.frequency} Hz at ${p.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(a.frequency, PHONE_HZ) && a.levelDb > -30, `${when}: JsSIP should hear the phone's ${PHONE_HZ} Hz: ${JSON.stringify(a)}`);
  assert.ok(near(p.frequency, ALICE_HZ) && p.levelDb > -35, `${when}: the phone should hear JsSIP's ${ALICE_HZ} Hz: ${JSON.stringify(p)}`);
}

test('JsSIP (digest over WebSocket) calls the phone; tones both ways', async () => {
  assert.equal(gw.gw.sip.registrar.lookup('alice')[0]?.target.transport, 'WS');
  await sb(alice.page, 'call', '2001');
  await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED');
  await assertBothWays('connected');
});

test('keys pressed on the phone reach JsSIP as standard INFO application/dtmf-relay (newDTMF)', async () => {
  for (const key of ['5', '0', '#']) {
    const r = await phone.command('sndcode', key);
    assert.ok(r.ok, `baresip refused key ${key}: ${r.data}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  let got: string[] = [];
  for (let i = 0; i < 40 && got.length < 3; i++) {
    got = await alice.page.evaluate(() => (window as unknown as { sb: { dtmf: string[] } }).sb.dtmf);
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`# JsSIP newDTMF: ${got.join('')}`);
  assert.deepEqual(got, ['5', '0', '#']);
});

test('hold by re-INVITE (a=sendonly): answered, the phone hears music; unhold: tones both ways again', async () => {
  await sb(alice.page, 'hold', false);
  const [call] = gw.gw.b2bua.active;
  assert.equal(call?.heldBy, 'caller', 'the gateway holds the phone for JsSIP');
  const p = await phoneHears();
  console.log(`# held by re-INVITE: the phone hears ${p.frequency} Hz at ${p.levelDb.toFixed(1)} dBFS`);
  assert.ok(MUSIC.some((f) => near(p.frequency, f)) && p.levelDb > -45, `the phone should hear music on hold: ${JSON.stringify(p)}`);
  await sb(alice.page, 'unhold', false);
  assert.equal(call?.heldBy, undefined);
  await assertBothWays('after unhold (re-INVITE)');
});

test('hold by UPDATE (RFC 3311): answered, the phone hears music; unhold by UPDATE: tones both ways', async () => {
  await sb(alice.page, 'hold', true);
  const [call] = gw.gw.b2bua.active;
  assert.equal(call?.heldBy, 'caller');
  const p = await phoneHears();
  console.log(`# held by UPDATE: the phone hears ${p.frequency} Hz at ${p.levelDb.toFixed(1)} dBFS`);
  assert.ok(MUSIC.some((f) => near(p.frequency, f)) && p.levelDb > -45, `the phone should hear music on hold: ${JSON.stringify(p)}`);
  await sb(alice.page, 'unhold', true);
  assert.equal(call?.heldBy, undefined);
  await assertBothWays('after unhold (UPDATE)');
});

test('ICE restart (renegotiate with iceRestart): new credentials both sides, audio keeps flowing', async () => {
  const before = { local: await sb<string>(alice.page, 'localIceUfrag'), remote: await sb<string>(alice.page, 'remoteIceUfrag') };
  await sb(alice.page, 'iceRestart');
  const afterRestart = { local: await sb<string>(alice.page, 'localIceUfrag'), remote: await sb<string>(alice.page, 'remoteIceUfrag') };
  console.log(`# ICE restart: browser ufrag ${before.local} -> ${afterRestart.local}, gateway ufrag ${before.remote} -> ${afterRestart.remote}`);
  assert.notEqual(afterRestart.local, before.local, 'the browser restarted ICE');
  assert.notEqual(afterRestart.remote, before.remote, 'the gateway answered with new ICE credentials');
  // The new path needs its connectivity checks (and DTLS keeps its keys): on a loaded machine
  // that took over a second once, so wait for the audio to be back, then check both ways.
  const t0 = Date.now();
  await waitForAudio(alice.page, 'window.sb.remoteStream', 8000);
  console.log(`# audio back ${Date.now() - t0} ms after the re-INVITE's answer`);
  await new Promise((r) => setTimeout(r, 500));
  await assertBothWays('after the ICE restart');
  assert.equal(gw.gw.b2bua.active.length, 1, 'still one call');
});

test('hang up from JsSIP ends both legs', async () => {
  await sb(alice.page, 'hangup');
  await phone.waitEvent((e) => e.type === 'CALL_CLOSED');
  for (let i = 0; i < 50 && gw.gw.b2bua.active.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(gw.gw.b2bua.active.length, 0);
  assert.equal(gw.gw.sip.dialogCount, 0);
});
