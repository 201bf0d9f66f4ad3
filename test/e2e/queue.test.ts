/**
 * A queue call in Chromium, through the demo only: agent alice (500 Hz) goes available in her
 * agent tab while a second tab of hers watches; the customer (carol, 1300 Hz) dials the queue
 * and hears the queue's own music (a 600 Hz WAV) while waiting; alice's phone rings with the queue's name, she answers and
 * both hear each other; the customer hangs up; wrap-up starts, alice picks an outcome and
 * ends it. The second tab shows every state change; the call record has it all. Then a blind
 * transfer into the queue: bob (1100 Hz) takes the customer alice sent there.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import path from 'node:path';
import { writeToneWav } from '../support/audio.js';
import { launchAgent, loginDemo, measureRemoteAudio, WORK, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { demoConfig } from '../../gateway/src/index.js';

const ALICE_HZ = 500;
const BOB_HZ = 1100;
const CAROL_HZ = 1300;
/** The queue's own music: a 600 Hz tone (8 kHz WAV), told apart from the default music on hold. */
const QUEUE_MUSIC_HZ = 600;
let gw: TestGateway;
let alice: Agent;
let bob: Agent;
let carol: Agent;
let watcher: Page;

before(async () => {
  const music = path.join(WORK, 'queue-music-600.wav');
  writeToneWav(music, QUEUE_MUSIC_HZ, 4, 8000, 0.3);
  gw = await startGateway({
    queues: [
      { name: 'support', extension: '700', members: ['alice', 'bob'], ringTimeoutSeconds: 20, maxWaitSeconds: 120, music },
      // Nobody staffs it: after 2 s callers overflow to alice's extension.
      { name: 'after-hours', extension: '710', members: [], maxWaitSeconds: 2, overflow: { extension: '1001' } },
    ],
    center: { ...demoConfig().center, database: ':memory:', wrapUpSeconds: 120 },
    // A closed tab gets 3 s to come back (the default is 30 s; tested in reconnect.test.ts).
    calls: { reconnectGraceSeconds: 3, probeIntervalSeconds: 300 },
  });
  [alice, bob, carol] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, BOB_HZ), launchAgent(gw.addrs.httpUrl, CAROL_HZ)]);
  // The watching tab logs in first; the agent tab (logged in last) is the one calls ring.
  watcher = await alice.browser.newPage();
  await watcher.goto(gw.addrs.httpUrl);
  await loginDemo(watcher, 'alice', 'alice-demo');
  await Promise.all([loginDemo(alice.page, 'alice', 'alice-demo'), loginDemo(bob.page, 'bob', 'bob-demo'), loginDemo(carol.page, 'carol', 'carol-demo')]);
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
  await gw?.stop();
});

const near = (hz: number, want: number) => Math.abs(hz - want) < 15;
const stateIs = (page: Page, state: string) => page.getByTestId('agent-state').filter({ hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: 10_000 });

test('queue call: available → rings with the queue name → answered, audio both ways → wrap-up → available; a second tab follows', async () => {
  await stateIs(alice.page, 'offline');
  await stateIs(watcher, 'offline');
  // Refusals are coded errors through the real gateway, and change nothing.
  const codeOf = (page: Page, state: string, reason?: string) =>
    page.evaluate(([s, r]) => window.demo.phone!.agent.setState(s as 'available', r).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'), [state, reason] as const);
  assert.equal(await codeOf(alice.page, 'not-ready', 'nap'), 'SB_INVALID_ARGUMENT');
  assert.equal(await codeOf(carol.page, 'available'), 'SB_NOT_AN_AGENT');
  await stateIs(alice.page, 'offline');
  // Not ready needs a reason the gateway offers; the choice shows in both tabs.
  await alice.page.getByTestId('agent-select').selectOption('not-ready:break');
  await stateIs(alice.page, 'not-ready');
  await stateIs(watcher, 'not-ready');
  assert.equal(await watcher.getByTestId('agent-reason').textContent(), '(break)');

  // The customer calls the queue while nobody is available: music, and the queue counts them.
  await carol.page.getByTestId('target').fill('700');
  await carol.page.getByTestId('dial').click();
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const waiting = await measureRemoteAudio(carol.page, 1000);
  console.log(`# queued customer hears ${waiting.frequency.toFixed(0)} Hz at ${waiting.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(waiting.frequency, QUEUE_MUSIC_HZ) && waiting.levelDb > -40, `the queue's music while waiting: ${JSON.stringify(waiting)}`);
  await alice.page.locator('[data-testid="queue-stats"] tr[data-queue="support"] td:nth-child(2)').filter({ hasText: /^1$/ }).waitFor({ timeout: 5000 });

  // Available: the call rings at once, showing the queue and the wait.
  await alice.page.getByTestId('agent-select').selectOption('available');
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await alice.page.getByTestId('incoming-from').textContent()) ?? '', /carol/);
  assert.match((await alice.page.getByTestId('incoming-queue').textContent()) ?? '', /via support, waited \d+ s/);
  await stateIs(watcher, 'ringing');
  await alice.page.getByTestId('answer').click();
  await stateIs(alice.page, 'on-call');
  await stateIs(watcher, 'on-call');
  // Measured at once: Chrome's gain control turns the fake microphone's steady tone down by
  // ~6 dB over the first seconds (-23 → -29 dBFS here), so the bar is -40 dBFS: silence is -89,
  // and the frequency says whose voice it is.
  const [carolHears, aliceHears] = await Promise.all([measureRemoteAudio(carol.page, 1200), measureRemoteAudio(alice.page, 1200)]);
  console.log(`# queue call: customer hears ${carolHears.frequency.toFixed(0)} Hz at ${carolHears.levelDb.toFixed(1)} dBFS; agent hears ${aliceHears.frequency.toFixed(0)} Hz at ${aliceHears.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(carolHears.frequency, ALICE_HZ) && carolHears.levelDb > -40, `the customer hears the agent: ${JSON.stringify(carolHears)}`);
  assert.ok(near(aliceHears.frequency, CAROL_HZ) && aliceHears.levelDb > -40, `the agent hears the customer: ${JSON.stringify(aliceHears)}`);

  // The customer hangs up: after-call work.
  await carol.page.getByTestId('hangup').click();
  await stateIs(alice.page, 'wrap-up');
  await stateIs(watcher, 'wrap-up');
  await alice.page.getByTestId('wrapup-panel').waitFor({ state: 'visible' });
  assert.match((await alice.page.getByTestId('wrapup-queue').textContent()) ?? '', /support/);
  await alice.page.getByTestId('wrapup-code').selectOption('resolved');
  await alice.page.getByTestId('wrapup-notes').fill('Reset the password');
  await alice.page.getByTestId('wrapup-done').click();
  await stateIs(alice.page, 'available');
  await stateIs(watcher, 'available');
  await alice.page.getByTestId('wrapup-panel').waitFor({ state: 'hidden' });
  // Statistics reached the page: one answered, nobody waiting.
  await alice.page.locator('[data-testid="queue-stats"] tr[data-queue="support"] td:nth-child(4)').filter({ hasText: /^1$/ }).waitFor({ timeout: 5000 });

  // The record: who, which queue, the timeline, the wrap-up.
  const [rec] = gw.gw.center.store.calls({ queue: 'support' });
  assert.ok(rec, 'a call record');
  assert.equal(rec.outcome, 'answered');
  assert.equal(rec.agent, 'alice');
  assert.equal(rec.caller, 'carol');
  assert.equal(rec.wrapUpCode, 'resolved');
  assert.equal(rec.wrapUpNotes, 'Reset the password');
  assert.deepEqual(rec.timeline.map((e) => e.event), ['arrived', 'queued', 'offered', 'answered', 'ended', 'wrap-up']);
  const history = gw.gw.center.store.agentHistory('alice').map((h) => h.state);
  assert.deepEqual(history, ['not-ready', 'available', 'ringing', 'on-call', 'wrap-up', 'available']);
});

test('blind transfer into a queue: the customer waits on music, the next agent takes the call', async () => {
  // A supervisor forces alice to not-ready over the HTTP API; both of her tabs show it.
  const supervisor = gw.gw.tokens.issue('carol', 'supervisor').token;
  const res = await fetch(new URL('/api/agents/alice/state', gw.addrs.httpUrl), {
    method: 'POST', headers: { authorization: `Bearer ${supervisor}`, 'content-type': 'application/json' }, body: JSON.stringify({ state: 'not-ready', reason: 'meeting' }),
  });
  assert.equal(res.status, 200);
  await stateIs(alice.page, 'not-ready');
  await stateIs(watcher, 'not-ready');
  assert.equal(await alice.page.getByTestId('agent-reason').textContent(), '(meeting)');
  assert.equal(gw.gw.center.store.agentHistory('alice').at(-1)!.by, 'supervisor');
  await bob.page.getByTestId('agent-select').selectOption('available');
  await stateIs(bob.page, 'available');
  // The customer calls alice directly; alice sends them to the support queue.
  await carol.page.getByTestId('target').fill('1001');
  await carol.page.getByTestId('dial').click();
  await alice.page.getByTestId('answer').click({ timeout: 10_000 });
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  await alice.page.getByTestId('transfer-target').fill('700');
  await alice.page.getByTestId('transfer').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match((await bob.page.getByTestId('incoming-queue').textContent()) ?? '', /via support/);
  const waiting = await measureRemoteAudio(carol.page, 800);
  assert.ok(near(waiting.frequency, QUEUE_MUSIC_HZ), `the queue's music while in the queue: ${JSON.stringify(waiting)}`);
  await bob.page.getByTestId('answer').click();
  await stateIs(bob.page, 'on-call');
  const [carolHears, bobHears] = await Promise.all([measureRemoteAudio(carol.page, 1000), measureRemoteAudio(bob.page, 1000)]);
  console.log(`# transferred into the queue: customer hears ${carolHears.frequency.toFixed(0)} Hz at ${carolHears.levelDb.toFixed(1)} dBFS; bob hears ${bobHears.frequency.toFixed(0)} Hz at ${bobHears.levelDb.toFixed(1)} dBFS`);
  assert.ok(near(carolHears.frequency, BOB_HZ) && carolHears.levelDb > -40, `customer hears bob: ${JSON.stringify(carolHears)}`);
  assert.ok(near(bobHears.frequency, CAROL_HZ) && bobHears.levelDb > -40, `bob hears the customer: ${JSON.stringify(bobHears)}`);
  await bob.page.getByTestId('hangup').click();
  await stateIs(bob.page, 'wrap-up');
  await new Promise((r) => setTimeout(r, 300));
  const rec = gw.gw.center.store.calls({ agent: 'bob' })[0]!;
  assert.equal(rec.queue, 'support');
  assert.deepEqual(rec.transfers.map((t) => [t.by, t.to, t.result]), [['alice', 'support', 'queued']]);
  assert.deepEqual(rec.timeline.map((e) => e.event), ['arrived', 'ringing', 'answered', 'transfer', 'queued', 'offered', 'answered', 'ended']);
});

test('an agent whose tab closes mid-call and does not come back: after the grace period the customer hears the call end, the record says why, the agent is logged out', async () => {
  await bob.page.getByTestId('wrapup-done').click();
  await stateIs(bob.page, 'available');
  await carol.page.getByTestId('target').fill('700');
  await carol.page.getByTestId('dial').click();
  await bob.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  await bob.page.getByTestId('answer').click();
  await stateIs(bob.page, 'on-call');
  const closedAt = Date.now();
  await bob.page.close();
  await carol.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  const after = Date.now() - closedAt;
  assert.ok(after >= 2500, `the call waited for the grace period (${after} ms)`);
  await new Promise((r) => setTimeout(r, 200));
  const rec = gw.gw.center.store.calls({ agent: 'bob' })[0]!;
  assert.deepEqual([rec.outcome, rec.endedBy, rec.endStatus, rec.endReason], ['answered', 'callee', 480, 'Connection Lost']);
  assert.equal(gw.gw.center.agents.get('bob')!.state, 'offline');
  assert.equal(gw.gw.b2bua.active.length, 0);
});

test('overflow to an extension: nobody in the queue, after the maximum wait the call rings that extension', async () => {
  await carol.page.getByTestId('target').fill('710');
  await carol.page.getByTestId('dial').click();
  await carol.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const t0 = Date.now();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  const waited = Date.now() - t0;
  assert.ok(waited > 1000 && waited < 4000, `rang after the 2 s maximum wait (${waited} ms after the customer was answered)`);
  await alice.page.getByTestId('answer').click();
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  const carolHears = await measureRemoteAudio(carol.page, 800);
  assert.ok(near(carolHears.frequency, ALICE_HZ) && carolHears.levelDb > -40, `the customer hears alice: ${JSON.stringify(carolHears)}`);
  await carol.page.getByTestId('hangup').click();
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 200));
  const rec = gw.gw.center.store.calls({ queue: 'after-hours' })[0]!;
  assert.deepEqual([rec.outcome, rec.callee], ['overflowed', 'alice']);
  assert.ok(rec.timeline.some((e) => e.event === 'overflowed' && e.detail === 'after-hours -> 1001'), JSON.stringify(rec.timeline));
  const q = gw.gw.center.acd.stats().find((x) => x.name === 'after-hours')!;
  assert.deepEqual([q.entered, q.overflowed, q.waiting], [1, 1, 0]);
});
