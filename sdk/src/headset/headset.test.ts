/**
 * The headset controller with a scripted device (the descriptors of test/fixtures) and scripted
 * calls: buttons → call actions, call states → lights, quirks, attach and detach.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SIMPLE, WITH_IDS } from '../../../test/fixtures/hid-descriptors.js';
import { Emitter } from '../emitter.js';
import { parseReportDescriptor } from './descriptor.js';
import { Headsets, type HidDeviceLike, type HidLike } from './headset.js';

type Listener = (e: { reportId: number; data: DataView }) => void;

class FakeDevice implements HidDeviceLike {
  opened = false;
  readonly sent: Array<[number, number[]]> = [];
  private listeners: Listener[] = [];
  constructor(
    readonly collections: ReturnType<typeof parseReportDescriptor>,
    readonly vendorId = 0x1234,
    readonly productId = 1,
    readonly productName = 'Test Headset',
  ) {}
  async open() { this.opened = true; }
  async close() { this.opened = false; }
  async sendReport(id: number, data: Uint8Array) { this.sent.push([id, [...data]]); }
  addEventListener(_t: 'inputreport', l: Listener) { this.listeners.push(l); }
  removeEventListener(_t: 'inputreport', l: Listener) { this.listeners = this.listeners.filter((x) => x !== l); }
  press(reportId: number, ...bytes: number[]) { for (const l of this.listeners) l({ reportId, data: new DataView(Uint8Array.from(bytes).buffer) }); }
}

class FakeHid implements HidLike {
  private handlers: Record<string, Array<(e: { device: HidDeviceLike }) => void>> = {};
  constructor(public devices: HidDeviceLike[]) {}
  async requestDevice() { return this.devices; }
  async getDevices() { return this.devices; }
  addEventListener(t: 'connect' | 'disconnect', l: (e: { device: HidDeviceLike }) => void) { (this.handlers[t] ??= []).push(l); }
  fire(t: 'connect' | 'disconnect', device: HidDeviceLike) { for (const l of this.handlers[t] ?? []) l({ device }); }
}

class FakeCall extends Emitter<{ stateChanged: [string]; muteChanged: [boolean]; holdChanged: [unknown] }> {
  muted = false;
  holdState: { onHold: boolean; by?: 'local' | 'remote' } = { onHold: false };
  readonly did: string[] = [];
  constructor(public state: string) { super(); }
  set(state: string) { this.state = state; this.emit('stateChanged', state); }
  async answer() { this.did.push('answer'); this.set('connected'); }
  async hangup() { this.did.push('hangup'); this.set('ended'); }
  mute() { this.did.push('mute'); this.muted = true; this.emit('muteChanged', true); }
  unmute() { this.did.push('unmute'); this.muted = false; this.emit('muteChanged', false); }
  async hold() { this.did.push('hold'); this.holdState = { onHold: true, by: 'local' }; this.emit('holdChanged', this.holdState); }
  async resume() { this.did.push('resume'); this.holdState = { onHold: false }; this.emit('holdChanged', this.holdState); }
}

class FakePhone extends Emitter<{ callAdded: [FakeCall] }> {
  calls: FakeCall[] = [];
  add(c: FakeCall) { this.calls.push(c); this.emit('callAdded', c); }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('hook switch answers and hangs up, the mute button toggles mute, flash holds; the lights follow (one report, no ids)', async () => {
  const device = new FakeDevice(parseReportDescriptor(SIMPLE));
  const phone = new FakePhone();
  const headsets = new Headsets(phone, { hid: new FakeHid([device]) });
  const attached: string[] = [];
  headsets.on('attached', (h) => attached.push(`${h.productName}: ${h.buttons.join(',')} / ${h.lights.join(',')}`));
  await headsets.restore();
  assert.deepEqual(attached, ['Test Headset: hookSwitch,phoneMute,flash,redial / offHook,ring,mute,hold']);
  assert.ok(device.opened);
  assert.deepEqual(device.sent.at(-1), [0, [0]], 'all lights off to begin with');

  // A call rings: the ring LED (bit 1) blinks.
  const call = new FakeCall('ringing');
  phone.add(call);
  await tick(10);
  assert.deepEqual(device.sent.at(-1), [0, [0b0010]]);
  await tick(550);
  assert.deepEqual(device.sent.at(-1), [0, [0]], 'blink: off after 500 ms');

  // Off hook (absolute hook switch, bit 0): answered; off-hook LED on, ring off.
  device.press(0, 0b0001);
  await tick(10);
  assert.deepEqual(call.did, ['answer']);
  assert.deepEqual(device.sent.at(-1), [0, [0b0001]]);

  // The mute button (relative, bit 1): a press mutes, the next unmutes; the mute LED (bit 2) follows.
  device.press(0, 0b0011);
  device.press(0, 0b0001);
  await tick(10);
  assert.deepEqual(call.did, ['answer', 'mute']);
  assert.deepEqual(device.sent.at(-1), [0, [0b0101]]);
  device.press(0, 0b0011);
  device.press(0, 0b0001);
  await tick(10);
  assert.deepEqual(call.did.at(-1), 'unmute');
  assert.deepEqual(device.sent.at(-1), [0, [0b0001]]);
  // Muted from the screen: the LED follows too.
  call.mute();
  await tick(10);
  assert.deepEqual(device.sent.at(-1), [0, [0b0101]]);
  call.unmute();

  // Flash (bit 2): hold, and the hold LED (bit 3); again: resume.
  device.press(0, 0b0101);
  device.press(0, 0b0001);
  await tick(10);
  assert.equal(call.did.at(-1), 'hold');
  assert.deepEqual(device.sent.at(-1), [0, [0b1001]]);
  device.press(0, 0b0101);
  device.press(0, 0b0001);
  await tick(10);
  assert.equal(call.did.at(-1), 'resume');

  // On hook: hung up; the lights go out.
  device.press(0, 0b0000);
  await tick(10);
  assert.equal(call.did.at(-1), 'hangup');
  assert.deepEqual(device.sent.at(-1), [0, [0]]);
  await headsets.close();
});

test('report ids: buttons in report 2, lights in reports 3 and 4; a quirk reads the hook switch as a press; unplugged and back', async () => {
  const device = new FakeDevice(parseReportDescriptor(WITH_IDS), 0x0abc, 7);
  const hid = new FakeHid([device]);
  const phone = new FakePhone();
  const headsets = new Headsets(phone, { hid, quirks: [{ vendorId: 0x0abc, hookSwitch: 'relative', reason: 'test: sends 1 then 0 per press' }] });
  const events: string[] = [];
  headsets.on('attached', () => events.push('attached'));
  headsets.on('detached', () => events.push('detached'));
  headsets.on('button', (b, down) => events.push(`${b} ${down ? 'down' : 'up'}`));
  await headsets.request();
  const call = new FakeCall('ringing');
  phone.add(call);
  await tick(10);
  assert.deepEqual(device.sent.filter(([id]) => id === 3).at(-1), [3, [0b100]], 'ring LED: report 3 bit 2');
  // A press (1 then 0) answers; another press hangs up.
  device.press(2, 0b001);
  device.press(2, 0b000);
  await tick(10);
  assert.deepEqual(call.did, ['answer']);
  assert.deepEqual(device.sent.filter(([id]) => id === 3).at(-1), [3, [0b001]], 'off-hook: report 3 bit 0');
  assert.deepEqual(device.sent.filter(([id]) => id === 4).at(-1), [4, [0, 0b10]], 'microphone on: report 4 bit 9');
  // A report of another id (the consumer keys) is not a button here.
  device.press(1, 0xff);
  device.press(2, 0b001);
  device.press(2, 0b000);
  await tick(10);
  assert.deepEqual(call.did, ['answer', 'hangup']);
  // Unplugged and plugged back in: detached, attached again.
  hid.fire('disconnect', device);
  hid.fire('connect', device);
  await tick(10);
  assert.deepEqual(events, ['attached', 'hookSwitch down', 'hookSwitch up', 'hookSwitch down', 'hookSwitch up', 'detached', 'attached']);
  await headsets.close();
});

test('a device without telephony controls is not attached', async () => {
  const consumerOnly = new FakeDevice(parseReportDescriptor(WITH_IDS.slice(0, 27)));
  const headsets = new Headsets(new FakePhone(), { hid: new FakeHid([consumerOnly]) });
  assert.deepEqual(await headsets.restore(), []);
  assert.equal(consumerOnly.opened, false);
});
