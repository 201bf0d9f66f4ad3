/**
 * The media worker can die (a crash in the packet path): the call it carried ends at once with
 * a reason a person can read in the record, the worker is replaced, and the next call has audio.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { WorkerMediaEngine } from '../../gateway/src/media/worker-engine.js';
import { RtpengineMediaEngine } from '../../gateway/src/media/rtpengine/engine.js';
import { launchAgent, loginDemo, measureRemoteAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const TONE = 650;
let gw: TestGateway;
let alice: Agent;

before(async () => {
  gw = await startGateway();
  alice = await launchAgent(gw.addrs.httpUrl, TONE);
  await loginDemo(alice.page, 'alice', 'alice-demo');
});

after(async () => {
  await alice?.close();
  await gw?.stop();
});

async function echoCall(): Promise<void> {
  await alice.page.getByTestId('target').fill('600');
  await alice.page.getByTestId('dial').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const heard = await measureRemoteAudio(alice.page, 1200);
  assert.ok(Math.abs(heard.frequency - TONE) < 15 && heard.levelDb > -40, `alice hears her echo: ${JSON.stringify(heard)}`);
}

test('the media worker is killed mid-call: the call ends with a reason; the next call has audio', async () => {
  await echoCall();
  const [call] = gw.gw.b2bua.active;
  // On rtpengine the worker is the engine behind it, carrying the bridges.
  const media = gw.gw.media;
  const engine = (media instanceof RtpengineMediaEngine ? media.inner : media) as WorkerMediaEngine;
  const t0 = Date.now();
  await engine.killWorker();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  console.log(`# the call ended ${Date.now() - t0} ms after the worker was killed`);
  const rec = gw.gw.center.store.call(call!.id);
  assert.equal(rec?.endReason, 'Media Engine Failure');
  assert.equal(rec?.endStatus, 500);
  assert.equal(engine.respawns, 1, 'a new worker was started');
  await echoCall();
  await alice.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  assert.equal((await gw.gw.media.stats()).endpoints, 0);
});
