/**
 * A USB telephony headset in Chromium through WebHID, scripted: `navigator.hid` is replaced in the
 * page by a fake device whose collections are those of a descriptor built from the HID Usage
 * Tables (test/fixtures/hid-descriptors.ts: buttons in report 2, LEDs in reports 3 and 4). The test
 * presses its buttons (input reports) and records what the demo's SDK sends it (output reports),
 * while a queue call runs between the agent (alice, Chromium) and a customer (carol, Chromium),
 * whose ears are measured.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { WITH_IDS } from '../fixtures/hid-descriptors.js';
import { parseReportDescriptor } from '../../sdk/src/headset/descriptor.js';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { settle } from '../support/net.js';

const ALICE_HZ = 700;
const CAROL_HZ = 1300;
const near = (hz: number, want: number) => Math.abs(hz - want) < 15;

let gw: TestGateway;
let alice: Agent;
let carol: Agent;

/** Installs the fake `navigator.hid` (before the page's scripts run). */
function fakeHid(collections: unknown): void {
  type Listener = (e: { reportId: number; data: DataView; device: unknown }) => void;
  const listeners: Listener[] = [];
  const sent: Array<{ reportId: number; data: number[]; at: number }> = [];
  const device = {
    opened: false,
    vendorId: 0x1234,
    productId: 0x0001,
    productName: 'Scripted Headset',
    collections,
    async open() { this.opened = true; },
    async close() { this.opened = false; },
    async sendReport(reportId: number, data: BufferSource) {
      sent.push({ reportId, data: [...new Uint8Array(data instanceof ArrayBuffer ? data : (data as ArrayBufferView).buffer)], at: performance.now() });
    },
    addEventListener(type: string, l: Listener) { if (type === 'inputreport') listeners.push(l); },
    removeEventListener(type: string, l: Listener) { const i = listeners.indexOf(l); if (i >= 0) listeners.splice(i, 1); },
  };
  let granted = false;
  const hid = {
    async requestDevice() { granted = true; return [device]; },
    async getDevices() { return granted ? [device] : []; },
    addEventListener() {},
  };
  Object.defineProperty(navigator, 'hid', { value: hid, configurable: true });
  (window as unknown as { __hid: unknown }).__hid = {
    sent,
    press(reportId: number, bytes: number[]) {
      const data = new DataView(Uint8Array.from(bytes).buffer);
      for (const l of [...listeners]) l({ reportId, data, device });
    },
  };
}

type Sent = Array<{ reportId: number; data: number[]; at: number }>;
const sentReports = (page: Page): Promise<Sent> => page.evaluate(() => (window as unknown as { __hid: { sent: Sent } }).__hid.sent);
const press = (page: Page, reportId: number, bytes: number[]) => page.evaluate(([id, b]) => (window as unknown as { __hid: { press(id: number, b: number[]): void } }).__hid.press(id, b), [reportId, bytes] as const);
/** The last LED report 3 sent: bit 0 off-hook, bit 1 mute, bit 2 ring. */
const leds3 = async (page: Page) => (await sentReports(page)).filter((r) => r.reportId === 3).at(-1)?.data[0] ?? -1;

before(async () => {
  gw = await startGateway({ queues: [{ name: 'support', extension: '700', members: ['alice'], ringTimeoutSeconds: 30, maxWaitSeconds: 120 }] });
  [alice, carol] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, CAROL_HZ)]);
  await alice.page.addInitScript(fakeHid, parseReportDescriptor(WITH_IDS));
  await alice.page.reload();
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-demo'), loginDemo(carol.page, 'carol', 'carol-demo')]);
});

after(async () => {
  await Promise.all([alice?.close(), carol?.close()]);
  await gw?.stop();
});

test('a USB headset: the ring LED blinks while a queue call rings, the hook switch answers (audio both ways), the mute button mutes (the customer hears silence) and lights the mute LED, the hook switch hangs up', async () => {
  await alice.page.getByTestId('headset-connect').click();
  await alice.page.getByTestId('headset-status').filter({ hasText: 'Scripted Headset connected' }).waitFor({ timeout: 5000 });
  await alice.page.getByTestId('agent-select').selectOption('available');
  await alice.page.locator('[data-testid="agent-state"][data-state="available"]').waitFor({ timeout: 5000 });

  await carol.page.getByTestId('target').fill('700');
  await carol.page.getByTestId('dial').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await settle(1300);
  // While it rings: report 3 with the ring bit, on and off (a blink), the off-hook bit clear.
  const ringing = (await sentReports(alice.page)).filter((r) => r.reportId === 3);
  const ringOn = ringing.filter((r) => r.data[0]! & 0b100).length;
  const ringOff = ringing.filter((r, i) => i > 0 && !(r.data[0]! & 0b100) && ringing[i - 1]!.data[0]! & 0b100).length;
  console.log(`# ringing: ${ringOn} LED reports with ring on, ${ringOff} turning it off (blink), over 1.3 s`);
  assert.ok(ringOn >= 2 && ringOff >= 1, `the ring LED blinks: ${JSON.stringify(ringing.map((r) => r.data))}`);
  assert.ok(ringing.every((r) => !(r.data[0]! & 0b001)), 'not off-hook while ringing');

  // Hook switch off-hook (report 2, bit 0): answered.
  await press(alice.page, 2, [0b001]);
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await settle(800);
  assert.equal((await leds3(alice.page)) & 0b101, 0b001, 'off-hook LED on, ring off');
  const [carolHears, aliceHears] = await Promise.all([measureRemoteAudio(carol.page, 1200), measureRemoteAudio(alice.page, 1200)]);
  console.log(`# answered by the hook switch: customer hears ${carolHears.frequency.toFixed(0)} Hz at ${carolHears.levelDb.toFixed(1)} dBFS, agent hears ${aliceHears.frequency.toFixed(0)} Hz at ${aliceHears.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(carolHears.frequency, ALICE_HZ) && carolHears.levelDb > -40, `the customer hears the agent: ${JSON.stringify(carolHears)}`);
  assert.ok(near(aliceHears.frequency, CAROL_HZ) && aliceHears.levelDb > -40, `the agent hears the customer: ${JSON.stringify(aliceHears)}`);

  // The mute button (report 2, bit 1, a press): muted; the customer's ear goes silent; mute LED on.
  await press(alice.page, 2, [0b011]);
  await press(alice.page, 2, [0b001]);
  await alice.page.getByTestId('mute').filter({ hasText: /unmute/i }).waitFor({ timeout: 5000 });
  await settle(500);
  assert.equal((await leds3(alice.page)) & 0b011, 0b011, 'mute LED on (and still off-hook)');
  const muted = await measureRemoteAudio(carol.page, 1200);
  console.log(`# muted by the headset: customer hears ${muted.levelDb.toFixed(1)} dBFS`);
  assert.ok(muted.levelDb < -60, `the customer hears silence: ${JSON.stringify(muted)}`);
  // Unmuted from the screen: the LED follows.
  await alice.page.getByTestId('mute').click();
  await settle(300);
  assert.equal((await leds3(alice.page)) & 0b010, 0, 'mute LED off after unmuting on the screen');

  // Hook switch on-hook: hung up on both sides; the LEDs go dark.
  await press(alice.page, 2, [0b000]);
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await carol.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await settle(200);
  assert.equal(await leds3(alice.page), 0);
  const [rec] = gw.gw.center.store.calls({ queue: 'support' });
  assert.deepEqual([rec!.outcome, rec!.agent, rec!.endedBy], ['answered', 'alice', 'callee']);
});
