/**
 * RFC 3261 call flows against sipp on both sides of the B2BUA: a sipp caller (UAC, digest auth
 * with 407) calls extension 3001, a sipp callee (UAS) configured as a static contact. Over UDP
 * and TCP: answer + re-INVITE from either side + BYE from either side, CANCEL before answer;
 * over UDP through a relay that drops chosen datagrams, the call still completes with exactly
 * the retransmissions RFC 3261 §17 prescribes. And the gateway as a UAC answering a 407
 * challenge (RFC 3261 §22.2) checked by sipp's own digest verifier.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { freePort, settle } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { UdpRelay } from '../support/udp-relay.js';
import { demoConfig } from '../../gateway/src/index.js';

let gw: TestGateway | undefined;
let relays: UdpRelay[] = [];

afterEach(async () => {
  for (const r of relays) r.close();
  relays = [];
  await gw?.stop();
  gw = undefined;
});

/** A gateway whose extension 3001 is a static SIP device at `contact`. */
async function gatewayWithCallee(contact: string): Promise<TestGateway> {
  const users = [...demoConfig().users, { username: 'uas', password: 'uas-password', role: 'agent' as const, extension: '3001', staticContact: contact }];
  gw = await startGateway({ users });
  return gw;
}

type Transport = 'udp' | 'tcp';

/** Runs one caller scenario against one callee scenario through the gateway. */
async function call(transport: Transport, uac: string, uas: string, opts: { relayCallee?: UdpRelay; relayCaller?: UdpRelay } = {}) {
  const uasPort = await freePort();
  const t = transport === 'udp' ? 'u1' : 't1';
  const callee = sipp(['-sf', uas, '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', t, '-m', '1', '-timeout', '30s', '-s', 'uas']);
  await settle();
  let contactPort = uasPort;
  if (opts.relayCallee) contactPort = opts.relayCallee.port;
  const g = gw ?? (await gatewayWithCallee(`sip:uas@127.0.0.1:${contactPort};transport=${transport}`));
  const gwPort = transport === 'udp' ? g.addrs.sipUdpPort : g.addrs.sipTcpPort;
  const callerTarget = opts.relayCaller ? opts.relayCaller.port : gwPort;
  const caller = sipp([
    `127.0.0.1:${callerTarget}`, '-sf', uac, '-s', '3001', '-au', 'deskphone', '-ap', 'deskphone-demo',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', t, '-m', '1', '-timeout', '30s',
  ]);
  const [a, b] = await Promise.all([caller.done, callee.done]);
  assert.equal(a.code, 0, `caller scenario ${uac} failed (exit ${a.code}):\n${a.out.slice(-2500)}`);
  assert.equal(b.code, 0, `callee scenario ${uas} failed (exit ${b.code}):\n${b.out.slice(-2500)}`);
  // Nothing left behind: no call, no dialog.
  await settle(100);
  assert.equal(g.gw.b2bua.active.length, 0, 'call cleaned up');
  assert.equal(g.gw.sip.dialogCount, 0, 'dialogs cleaned up');
  return g;
}

for (const transport of ['udp', 'tcp'] as const) {
  test(`${transport}: call answered, re-INVITE from the caller, BYE from the caller`, async () => {
    await call(transport, 'uac-reinvite-bye.xml', 'uas-answer.xml');
  });

  test(`${transport}: call answered, re-INVITE from the callee, BYE from the callee`, async () => {
    await call(transport, 'uac-wait-bye.xml', 'uas-reinvite-bye.xml');
  });

  test(`${transport}: CANCEL before answer reaches the callee; caller gets 487`, async () => {
    const g = await call(transport, 'uac-cancel.xml', 'uas-ring-cancel.xml');
    assert.equal(g.gw.transport.stats.malformed, 0);
  });
}

test('udp loss toward the callee: 2 INVITEs lost → Timer A retransmits at 0.5 s and 1 s; lost ACK → the 200 is re-ACKed', async () => {
  const uasPort = await freePort();
  // Drop the first two INVITEs and the first ACK the gateway sends to the callee.
  const relay = await UdpRelay.start({ host: '127.0.0.1', port: uasPort }, (s, n) =>
    s.dir === 'to-server' && ((s.method === 'INVITE' && s.line.startsWith('INVITE') && n < 2) || (s.method === 'ACK' && n < 1)),
  );
  relays.push(relay);
  await gatewayWithCallee(`sip:uas@127.0.0.1:${relay.port};transport=udp`);
  // The relay learns its client from the first datagram; the gateway is that client.
  const callee = sipp(['-sf', 'uas-answer.xml', '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  await settle();
  const caller = sipp([`127.0.0.1:${gw!.addrs.sipUdpPort}`, '-sf', 'uac-reinvite-bye.xml', '-s', '3001', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  const [a, b] = await Promise.all([caller.done, callee.done]);
  assert.equal(a.code, 0, `caller failed:\n${a.out.slice(-2500)}`);
  assert.equal(b.code, 0, `callee failed:\n${b.out.slice(-2500)}`);
  const invites = relay.count('to-server', 'INVITE', 'INVITE');
  assert.equal(invites.length, 3, 'two lost INVITEs, then one delivered');
  assert.deepEqual(invites.map((s) => s.dropped), [true, true, false]);
  const gaps = [invites[1]!.at - invites[0]!.at, invites[2]!.at - invites[1]!.at];
  assert.ok(Math.abs(gaps[0]! - 500) < 150 && Math.abs(gaps[1]! - 1000) < 200, `Timer A doubles from T1=500 ms: gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
  const acks = relay.count('to-server', 'ACK', 'ACK');
  assert.equal(acks.length, 2, 'the first ACK lost; sipp re-sent its 200 and the gateway ACKed it again (§13.2.2.4)');
  const oks = relay.count('to-client', 'SIP/2.0 200', 'INVITE');
  assert.ok(oks.length >= 2, `callee retransmitted its 200 (${oks.length} seen)`);
});

test('udp loss toward the caller: 2 lost 200 OKs → Timer G re-sends the 2xx until the ACK arrives', async () => {
  const uasPort = await freePort();
  await gatewayWithCallee(`sip:uas@127.0.0.1:${uasPort};transport=udp`);
  const relay = await UdpRelay.start({ host: '127.0.0.1', port: gw!.addrs.sipUdpPort }, (s, n) =>
    s.dir === 'to-client' && s.method === 'INVITE' && s.line.startsWith('SIP/2.0 200') && n < 2,
  );
  relays.push(relay);
  const callee = sipp(['-sf', 'uas-answer.xml', '-p', String(uasPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  await settle();
  const caller = sipp([`127.0.0.1:${relay.port}`, '-sf', 'uac-reinvite-bye.xml', '-s', '3001', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  const [a, b] = await Promise.all([caller.done, callee.done]);
  assert.equal(a.code, 0, `caller failed:\n${a.out.slice(-2500)}`);
  assert.equal(b.code, 0, `callee failed:\n${b.out.slice(-2500)}`);
  // The call's first 200 (CSeq 2 INVITE); the re-INVITE's 200 comes later and is not dropped.
  const oks = relay.count('to-client', 'SIP/2.0 200', 'INVITE');
  assert.deepEqual(oks.slice(0, 3).map((s) => s.dropped), [true, true, false], 'two lost, the third delivered');
  const gaps = [oks[1]!.at - oks[0]!.at, oks[2]!.at - oks[1]!.at];
  assert.ok(Math.abs(gaps[0]! - 500) < 150 && Math.abs(gaps[1]! - 1000) < 200, `2xx retransmits at T1, 2·T1: gaps ${gaps.map((x) => x.toFixed(0)).join(', ')} ms`);
});

for (const [transport, status] of [['UDP', 401], ['TCP', 401], ['UDP', 407], ['TCP', 407]] as const) {
  test(`${transport.toLowerCase()}: the gateway as UAC answers a ${status} challenge (digest checked by sipp)`, async () => {
    const uasPort = await freePort();
    const callee = sipp(['-sf', `uas-challenge-${status}.xml`, '-p', String(uasPort), '-i', '127.0.0.1', '-t', transport === 'UDP' ? 'u1' : 't1', '-m', '1', '-timeout', '20s']);
    await settle();
    gw = await startGateway();
    const sdp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
    const out = gw.gw.sip.invite({
      target: { transport, host: '127.0.0.1', port: uasPort },
      // No port in the URI: the 407 scenario checks a response value computed for exactly this URI.
      requestUri: 'sip:pbx@127.0.0.1',
      from: { user: 'trunk' },
      to: { user: 'pbx' },
      offer: sdp,
      credentials: { username: 'trunk', password: 'trunk-secret' },
    });
    const outcome = await new Promise<string>((resolve) => {
      out.on('accepted', (_res, dialog) => {
        resolve('accepted');
        setTimeout(() => dialog.bye().catch(() => undefined), 200);
      });
      out.on('failed', (st, reason) => resolve(`failed ${st} ${reason}`));
      out.start();
    });
    assert.equal(outcome, 'accepted');
    const header = out.request.get(status === 407 ? 'proxy-authorization' : 'authorization') ?? '';
    assert.match(header, /^Digest username="trunk", realm="pbx.test"/);
    if (status === 401) assert.match(header, /qop=auth, nc=00000001, cnonce="[0-9a-f]+"/, 'qop=auth answered with nc and cnonce');
    assert.equal(out.request.cseq.seq, 2, 'the retried INVITE has CSeq + 1 (§22.2)');
    const r = await callee.done;
    assert.equal(r.code, 0, `sipp callee:\n${r.out.slice(-2500)}`);
  });
}
