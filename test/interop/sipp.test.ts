/**
 * A scripted SIP phone (sipp) calls the echo extension: 407 digest challenge, 200 OK, 7 s of
 * PCMA RTP from sipp's g711a.pcap echoed back by the gateway, BYE.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { WORK } from '../support/browser.js';

const HERE = path.resolve(import.meta.dirname, '..', 'sipp');
let gw: TestGateway;

before(async () => {
  gw = await startGateway();
});
after(async () => {
  await gw?.stop();
});

function sipp(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('sipp', args, { cwd: WORK, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 40_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

test('sipp calls the echo extension with digest auth and RTP', async () => {
  const before = (await gw.gw.media.stats()).packetsRelayed;
  const { code, out } = await sipp([
    `127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', path.join(HERE, 'uac-auth-echo.xml'), '-au', 'deskphone', '-ap', 'deskphone-demo',
    '-s', '600', '-m', '1', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-timeout', '30s', '-timeout_error', '-nostdin',
  ]);
  assert.equal(code, 0, `sipp failed (exit ${code}):\n${out.slice(-3000)}`);
  const relayed = (await gw.gw.media.stats()).packetsRelayed - before;
  // g711a.pcap holds 236 packets; the echo sends each one back to sipp.
  assert.ok(relayed >= 200, `expected the gateway to echo sipp's ~236 RTP packets, relayed ${relayed}`);
  assert.equal(gw.gw.b2bua.active.length, 0, 'the call is gone after BYE');
});
