/**
 * Attended transfer from a SIP device with standard SIP (RFC 3515 REFER + RFC 3891 Replaces):
 * the customer (Chromium, carol, 1300 Hz) calls a desk phone (a headless SIP device); the desk
 * phone calls agent bob (Chromium, 1100 Hz) to consult, then REFERs the customer to bob with
 * `Replaces` naming its consultation dialog. The gateway joins customer and bob, NOTIFYs the
 * device with sipfrag 100 then 200, and ends both of the device's calls — customer and bob
 * hear each other. A Replaces naming no existing dialog is refused in the NOTIFY (481) and
 * the calls stay as they were.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { settle } from '../support/net.js';
import { startSipDevice, type SipDevice } from '../support/sip-device.js';
import { demoConfig } from '../../gateway/src/index.js';

const BOB_HZ = 1100;
const CAROL_HZ = 1300;
let gw: TestGateway;
let bob: Agent;
let carol: Agent;
let device: SipDevice;

before(async () => {
  // The device binds its port first, so the gateway's own ports cannot collide with it.
  device = await startSipDevice({ user: 'desk', password: 'desk-password' });
  gw = await startGateway({
    users: [...demoConfig().users, { username: 'desk', password: 'desk-password', role: 'agent', extension: '2101', digestAlgorithms: ['MD5'], staticContact: `sip:desk@127.0.0.1:${device.port}` }],
  });
  device.gatewayPort = gw.addrs.sipUdpPort;
  [bob, carol] = await Promise.all([launchAgent(gw.addrs.httpUrl, BOB_HZ), launchAgent(gw.addrs.httpUrl, CAROL_HZ)]);
  await Promise.all([loginDemo(bob.page, 'bob', 'bob-demo'), loginDemo(carol.page, 'carol', 'carol-demo')]);
});

after(async () => {
  await Promise.all([bob?.close(), carol?.close()]);
  await device?.close();
  await gw?.stop();
});

const near = (hz: number, want: number) => Math.abs(hz - want) < 15;
const waitFor = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

test('REFER with Replaces from a desk phone joins the customer and the consulted agent', { timeout: 60_000 }, async () => {
  // Customer → desk phone.
  await carol.page.getByTestId('target').fill('2101');
  await carol.page.getByTestId('dial').click();
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await waitFor(() => device.incoming.length === 1, 'the desk phone to answer');
  const customerDialog = device.incoming[0]!;

  // Desk phone consults bob.
  const consultPromise = device.call('bob');
  await bob.page.getByTestId('answer').click({ timeout: 10_000 });
  const consultDialog = await consultPromise;
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  assert.equal(gw.gw.b2bua.active.length, 2);

  // A Replaces that names nothing: refused through the NOTIFY, nothing changes.
  const bogus = encodeURIComponent('no-such-call@x;to-tag=a;from-tag=b');
  const r1 = await customerDialog.request('REFER', { headers: [['refer-to', `<sip:bob@127.0.0.1?Replaces=${bogus}>`], ['referred-by', '<sip:desk@127.0.0.1>']] });
  assert.equal(r1.status, 202);
  await waitFor(() => device.received.some((r) => r.includes('SIP/2.0 481')), 'NOTIFY 481');
  assert.equal(gw.gw.b2bua.active.length, 2, 'both calls still up');

  // The real thing (RFC 3891 §3: to-tag is the recipient's tag, from-tag the sender's).
  const { callId, localTag, remoteTag } = consultDialog.init;
  const replaces = encodeURIComponent(`${callId};to-tag=${remoteTag};from-tag=${localTag}`);
  const r2 = await customerDialog.request('REFER', { headers: [['refer-to', `<sip:bob@127.0.0.1?Replaces=${replaces}>`], ['referred-by', '<sip:desk@127.0.0.1>']] });
  assert.equal(r2.status, 202);
  await waitFor(() => device.received.filter((r) => r.startsWith('terminated')).length === 2, 'both device calls to end');
  const notifies = device.received.filter((r) => r.startsWith('NOTIFY'));
  assert.deepEqual(notifies.slice(-2), ['NOTIFY SIP/2.0 100 Trying', 'NOTIFY SIP/2.0 200 OK'], `sipfrag progress: ${JSON.stringify(device.received)}`);

  await settle(500);
  assert.equal(gw.gw.b2bua.active.length, 1, 'one call: customer ↔ bob');
  const [call] = gw.gw.b2bua.active;
  assert.deepEqual(call!.transfers.map((t) => [t.by, t.to, t.result]), [['desk', 'bob', 'completed (attended)']]);
  const [carolHears, bobHears] = await Promise.all([measureRemoteAudio(carol.page, 1000), measureRemoteAudio(bob.page, 1000)]);
  console.log(`# after REFER/Replaces: customer hears ${carolHears.frequency.toFixed(0)} Hz at ${carolHears.levelDb.toFixed(1)} dBFS; bob hears ${bobHears.frequency.toFixed(0)} Hz at ${bobHears.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(carolHears.frequency, BOB_HZ) && carolHears.levelDb > -40, `customer hears bob: ${JSON.stringify(carolHears)}`);
  assert.ok(near(bobHears.frequency, CAROL_HZ) && bobHears.levelDb > -40, `bob hears the customer: ${JSON.stringify(bobHears)}`);
  await carol.page.getByTestId('hangup').click();
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
});
