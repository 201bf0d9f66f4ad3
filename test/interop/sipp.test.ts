/**
 * A scripted SIP phone (sipp) calls the echo extension: 407 digest challenge, 200 OK, 7 s of
 * PCMA RTP from sipp's g711a.pcap echoed back by the gateway, BYE.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { sipp } from '../support/sipp.js';
let gw: TestGateway;

before(async () => {
  gw = await startGateway();
});
after(async () => {
  await gw?.stop();
});

test('sipp calls the echo extension with digest auth and RTP', async () => {
  const before = (await gw.gw.media.stats()).packetsRelayed;
  const { code, out } = await sipp([
    `127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-auth-echo.xml', '-au', 'deskphone', '-ap', 'deskphone-demo',
    '-s', '600', '-m', '1', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-timeout', '30s',
  ]).done;
  assert.equal(code, 0, `sipp failed (exit ${code}):\n${out.slice(-3000)}`);
  const relayed = (await gw.gw.media.stats()).packetsRelayed - before;
  // g711a.pcap holds 236 packets; the echo sends each one back to sipp.
  assert.ok(relayed >= 200, `expected the gateway to echo sipp's ~236 RTP packets, relayed ${relayed}`);
  assert.equal(gw.gw.b2bua.active.length, 0, 'the call is gone after BYE');
});
