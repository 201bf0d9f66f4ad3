/**
 * The agent's audio devices in Chromium (its fake devices): the list with labels, the microphone
 * switched mid-call (the far end keeps hearing the agent; the longest silence at the far end is
 * measured in 10 ms frames), call audio moved to another output (`setSinkId` on the call's audio
 * element), the ringtone on its own ringer device while a call rings, and a headset unplugged
 * mid-call and plugged back in. `setSinkId` and `getUserMedia` are watched in the page (wrapped,
 * still called).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { settle } from '../support/net.js';

const ALICE_HZ = 700;
const BOB_HZ = 1300;
const near = (hz: number, want: number) => Math.abs(hz - want) < 15;

let gw: TestGateway;
let alice: Agent;
let bob: Agent;

/**
 * Records setSinkId (media elements and AudioContexts) and getUserMedia audio constraints, and
 * lets the test unplug devices: ids in `__unplugged` are left out of enumerateDevices (Chromium's
 * fake devices cannot be unplugged; the test then dispatches the browser's `devicechange`).
 */
function watchAudioApis(): void {
  const w = window as unknown as { __sinks: Array<{ on: string; id: string; remote: boolean }>; __gum: unknown[]; __unplugged: string[] };
  w.__sinks = [];
  w.__gum = [];
  w.__unplugged = [];
  const enumerate = navigator.mediaDevices.enumerateDevices.bind(navigator.mediaDevices);
  navigator.mediaDevices.enumerateDevices = async () => (await enumerate()).filter((d) => !w.__unplugged.includes(d.deviceId));
  const media = HTMLMediaElement.prototype as HTMLMediaElement & { setSinkId(id: string): Promise<void> };
  const origMedia = media.setSinkId;
  media.setSinkId = function (this: HTMLMediaElement, id: string) {
    w.__sinks.push({ on: 'element', id, remote: this.srcObject instanceof MediaStream });
    return origMedia.call(this, id);
  };
  const ctx = AudioContext.prototype as AudioContext & { setSinkId?(id: string): Promise<void> };
  const origCtx = ctx.setSinkId;
  if (origCtx) {
    ctx.setSinkId = function (this: AudioContext, id: string) {
      w.__sinks.push({ on: 'audiocontext', id, remote: false });
      return origCtx.call(this, id);
    };
  }
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => {
    w.__gum.push(c?.audio);
    return gum(c);
  };
}

const sinks = (page: Page) => page.evaluate(() => (window as unknown as { __sinks: Array<{ on: string; id: string; remote: boolean }> }).__sinks);
const captures = (page: Page) => page.evaluate(() => (window as unknown as { __gum: unknown[] }).__gum);

/** The far end's received level in 10 ms frames for `ms`, while `during` runs in the other page: the longest run below −50 dBFS. */
async function longestSilence(listener: Page, ms: number, during: () => Promise<void>): Promise<{ longestMs: number; frames: number; loudFrames: number }> {
  const listening = listener.evaluate(async (duration) => {
    const stream = window.demo.call?.remoteStream;
    if (!stream) throw new Error('no remote stream');
    const ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 512;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    const levels: number[] = [];
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        an.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        levels.push(10 * Math.log10(sum / buf.length + 1e-12));
        if (performance.now() - t0 >= duration) {
          clearInterval(tick);
          resolve();
        }
      }, 10);
    });
    await ctx.close();
    return levels;
  }, ms);
  await settle(300);
  await during();
  const levels = await listening;
  let run = 0;
  let longest = 0;
  for (const l of levels) {
    run = l < -50 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return { longestMs: longest * 10, frames: levels.length, loudFrames: levels.filter((l) => l >= -50).length };
}

before(async () => {
  gw = await startGateway();
  [alice, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, BOB_HZ)]);
  await alice.page.addInitScript(watchAudioApis);
  await alice.page.reload();
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-demo'), loginDemo(bob.page, 'bob', 'bob-demo')]);
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await gw?.stop();
});

test('audio devices: listed with labels; the ringtone rings on the ringer device; mid-call the microphone switches with the far end still hearing the agent, and call audio moves to the chosen output', async () => {
  // Labels appear once the microphone has been allowed (the fake UI allows it).
  await alice.page.evaluate(() => navigator.mediaDevices.getUserMedia({ audio: true }).then((s) => s.getTracks().forEach((t) => t.stop())));
  const list = await alice.page.evaluate(() => window.demo.phone!.audio.list());
  console.log(`# devices: inputs ${list.inputs.map((d) => d.label).join(' | ')}; outputs ${list.outputs.map((d) => d.label).join(' | ')}`);
  const input = list.inputs.find((d) => d.deviceId !== 'default' && d.deviceId !== '');
  const output = list.outputs.find((d) => d.deviceId !== 'default' && d.deviceId !== '');
  assert.ok(input && input.label, 'a second microphone with a label');
  assert.ok(output && output.label, 'an output device with a label');
  // A device that is not there is a coded error.
  assert.equal(await alice.page.evaluate(() => window.demo.phone!.audio.setInputDevice('no-such-device').then(() => 'ok', (e: { code?: string }) => e.code)), 'SB_DEVICE_NOT_FOUND');

  // The ringer on the output device; bob calls; it rings there, and sounds.
  await alice.page.getByTestId('ringer-select').selectOption(output.deviceId);
  await bob.page.getByTestId('target').fill('alice');
  await bob.page.getByTestId('dial').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  const ringLevel = await alice.page.evaluate(async () => {
    let loudest = -Infinity;
    for (let i = 0; i < 10; i++) {
      loudest = Math.max(loudest, window.demo.ringtone?.levelDb() ?? -Infinity);
      await new Promise((r) => setTimeout(r, 50));
    }
    return loudest;
  });
  const ringerSinks = (await sinks(alice.page)).filter((s) => s.on === 'audiocontext');
  console.log(`# ringtone on the ringer device: ${ringLevel.toFixed(1)} dBFS; AudioContext.setSinkId(${ringerSinks.map((s) => s.id.slice(0, 8)).join(', ')})`);
  assert.ok(ringLevel > -30, `the ringtone sounds: ${ringLevel}`);
  assert.ok(ringerSinks.some((s) => s.id === output.deviceId), 'the ringtone plays on the chosen ringer device');

  await alice.page.getByTestId('answer').click();
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await settle(800);
  assert.equal(await alice.page.evaluate(() => window.demo.ringtone?.ringing), false, 'the ringtone stopped');
  // Level events for meters: the microphone as sent and the far end as heard; muted: no input.
  const levels = (page: Page) => page.evaluate(() => new Promise<{ inputDb: number; outputDb: number }>((resolve) => window.demo.phone!.audio.once('level', resolve)));
  const talking = await levels(alice.page);
  await alice.page.getByTestId('mute').click();
  await settle(300);
  const muted = await levels(alice.page);
  await alice.page.getByTestId('mute').click();
  console.log(`# level events: talking in ${talking.inputDb.toFixed(1)} / out ${talking.outputDb.toFixed(1)} dBFS; muted in ${muted.inputDb.toFixed(1)} dBFS; meter ${await alice.page.getByTestId('level-in').evaluate((m) => (m as HTMLMeterElement).value.toFixed(2))}`);
  assert.ok(talking.inputDb > -40 && talking.outputDb > -40, `levels while talking: ${JSON.stringify(talking)}`);
  assert.ok(!(muted.inputDb > -60), `no input level while muted: ${JSON.stringify(muted)}`);
  const before = await measureRemoteAudio(bob.page, 1000);
  assert.ok(near(before.frequency, ALICE_HZ) && before.levelDb > -40, `bob hears alice before the switch: ${JSON.stringify(before)}`);

  // Mid-call: another microphone. Bob's ear, in 10 ms frames, while it switches.
  const capturesBefore = (await captures(alice.page)).length;
  const gap = await longestSilence(bob.page, 2500, async () => {
    await alice.page.getByTestId('mic-select').selectOption(input.deviceId);
  });
  const captured = (await captures(alice.page)).slice(capturesBefore) as Array<{ deviceId?: { exact?: string } }>;
  console.log(`# microphone switched mid-call: longest silence at the far end ${gap.longestMs} ms (${gap.loudFrames}/${gap.frames} frames with audio); new capture ${JSON.stringify(captured)}`);
  assert.ok(captured.some((c) => c?.deviceId?.exact === input.deviceId), 'the chosen microphone was captured');
  assert.ok(gap.longestMs <= 100, `no gap longer than 100 ms at the far end: ${gap.longestMs} ms`);
  const after = await measureRemoteAudio(bob.page, 1000);
  assert.ok(near(after.frequency, ALICE_HZ) && after.levelDb > -40, `bob still hears alice after the switch: ${JSON.stringify(after)}`);
  assert.equal(await alice.page.evaluate(() => window.demo.phone!.audio.inputDeviceId), input.deviceId);

  // Call audio to the output device: setSinkId on the call's own audio element.
  await alice.page.getByTestId('speaker-select').selectOption(output.deviceId);
  await settle(300);
  const callSinks = (await sinks(alice.page)).filter((s) => s.on === 'element' && s.remote);
  console.log(`# call audio: setSinkId on the call's element with ${callSinks.map((s) => s.id.slice(0, 8)).join(', ')}`);
  assert.ok(callSinks.some((s) => s.id === output.deviceId), 'the call\'s audio element plays on the chosen output');
  const still = await measureRemoteAudio(alice.page, 800);
  assert.ok(near(still.frequency, BOB_HZ), `alice still receives bob: ${JSON.stringify(still)}`);

  await bob.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
});

test('preflight: an echo call on loopback reports figures in sane ranges (and the demo shows them); an unreachable gateway is a clear error', async () => {
  const r = await bob.page.evaluate(() => window.demo.phone!.preflight({ seconds: 4 }));
  console.log(`# preflight: ${JSON.stringify(r)}`);
  assert.ok(r.samples >= 1, 'quality was sampled');
  assert.ok(r.rttMs >= 0 && r.rttMs < 200, `RTT on loopback: ${r.rttMs}`);
  assert.ok(r.jitterMs >= 0 && r.jitterMs < 30, `jitter: ${r.jitterMs}`);
  assert.ok(r.lossPct >= 0 && r.lossPct < 2, `loss: ${r.lossPct}`);
  assert.ok(r.mos > 4 && r.mos <= 4.5, `MOS: ${r.mos}`);
  assert.match(r.codec, /PCMU|PCMA/);
  assert.ok(r.micLevel !== undefined && r.micLevel > 0.001, `the fake microphone's tone: ${r.micLevel}`);
  assert.ok(r.connectMs < 5000, `connected in ${r.connectMs} ms`);
  assert.equal(gw.gw.b2bua.active.length, 0, 'the echo call was hung up');
  await bob.page.getByTestId('preflight').click();
  await bob.page.getByTestId('preflight-report').filter({ hasText: /^MOS \d\.\d · RTT \d+ ms/ }).waitFor({ timeout: 15_000 });
  // A softphone pointed at nothing: the error says the gateway cannot be reached.
  const token = gw.gw.tokens.issue('bob', 'agent').token;
  const failure = await bob.page.evaluate(async (t) => {
    const Phone = window.demo.phone!.constructor as new (o: { url: string; token: string; reconnect: false }) => { preflight(): Promise<unknown> };
    return new Phone({ url: 'http://127.0.0.1:9', token: t, reconnect: false }).preflight().then(() => 'no error', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`);
  }, token);
  console.log(`# preflight against nothing: ${failure}`);
  assert.match(failure, /^SB_CONNECTION_FAILED: Cannot reach the gateway at http:\/\/127\.0\.0\.1:9/);
});

/** The change events the page's softphone emitted, and whether `want` is among them. */
const changes = (page: Page) => page.evaluate(() => (window as unknown as { __changes: Array<{ kind: string; deviceId: string; reason: string }> }).__changes);
async function waitForChange(page: Page, want: { kind: string; deviceId: string; reason: string }): Promise<void> {
  await page.waitForFunction((w) => (window as unknown as { __changes: Array<{ kind: string; deviceId: string; reason: string }> }).__changes.some((c) => c.kind === w.kind && c.deviceId === w.deviceId && c.reason === w.reason), want, { timeout: 5000 });
}
/** Sets which device ids are unplugged and fires the browser's devicechange. */
const plug = (page: Page, unplugged: string[]) =>
  page.evaluate((ids) => {
    (window as unknown as { __unplugged: string[] }).__unplugged = ids;
    navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
  }, unplugged);

test('a headset unplugged mid-call: microphone and call audio fall back to the default (the far end still hears the agent, the pickers say Default); plugged back in, it is used again', async () => {
  const list = await alice.page.evaluate(() => window.demo.phone!.audio.list());
  const input = list.inputs.find((d) => d.deviceId !== 'default' && d.deviceId !== '');
  const output = list.outputs.find((d) => d.deviceId !== 'default' && d.deviceId !== '');
  assert.ok(input && output, 'a headset microphone and output');
  await alice.page.getByTestId('mic-select').selectOption(input.deviceId);
  await alice.page.getByTestId('speaker-select').selectOption(output.deviceId);
  await alice.page.waitForFunction((ids) => window.demo.phone!.audio.inputDeviceId === ids[0] && window.demo.phone!.audio.outputDeviceId === ids[1], [input.deviceId, output.deviceId]);
  await alice.page.evaluate(() => {
    const w = window as unknown as { __changes: unknown[] };
    w.__changes = [];
    window.demo.phone!.audio.on('deviceChanged', (c) => w.__changes.push(c));
  });

  await bob.page.getByTestId('target').fill('alice');
  await bob.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await bob.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await settle(800);
  const sinksBefore = (await sinks(alice.page)).length;
  const capturesBefore = (await captures(alice.page)).length;

  // Unplugged: the headset's microphone and output disappear from the browser's list.
  await plug(alice.page, [input.deviceId, output.deviceId]);
  await waitForChange(alice.page, { kind: 'input', deviceId: '', reason: 'unplugged' });
  await waitForChange(alice.page, { kind: 'output', deviceId: '', reason: 'unplugged' });
  await settle(500);
  const fallbackCaptures = (await captures(alice.page)).slice(capturesBefore) as Array<true | { deviceId?: unknown }>;
  const fallbackSinks = (await sinks(alice.page)).slice(sinksBefore).filter((s) => s.on === 'element' && s.remote);
  const pickers = await alice.page.evaluate(() => ({ mic: (document.querySelector('[data-testid=mic-select]') as HTMLSelectElement).value, speaker: (document.querySelector('[data-testid=speaker-select]') as HTMLSelectElement).value, options: [...document.querySelectorAll('[data-testid=mic-select] option')].map((o) => (o as HTMLOptionElement).value) }));
  const heardUnplugged = await measureRemoteAudio(bob.page, 1000);
  const aliceHears = await measureRemoteAudio(alice.page, 800);
  console.log(`# unplugged mid-call: events ${JSON.stringify(await changes(alice.page))}; new capture ${JSON.stringify(fallbackCaptures)}; call element setSinkId(${fallbackSinks.map((s) => JSON.stringify(s.id)).join(', ')}); pickers ${JSON.stringify(pickers)}; bob hears alice ${heardUnplugged.frequency.toFixed(0)} Hz ${heardUnplugged.levelDb.toFixed(1)} dBFS`);
  assert.ok(fallbackCaptures.length > 0 && fallbackCaptures.every((c) => c === true || c.deviceId === undefined), 'the microphone was captured again from the default device');
  assert.ok(fallbackSinks.some((s) => s.id === ''), 'call audio moved to the default output');
  assert.equal(pickers.mic, '', 'the microphone picker says Default');
  assert.equal(pickers.speaker, '', 'the call audio picker says Default');
  assert.ok(!pickers.options.includes(input.deviceId), 'the unplugged microphone is no longer offered');
  assert.ok(near(heardUnplugged.frequency, ALICE_HZ) && heardUnplugged.levelDb > -40, `bob still hears alice: ${JSON.stringify(heardUnplugged)}`);
  assert.ok(near(aliceHears.frequency, BOB_HZ), `alice still hears bob: ${JSON.stringify(aliceHears)}`);
  assert.equal(gw.gw.b2bua.active.length, 1, 'the call goes on');

  // Plugged back in: the preferred devices are used again, in the same call.
  const capturesUnplugged = (await captures(alice.page)).length;
  const sinksUnplugged = (await sinks(alice.page)).length;
  await plug(alice.page, []);
  await waitForChange(alice.page, { kind: 'input', deviceId: input.deviceId, reason: 'plugged-back' });
  await waitForChange(alice.page, { kind: 'output', deviceId: output.deviceId, reason: 'plugged-back' });
  await settle(500);
  const backCaptures = (await captures(alice.page)).slice(capturesUnplugged) as Array<{ deviceId?: { exact?: string } }>;
  const backSinks = (await sinks(alice.page)).slice(sinksUnplugged).filter((s) => s.on === 'element' && s.remote);
  const heardBack = await measureRemoteAudio(bob.page, 1000);
  console.log(`# plugged back: capture ${JSON.stringify(backCaptures)}; call element setSinkId(${backSinks.map((s) => s.id.slice(0, 8)).join(', ')}); bob hears alice ${heardBack.frequency.toFixed(0)} Hz ${heardBack.levelDb.toFixed(1)} dBFS`);
  assert.ok(backCaptures.some((c) => c?.deviceId?.exact === input.deviceId), 'the headset microphone is captured again');
  assert.ok(backSinks.some((s) => s.id === output.deviceId), 'call audio is back on the headset');
  assert.equal(await alice.page.getByTestId('mic-select').inputValue(), input.deviceId, 'the picker shows the headset again');
  assert.ok(near(heardBack.frequency, ALICE_HZ) && heardBack.levelDb > -40, `bob hears alice on the headset microphone: ${JSON.stringify(heardBack)}`);

  await bob.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
});
