/**
 * Calls that lost their far end end on their own (DESIGN.md 4c): a sipp caller killed mid-call
 * (no BYE) is noticed by the RTP inactivity timeout; SIP session timers (RFC 4028) are refreshed
 * as UAS and as UAC, and a session whose refresher stays silent is ended with BYE. Every ended
 * call leaves nothing behind (calls, dialogs, media endpoints) and a record saying why.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { demoConfig } from '../../gateway/src/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { startSipDevice } from '../support/sip-device.js';

async function health(gw: TestGateway): Promise<{ calls: number; dialogs: number; media: { endpoints: number; bridges: number } }> {
  const res = await fetch(new URL('/api/health', gw.addrs.httpUrl));
  return (await res.json()) as never;
}

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

const auth = ['-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1'];

describe('RTP inactivity timeout', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ media: { rtpTimeoutSeconds: 3 }, sip: { sessionTimers: { enabled: false, expires: 1800, minSE: 90 } } });
  });
  after(() => gw?.stop());

  test('a sipp caller killed mid-call: the call ends after the RTP timeout, nothing is left, the record says why', async () => {
    const run = sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-killed.xml', '-s', '600', ...auth, '-timeout', '60s']);
    await waitFor('the call to connect', () => gw.gw.b2bua.active.some((c) => c.state === 'connected'), 10_000);
    const [call] = gw.gw.b2bua.active;
    await new Promise((r) => setTimeout(r, 2000)); // audio flows for a while
    run.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const tookMs = await waitFor('the call to end', () => gw.gw.b2bua.active.length === 0, 15_000);
    console.log(`# the call ended ${Date.now() - killedAt} ms after sipp was killed (RTP timeout 3 s; sipp's pcap may have had up to 5 s left)`);
    assert.ok(tookMs >= 2500, 'not before the timeout');
    const h = await health(gw);
    assert.deepEqual({ calls: h.calls, dialogs: h.dialogs, endpoints: h.media.endpoints, bridges: h.media.bridges }, { calls: 0, dialogs: 0, endpoints: 0, bridges: 0 });
    const rec = gw.gw.center.store.call(call!.id);
    assert.equal(rec?.endReason, 'Media Timeout');
    assert.equal(rec?.endStatus, 408);
    assert.equal(rec?.endedBy, 'caller');
  });
});

describe('SIP session timers (RFC 4028)', () => {
  let gw: TestGateway;
  let uasPort: number;
  before(async () => {
    uasPort = await freePort();
    gw = await startGateway({
      media: { rtpTimeoutSeconds: 0 },
      sip: { sessionTimers: { enabled: true, expires: 1800, minSE: 4 } },
      users: [...demoConfig().users, { username: 'uas', password: 'uas-password', role: 'agent', extension: '3009', staticContact: `sip:uas@127.0.0.1:${uasPort}` }],
    });
  });
  after(() => gw?.stop());

  test('as UAS: the caller refreshes with UPDATE past the interval and the call stays up', async () => {
    const t0 = Date.now();
    const r = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-session-refresh.xml', '-s', '600', ...auth, '-timeout', '30s']).done;
    assert.equal(r.code, 0, `sipp failed:\n${r.out}`);
    const [rec] = gw.gw.center.store.calls({ limit: 1 });
    console.log(`# refreshed call lasted ${rec!.endedAt - rec!.answeredAt!} ms with Session-Expires 6 s (${Date.now() - t0} ms in all)`);
    assert.ok(rec!.endedAt - rec!.answeredAt! >= 9000, 'outlived the 6 s interval thanks to the refreshes');
    assert.equal(rec!.endedBy, 'caller', 'the caller hung up, not the timer');
    assert.equal(gw.gw.sip.dialogCount, 0);
  });

  test('as UAS: a refresher that never refreshes gets a BYE before the interval ends; the record says why', async () => {
    const t0 = Date.now();
    const r = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-session-expire.xml', '-s', '600', ...auth, '-timeout', '30s']).done;
    assert.equal(r.code, 0, `sipp failed (no BYE from the gateway?):\n${r.out}`);
    const [rec] = gw.gw.center.store.calls({ limit: 1 });
    const lived = rec!.endedAt - rec!.answeredAt!;
    console.log(`# unrefreshed session ended after ${lived} ms (interval 6 s, BYE due at 4 s); sipp ran ${Date.now() - t0} ms`);
    assert.ok(lived >= 3500 && lived < 6000, `BYE between min(32, SE/3) before expiry and expiry: ${lived} ms`);
    assert.equal(rec!.endReason, 'Session Timer Expired');
    await waitFor('nothing left', async () => (await health(gw)).dialogs === 0 && gw.gw.b2bua.active.length === 0, 5000);
  });

  test('as UAC: a callee that makes us the refresher gets UPDATE refreshes', async () => {
    const callee = sipp(['-sf', 'uas-session-timer.xml', '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-wait-bye.xml', '-s', '3009', ...auth, '-timeout', '30s']);
    const [c, e] = await Promise.all([caller.done, callee.done]);
    assert.equal(e.code, 0, `the callee did not see two refreshes:\n${e.out}`);
    assert.equal(c.code, 0, `caller:\n${c.out}`);
    await waitFor('nothing left', async () => (await health(gw)).dialogs === 0, 5000);
  });
});

describe('keep-alive OPTIONS of long calls', () => {
  let gw: TestGateway;
  let uasPort: number;
  before(async () => {
    uasPort = await freePort();
    gw = await startGateway({
      media: { rtpTimeoutSeconds: 0 },
      sip: { sessionTimers: { enabled: false, expires: 1800, minSE: 90 } },
      calls: { probeIntervalSeconds: 2 },
      users: [...demoConfig().users, { username: 'uas', password: 'uas-password', role: 'agent', extension: '3009', staticContact: `sip:uas@127.0.0.1:${uasPort}` }],
    });
  });
  after(() => gw?.stop());

  test('a phone that forgot the call (481 to OPTIONS) has its call ended; the caller gets BYE', async () => {
    const callee = sipp(['-sf', 'uas-forget.xml', '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
    await new Promise((r) => setTimeout(r, 300));
    // The caller answers keep-alives like any phone (our headless device answers every in-dialog request).
    const caller = await startSipDevice({ user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipUdpPort });
    try {
      const dialog = await caller.call('3009');
      const ended = await new Promise<string>((resolve) => dialog.on('terminated', (why) => resolve(why)));
      assert.equal(ended, 'bye-received', 'the caller got a BYE');
      const e = await callee.done;
      assert.equal(e.code, 0, `callee:\n${e.out}`);
      assert.ok(caller.received.some((r) => r.startsWith('OPTIONS')), 'the caller was probed too, and answered');
    } finally {
      await caller.close();
    }
    const [rec] = gw.gw.center.store.calls({ limit: 1 });
    assert.equal(rec?.endReason, 'Peer Unreachable');
    assert.equal(rec?.endedBy, 'callee');
    await waitFor('nothing left', async () => (await health(gw)).dialogs === 0 && gw.gw.b2bua.active.length === 0, 5000);
  });
});
