/**
 * SIP over TLS and WebSocket over TLS with a certificate from config (a self-signed pair made
 * with openssl): baresip registers and calls over TLS both ways, and Chromium loads the demo over
 * HTTPS and calls over WSS — with the audio checked where it is received.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { analyse, loudestWindow, readWav } from '../support/audio.js';
import { Baresip } from '../support/baresip.js';
import { launchAgent, loginDemo, measureRemoteAudio } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { settle } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { testCertificate } from '../support/tls.js';
import { demoConfig } from '../../gateway/src/index.js';
import { SipRequest } from '../../gateway/src/sip/message.js';
import { TransportLayer } from '../../gateway/src/sip/transport/layer.js';

const PHONE_HZ = 1300;
let gw: TestGateway;
let phone: Baresip | undefined;

before(async () => {
  const cert = testCertificate();
  const base = demoConfig();
  gw = await startGateway({
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    http: { port: 0, httpsPort: 0 },
    sip: { ...base.sip, udpPort: 0, tcpPort: 0, tlsPort: 0 },
  });
  assert.ok(gw.addrs.sipTlsPort && gw.addrs.httpsUrl && gw.addrs.wssUrl, 'TLS listeners are up');
});

after(async () => {
  await phone?.stop();
  await gw?.stop();
});

// baresip 1.0 does not check the server certificate (it registered even with a foreign CA file
// here), so certificate checking is tested on the gateway's own outbound TLS below.
test('baresip registers over TLS and is bound to its TLS connection', async () => {
  const cert = testCertificate();
  phone = await Baresip.start({
    name: 'tls-phone', user: 'deskphone', password: 'deskphone-demo', gatewayPort: gw.addrs.sipTlsPort!, toneHz: PHONE_HZ,
    transport: 'tls', caFile: cert.certFile,
  });
  for (let i = 0; i < 100 && !gw.gw.sip.registrar.lookup('deskphone').length; i++) await settle(50);
  const [binding] = gw.gw.sip.registrar.lookup('deskphone');
  assert.ok(binding, `deskphone did not register over TLS:\n${phone.log.slice(-3000)}`);
  assert.equal(binding.target.transport, 'TLS');
  assert.match(binding.target.flowId ?? '', /^tls-/, 'bound to its TLS connection (flow reuse)');
});

test('baresip calls the echo extension over TLS and hears its own tone come back', async () => {
  assert.ok(phone, 'phone started');
  const dial = await phone.command('dial', `sip:600@127.0.0.1:${gw.addrs.sipTlsPort};transport=tls`);
  assert.ok(dial.ok, `baresip refused to dial: ${dial.data}`);
  await phone.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 10_000);
  await settle(2500);
  await phone.command('hangup');
  await phone.waitEvent((e) => e.type === 'CALL_CLOSED');
  const rec = phone.receivedRecordings().at(-1);
  assert.ok(rec, 'baresip recorded the call');
  const { samples, sampleRate } = readWav(rec);
  const got = analyse(loudestWindow(samples, sampleRate), sampleRate);
  console.log(`# TLS echo: baresip hears ${got.frequency} Hz at ${got.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(got.frequency - PHONE_HZ) <= 20 && got.levelDb > -35, `expected its own ${PHONE_HZ} Hz back, got ${JSON.stringify(got)}`);
});

test('a call to the TLS phone goes out over its TLS connection', async () => {
  assert.ok(phone, 'phone started');
  const established = phone.events.filter((e) => e.type === 'CALL_ESTABLISHED').length;
  // A sipp caller on UDP (authenticated as another user) dials the phone's extension.
  const users = gw.gw.config.users;
  assert.ok(users.some((u) => u.extension === '2001'));
  const caller = sipp([
    `127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-reinvite-bye.xml', '-s', '2001', '-au', 'alice', '-ap', 'alice-demo',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '20s',
  ]);
  const r = await caller.done;
  assert.equal(r.code, 0, `sipp caller:\n${r.out.slice(-2500)}`);
  assert.ok(phone.events.filter((e) => e.type === 'CALL_ESTABLISHED').length > established, 'baresip answered the call that came over TLS');
});

test('Chromium loads the demo over HTTPS and calls over WSS: the echo test returns its tone', async () => {
  const agent = await launchAgent(gw.addrs.httpsUrl!, 700, ['--ignore-certificate-errors']);
  try {
    await loginDemo(agent.page, 'alice', 'alice-demo');
    const flows = [...(gw.gw.transport as unknown as { flows: Map<string, { transport: string }> }).flows.values()];
    assert.ok(flows.some((f) => f.transport === 'WSS'), 'the browser connected over WSS');
    await agent.page.getByTestId('target').fill('600');
    await agent.page.getByTestId('dial').click();
    await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
    const heard = await measureRemoteAudio(agent.page, 2000);
    console.log(`# WSS echo: alice hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
    assert.ok(Math.abs(heard.frequency - 700) < 15 && heard.levelDb > -35, `expected her own 700 Hz back: ${JSON.stringify(heard)}`);
    await agent.page.getByTestId('hangup').click();
  } finally {
    await agent.close();
  }
});

test('outbound TLS: the gateway refuses a peer whose certificate it cannot verify, accepts it with the CA configured', async () => {
  const cert = testCertificate();
  const pem = { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) };
  const got: string[] = [];
  const server = tls.createServer(pem, (sock) => sock.on('data', (d) => got.push(d.toString('latin1').split('\r\n')[0]!)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const options = () => {
    const r = new SipRequest('OPTIONS', `sip:pbx@127.0.0.1:${port};transport=tls`);
    r.add('via', `SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK${Math.random().toString(36).slice(2)}`);
    r.add('max-forwards', 70);
    r.add('from', '<sip:gw@127.0.0.1>;tag=1');
    r.add('to', '<sip:pbx@127.0.0.1>');
    r.add('call-id', `tls-${Math.random()}`);
    r.add('cseq', '1 OPTIONS');
    return r;
  };
  const target = { transport: 'TLS' as const, host: '127.0.0.1', port };
  const strict = new TransportLayer({ bindHost: '127.0.0.1', advertisedHost: '127.0.0.1' });
  await assert.rejects(strict.sendRequest(options(), target), /TLS connect to 127\.0\.0\.1:\d+ failed: self[- ]signed certificate/);
  const trusting = new TransportLayer({ bindHost: '127.0.0.1', advertisedHost: '127.0.0.1', tlsClient: { verify: true, ca: pem.cert } });
  await trusting.sendRequest(options(), target);
  for (let i = 0; i < 50 && !got.length; i++) await settle(20);
  assert.deepEqual(got, [`OPTIONS sip:pbx@127.0.0.1:${port};transport=tls SIP/2.0`]);
  await strict.close();
  await trusting.close();
  await new Promise((r) => server.close(r));
});
