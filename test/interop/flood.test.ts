/**
 * Abuse protection with the default settings (16 requests / 2 s, 300 s ban, 5 failed logins):
 * a flood from one loopback address is throttled and banned while sipp on another address keeps
 * registering and calling without a single failure; scanners are dropped unanswered; repeated
 * wrong passwords ban the source. Every drop is visible in the guard's counters.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { afterEach, test } from 'node:test';
import { demoConfig } from '../../gateway/src/index.js';
import { answerChallenge } from '../../gateway/src/sip/digest.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { settle } from '../support/net.js';
import { sipp } from '../support/sipp.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** The shipped protection defaults, with nothing trusted. */
async function defended(): Promise<TestGateway> {
  gw = await startGateway({ protection: { ...demoConfig().protection, trustedAddresses: [] } });
  return gw;
}

/** A bare UDP SIP client bound to one loopback address; collects every response's status line. */
async function udpClient(address: string) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, address, r));
  const responses: string[] = [];
  sock.on('message', (m) => responses.push(m.toString('latin1')));
  let n = 0;
  return {
    responses,
    port: sock.address().port,
    send(target: number, method: string, headers: string[] = []) {
      n++;
      const msg = [
        `${method} sip:127.0.0.1:${target} SIP/2.0`,
        `Via: SIP/2.0/UDP ${address}:${sock.address().port};branch=z9hG4bK-flood-${n}-${Math.random().toString(36).slice(2)};rport`,
        'Max-Forwards: 70',
        `From: <sip:deskphone@127.0.0.1>;tag=f${n}`,
        `To: <sip:deskphone@127.0.0.1>`,
        `Call-ID: flood-${address}-${n}`,
        `CSeq: ${n} ${method}`,
        `Contact: <sip:deskphone@${address}:${sock.address().port}>`,
        ...headers,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.send(msg, target, '127.0.0.1');
    },
    close: () => sock.close(),
  };
}

test('a flood from one source is banned while another source keeps registering and calling', async () => {
  const g = await defended();
  const port = g.addrs.sipUdpPort;
  // The well-behaved phone: 4 registrations and 2 echo calls with RTP from 127.0.0.2, during the flood.
  const registering = sipp([`127.0.0.1:${port}`, '-sf', 'uac-register.xml', '-s', 'deskphone', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.2', '-t', 'u1', '-m', '4', '-r', '1', '-timeout', '30s']);
  const calling = sipp([`127.0.0.1:${port}`, '-sf', 'uac-auth-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.2', '-mi', '127.0.0.2', '-t', 'u1', '-m', '2', '-l', '1', '-timeout', '40s']);
  // The attacker: 2,000 OPTIONS from 127.0.0.3 as fast as the socket takes them, in bursts over ~2 s.
  const attacker = await udpClient('127.0.0.3');
  for (let burst = 0; burst < 20; burst++) {
    for (let i = 0; i < 100; i++) attacker.send(port, 'OPTIONS');
    await settle(100);
  }
  await settle(500);
  const answered = attacker.responses.length;
  console.log(`# flood: ${answered} of 2000 OPTIONS answered; guard ${JSON.stringify(g.gw.guard.stats)}`);
  assert.ok(answered <= 16, `at most the first 16 requests are answered, got ${answered}`);
  assert.equal(g.gw.guard.isBanned('127.0.0.3', attacker.port), true, 'the flooding source is banned');
  assert.equal(g.gw.guard.stats.bans, 1, 'exactly one ban (the good source never tripped)');
  assert.ok(g.gw.guard.stats.droppedBanned + g.gw.guard.stats.droppedRate >= 1900, 'the rest was dropped and counted');
  const [reg, calls] = await Promise.all([registering.done, calling.done]);
  assert.equal(reg.code, 0, `registrations from the good source failed:\n${reg.out.slice(-2500)}`);
  assert.equal(calls.code, 0, `calls from the good source failed:\n${calls.out.slice(-2500)}`);
  assert.equal(g.gw.guard.isBanned('127.0.0.2'), false);
  // The ban is exposed on the status endpoint.
  const status = (await (await fetch(new URL('/api/health', g.addrs.httpUrl))).json()) as { protection: { activeBans: number } };
  assert.equal(status.protection.activeBans, 1);
  attacker.close();
});

test('known scanners are dropped without an answer', async () => {
  const g = await defended();
  const scanner = await udpClient('127.0.0.4');
  scanner.send(g.addrs.sipUdpPort, 'OPTIONS', ['User-Agent: friendly-scanner']);
  scanner.send(g.addrs.sipUdpPort, 'REGISTER', ['User-Agent: sipvicious']);
  const phone = await udpClient('127.0.0.5');
  phone.send(g.addrs.sipUdpPort, 'OPTIONS', ['User-Agent: Yealink SIP-T46S']);
  await settle(400);
  assert.deepEqual(scanner.responses, [], 'nothing for the scanner to learn');
  assert.equal(phone.responses.length, 1);
  assert.match(phone.responses[0]!, /^SIP\/2.0 200 OK/);
  assert.equal(g.gw.guard.stats.droppedScanner, 2);
  scanner.close();
  phone.close();
});

test('five wrong passwords ban the source; the right password from elsewhere still works', async () => {
  const g = await defended();
  const port = g.addrs.sipUdpPort;
  const guesser = await udpClient('127.0.0.6');
  for (let i = 0; i < 6; i++) {
    guesser.send(port, 'REGISTER');
    await settle(60);
    const challenge = guesser.responses.at(-1) ?? '';
    const www = /\r\nWWW-Authenticate: (Digest [^\r\n]+algorithm=MD5[^\r\n]*)/i.exec(challenge)?.[1];
    if (!www) break;
    const auth = answerChallenge([www], { username: 'deskphone', password: `guess-${i}`, method: 'REGISTER', uri: `sip:127.0.0.1:${port}` })!;
    guesser.send(port, 'REGISTER', [`Authorization: ${auth}`]);
    await settle(60);
  }
  const statuses = guesser.responses.map((r) => r.split('\r\n')[0]);
  console.log(`# guesser saw: ${statuses.join(' | ')}`);
  assert.equal(statuses.filter((s) => /403/.test(s!)).length, 5, 'five 403s, then silence');
  assert.equal(g.gw.guard.isBanned('127.0.0.6', guesser.port), true);
  const reg = await sipp([`127.0.0.1:${port}`, '-sf', 'uac-register.xml', '-s', 'deskphone', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.7', '-t', 'u1', '-m', '1', '-timeout', '10s']).done;
  assert.equal(reg.code, 0, `the real phone could not register:\n${reg.out.slice(-2000)}`);
  guesser.close();
});

test('a source banned mid-call still gets its BYE answered: the call does not stay up for ever', async () => {
  const g = await defended();
  const port = g.addrs.sipUdpPort;
  // A phone on 127.0.0.5 calls the echo test (7.5 s, then BYE)…
  const calling = sipp([`127.0.0.1:${port}`, '-sf', 'uac-auth-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.5', '-mi', '127.0.0.5', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  for (let i = 0; i < 100 && !g.gw.b2bua.active.some((c) => c.state === 'connected'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(g.gw.b2bua.active.length, 1);
  // …and something else at the same address floods the gateway from ever new ports until the
  // address as a whole is banned (160 unauthenticated requests in 2 s).
  const flooders = await Promise.all(Array.from({ length: 170 }, () => udpClient('127.0.0.5')));
  for (const f of flooders) f.send(port, 'OPTIONS');
  await settle(300);
  assert.ok(g.gw.guard.isBanned('127.0.0.5'), 'the address is banned');
  const r = await calling.done;
  for (const f of flooders) f.close();
  assert.equal(r.code, 0, `the phone's BYE was answered although its address is banned:\n${r.out}`);
  for (let i = 0; i < 50 && g.gw.b2bua.active.length; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(g.gw.b2bua.active.length, 0);
  assert.equal(g.gw.sip.dialogCount, 0);
  // New requests from the banned address are still dropped.
  const before = g.gw.guard.stats.droppedBanned;
  const other = await udpClient('127.0.0.5');
  other.send(port, 'OPTIONS');
  await settle(200);
  other.close();
  assert.ok(g.gw.guard.stats.droppedBanned > before, 'out-of-dialog requests from the banned address are dropped');
});
