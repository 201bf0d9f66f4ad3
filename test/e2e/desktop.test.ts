/**
 * The demo as an agent's all-day desktop, in Chromium on a 360 px wide screen: nothing overflows,
 * the ringtone really sounds while a call rings (and stops when it is answered), keyboard
 * shortcuts answer, mute and hang up (the other side's ear shows it), the call lands in the
 * history with the gateway's call id, and axe-core finds no serious accessibility problem.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { launchAgent, loginDemo, measureRemoteAudio, waitForAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

const ALICE_HZ = 700;
const BOB_HZ = 1500;
const WORK = path.resolve(import.meta.dirname, '..', '.work');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let gw: TestGateway;
let alice: Agent;
let bob: Agent;

before(async () => {
  gw = await startGateway();
  [alice, bob] = await Promise.all([launchAgent(gw.addrs.httpUrl, ALICE_HZ), launchAgent(gw.addrs.httpUrl, BOB_HZ)]);
  // Alice's desktop is a phone-sized screen.
  await alice.page.setViewportSize({ width: 360, height: 740 });
  await loginDemo(alice.page, 'alice', 'alice-demo');
  await loginDemo(bob.page, 'bob', 'bob-demo');
});

after(async () => {
  await Promise.all([alice?.close(), bob?.close()]);
  await gw?.stop();
});

/** Elements (visible ones) that stick out of a 360 px viewport, and the page's scroll width. */
async function overflow(page: Page): Promise<{ scrollWidth: number; outside: string[] }> {
  return page.evaluate(() => {
    const outside: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || el.closest('.table-wrap')) continue;
      if (r.left < -0.5 || r.right > window.innerWidth + 0.5) outside.push(`${el.tagName.toLowerCase()}#${el.id || el.dataset.testid || ''} ${Math.round(r.left)}–${Math.round(r.right)}`);
    }
    return { scrollWidth: document.documentElement.scrollWidth, outside };
  });
}

async function assertFits(page: Page, when: string): Promise<void> {
  const o = await overflow(page);
  mkdirSync(WORK, { recursive: true });
  await page.screenshot({ path: path.join(WORK, `desktop-360-${when.replace(/\W+/g, '-')}.png`), fullPage: true });
  assert.ok(o.scrollWidth <= 360, `${when}: the page scrolls sideways (${o.scrollWidth} px)`);
  assert.deepEqual(o.outside, [], `${when}: elements outside the screen`);
}

/** axe-core's serious and critical findings on the page as it is now. */
async function axeSerious(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

test('at 360 px the logged-in desktop fits the screen, and axe-core finds nothing serious', async () => {
  await assertFits(alice.page, 'logged in');
  assert.deepEqual(await axeSerious(alice.page), []);
});

test('an incoming call rings audibly; Alt+A answers (tones both ways); Alt+M mutes (bob hears silence); Alt+H hangs up; the call is in the history with its id', async () => {
  await bob.page.getByTestId('target').fill('1001');
  await bob.page.getByTestId('dial').click();
  await alice.page.getByTestId('incoming').waitFor({ state: 'visible', timeout: 10_000 });
  // The ringtone's own output, sampled during a ring (2 s on, 4 s off: the first ring starts at once).
  const ringing = await alice.page.evaluate(async () => {
    let loudest = -Infinity;
    for (let i = 0; i < 15; i++) {
      loudest = Math.max(loudest, window.demo.ringtone.levelDb());
      await new Promise((r) => setTimeout(r, 50));
    }
    return { loudest, blocked: window.demo.ringtone.blocked };
  });
  console.log(`# ringtone while ringing: ${ringing.loudest.toFixed(1)} dBFS (blocked: ${ringing.blocked})`);
  assert.ok(ringing.loudest > -30, `the ringtone sounds while the call rings (${ringing.loudest} dBFS)`);
  await assertFits(alice.page, 'ringing');
  assert.deepEqual(await axeSerious(alice.page), [], 'ringing screen');

  await alice.page.keyboard.press('Alt+A');
  await alice.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
  assert.equal(await alice.page.evaluate(() => window.demo.ringtone.ringing), false, 'the ringtone stopped');
  assert.equal(await alice.page.evaluate(() => window.demo.ringtone.levelDb()), -Infinity);
  await Promise.all([waitForAudio(alice.page, 'window.demo.call?.remoteStream'), waitForAudio(bob.page, 'window.demo.call?.remoteStream')]);
  const [a, b] = await Promise.all([measureRemoteAudio(alice.page, 1000), measureRemoteAudio(bob.page, 1000)]);
  console.log(`# answered by Alt+A: alice hears ${a.frequency.toFixed(0)} Hz at ${a.levelDb.toFixed(1)} dBFS; bob hears ${b.frequency.toFixed(0)} Hz at ${b.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(a.frequency - BOB_HZ) < 15 && a.levelDb > -35, 'alice hears bob');
  assert.ok(Math.abs(b.frequency - ALICE_HZ) < 15 && b.levelDb > -35, 'bob hears alice');
  await assertFits(alice.page, 'on a call');
  // Only what applies shows (a flex layout once overrode the hidden attribute of these).
  assert.equal(await alice.page.getByTestId('consult-panel').isVisible(), false, 'no consultation panel without a consultation');
  assert.equal(await alice.page.getByTestId('incoming').isVisible(), false, 'the incoming banner is gone once answered');
  assert.deepEqual(await axeSerious(alice.page), [], 'call screen');

  await alice.page.keyboard.press('Alt+M');
  assert.equal(await alice.page.evaluate(() => window.demo.call?.muted), true, 'Alt+M muted the call');
  await new Promise((r) => setTimeout(r, 300));
  const muted = await measureRemoteAudio(bob.page, 1000);
  console.log(`# muted by Alt+M: bob hears ${muted.levelDb.toFixed(1)} dBFS`);
  assert.ok(!(muted.levelDb > -50), `bob hears silence while alice is muted (${muted.levelDb} dBFS)`);
  await alice.page.keyboard.press('Alt+M');
  assert.equal(await alice.page.evaluate(() => window.demo.call?.muted), false, 'Alt+M again unmuted');

  const callId = await alice.page.evaluate(() => window.demo.call?.id);
  assert.ok(callId, 'the call has the gateway id');
  await alice.page.keyboard.press('Alt+H');
  await alice.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  await bob.page.getByTestId('active-call').waitFor({ state: 'hidden', timeout: 5000 });
  const entry = alice.page.getByTestId('history-entry').first();
  await entry.waitFor({ timeout: 5000 });
  assert.equal(await entry.getAttribute('data-call-id'), callId);
  assert.match((await entry.textContent()) ?? '', /bob · \d\d:\d\d/);
  await assertFits(alice.page, 'after the call');
});
