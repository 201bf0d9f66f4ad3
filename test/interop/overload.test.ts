/**
 * Overload leaves nothing behind: sipp places 800 calls/s for 20 s (1 s calls to the echo
 * extension, each through a 407 digest challenge) against a gateway whose media port range holds
 * far fewer calls than that. Many calls fail (503 No Media Port Available, or time out); what
 * matters is that afterwards `/api/health` returns to 0 calls, dialogs, endpoints and bridges
 * within 40 s, and that the SIP UDP socket's buffer kept the kernel's drop counter in view.
 *
 * On 2 cores shared with sipp and the test runner the gateway is past saturation here: the kernel
 * drops tens of thousands of datagrams (reported below), so some callers' BYEs never arrive (sipp
 * gives up after 64·T1). Those calls are what the media inactivity timeout is for; its default
 * (60 s) is longer than this test's window, so the test sets 15 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { sipp } from '../support/sipp.js';

interface Health {
  calls: number;
  dialogs: number;
  transactions: { clients: number; servers: number };
  media: { endpoints: number; bridges: number };
  sip: { udp?: { receiveBufferBytes: number; kernelDrops?: number } };
}

let gw: TestGateway;

before(async () => {
  // 50 even ports: room for ~50 calls at once against ~800 offered.
  gw = await startGateway({ media: { portRange: [33000, 33099], rtpTimeoutSeconds: 15 } });
});

after(() => gw?.stop());

async function health(): Promise<Health> {
  const res = await fetch(new URL('/api/health', gw.addrs.httpUrl), { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as Health;
}

test('800 calls/s for 20 s with too few media ports: back to 0 calls, dialogs, endpoints and bridges within 40 s', async () => {
  const t0 = Date.now();
  const run = sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-load-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-r', '800', '-m', '16000', '-l', '3000', '-timeout', '90s'], 120_000);
  let peak = { calls: 0, endpoints: 0 };
  const sampler = setInterval(() => {
    health().then((h) => (peak = { calls: Math.max(peak.calls, h.calls), endpoints: Math.max(peak.endpoints, h.media.endpoints) }), () => undefined);
  }, 1000);
  const r = await run.done;
  clearInterval(sampler);
  const loadMs = Date.now() - t0;
  const ok = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.out)?.[1];
  const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.out)?.[1];
  const t1 = Date.now();
  let h = await health();
  while (h.calls + h.dialogs + h.media.endpoints + h.media.bridges > 0 && Date.now() - t1 < 40_000) {
    await new Promise((res) => setTimeout(res, 500));
    h = await health();
  }
  const drainMs = Date.now() - t1;
  console.log(`# sipp ran ${loadMs} ms (exit ${r.code}): ${ok ?? '?'} calls completed, ${failed ?? '?'} failed; peak ${peak.calls} calls / ${peak.endpoints} endpoints at the gateway`);
  console.log(`# back to ${h.calls} calls, ${h.dialogs} dialogs, ${h.media.endpoints} endpoints, ${h.media.bridges} bridges ${drainMs} ms after sipp finished; ${h.transactions.clients + h.transactions.servers} transactions left (they expire on their timers); UDP buffer ${h.sip.udp?.receiveBufferBytes} B, kernel drops ${h.sip.udp?.kernelDrops}`);
  const summary = gw.gw.center.store.summary(t0);
  console.log(`# records: ${summary.map((s) => `${s.count} ${s.outcome} (${s.status} ${s.reason})`).join(', ')}`);
  assert.ok(summary.some((s) => s.status === 503 && s.reason === 'No Media Port Available'), 'the port shortage was hit and answered 503');
  assert.ok(Number(ok) > 0, `some calls went through:\n${r.out.slice(-2000)}`);
  assert.deepEqual({ calls: h.calls, dialogs: h.dialogs, endpoints: h.media.endpoints, bridges: h.media.bridges }, { calls: 0, dialogs: 0, endpoints: 0, bridges: 0 });
});
