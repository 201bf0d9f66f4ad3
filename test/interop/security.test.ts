/**
 * The gateway probed as an attacker would, from other loopback addresses (docs/security.md).
 * Every finding of the security review has a regression test here (or in the unit tests named
 * in docs/security.md): each failed on the code before the fix.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { demoConfig, setLogSink, type LogRecord } from '../../gateway/src/index.js';
import { answerChallenge, digestResponse, parseDigest } from '../../gateway/src/sip/digest.js';
import { launchAgent, measureRemoteAudio, WORK } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { freePort, settle } from '../support/net.js';
import { sipp } from '../support/sipp.js';
import { testCertificate } from '../support/tls.js';

/** An HTTP request from a chosen local address. */
function request(url: string, opts: { localAddress?: string; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress ?? '127.0.0.1', timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/** Raises this test process's own file-descriptor limit (as root) so it can play the attacker. */
function raiseOwnFdLimit(n: number): void {
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${n}`]);
  } catch {
    // not root: the default may do
  }
}

describe('file-descriptor exhaustion through idle HTTP connections', () => {
  let g: GatewayProcess;
  let httpPort: number;
  before(async () => {
    raiseOwnFdLimit(65_536);
    httpPort = await freePort();
    const sip = await freePort();
    // The gateway runs with a small fd limit, as a modest production box might.
    g = await GatewayProcess.start('fd-exhaustion', {
      host: '127.0.0.1',
      http: { port: httpPort },
      sip: { udpPort: sip, tcpPort: sip },
      auth: { tokenSecret: 'fd-exhaustion-secret-0123456789' },
      limits: { headersTimeoutSeconds: 5 },
      users: [{ username: 'alice', password: 'fd-test-alice', role: 'agent', extension: '1001' }],
      center: { database: ':memory:' },
    }, {}, { nofile: 4096 });
  });
  after(() => g?.stop());

  test('10,000 idle connections from 127.0.0.2: health from 127.0.0.3 answers within 1 s, and a call still has audio', async () => {
    const sockets: net.Socket[] = [];
    const connected = new Set<net.Socket>();
    let refused = 0;
    await Promise.all(
      Array.from({ length: 10_000 }, () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: httpPort, localAddress: '127.0.0.2' });
          sockets.push(s);
          s.on('error', () => undefined);
          // (A SYN the full listen backlog dropped is retried by the kernel for a while: those
          // sockets are still connecting, not held by the gateway.)
          setTimeout(resolve, 3000).unref();
          s.once('connect', () => {
            connected.add(s);
            resolve();
          });
          s.once('close', () => {
            refused++;
            resolve();
          });
        }),
      ),
    );
    await settle(500);
    const t0 = Date.now();
    const health = await request(`http://127.0.0.1:${httpPort}/api/health`, { localAddress: '127.0.0.3', timeoutMs: 1000 });
    const healthMs = Date.now() - t0;
    const h = JSON.parse(health.body) as { status: string; connections: { open: number; max: number; refusedPerAddress: number }; fds: { open: number; limit: number } };
    console.log(`# 10,000 idle connections from one address: the gateway holds ${h.connections.open} connections (cap 128 per address; ${h.connections.refusedPerAddress} refused, ${refused} seen closed by the client); health answered in ${healthMs} ms; fds ${h.fds.open}/${h.fds.limit}`);
    assert.equal(health.status, 200);
    assert.ok(healthMs < 1000);
    // 128 from the flooding address, plus this health request and the start-up health poll's kept-alive connection.
    assert.ok(h.connections.open <= 128 + 2, `at most the per-address cap is held (${h.connections.open})`);
    assert.ok(h.connections.refusedPerAddress > 5000, 'the rest are refused at accept');
    assert.ok(h.fds.open < h.fds.limit / 2, 'file descriptors stay available');
    // A browser agent on another address still logs in and calls the echo test.
    const agent = await launchAgent(`http://127.0.0.1:${httpPort}/`, 750);
    try {
      await agent.page.getByTestId('username').fill('alice');
      await agent.page.getByTestId('password').fill('fd-test-alice');
      await agent.page.getByTestId('login').click();
      await agent.page.getByTestId('status').filter({ hasText: 'Online' }).waitFor({ timeout: 10_000 });
      await agent.page.getByTestId('target').fill('600');
      await agent.page.getByTestId('dial').click();
      await agent.page.getByTestId('call-state').filter({ hasText: 'connected' }).waitFor({ timeout: 10_000 });
      const heard = await measureRemoteAudio(agent.page, 1000);
      assert.ok(Math.abs(heard.frequency - 750) < 15 && heard.levelDb > -40, `the call has audio: ${JSON.stringify(heard)}`);
    } finally {
      await agent.close();
    }
    // The idle ones the gateway accepted are closed by the headers deadline (5 s here). (The
    // client may still think some are open: SYNs the full listen backlog answered with a SYN
    // cookie never reached the gateway at all. The gateway's own count is the truth.)
    await settle(6500);
    const after = JSON.parse((await request(`http://127.0.0.1:${httpPort}/api/health`, { localAddress: '127.0.0.3', timeoutMs: 1000 })).body) as { connections: { open: number } };
    const clientSide = [...connected].filter((s) => !s.destroyed).length;
    for (const s of sockets) s.destroy();
    console.log(`# after the headers deadline the gateway holds ${after.connections.open} connections (${clientSide} sockets the client still believes open)`);
    assert.ok(after.connections.open <= 3, `silent connections are closed by the deadline (${after.connections.open} open)`);
  });
});

describe('the gateway in-process', () => {
  let gw: TestGateway;
  const logs: LogRecord[] = [];
  let restoreLog: ReturnType<typeof setLogSink>;
  before(async () => {
    const cert = testCertificate();
    gw = await startGateway({
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
      http: { port: 0, httpsPort: 0 },
      sip: { tlsPort: 0, maxConnectionsPerIp: 10 },
      limits: { handshakeTimeoutSeconds: 2, sipMessageTimeoutSeconds: 2, headersTimeoutSeconds: 2 },
      auth: { login: { maxFailuresPerUser: 5, maxFailuresPerAddress: 1000, lockSeconds: 2, maxLockSeconds: 60 } },
      users: [...demoConfig().users, { username: 'root', password: 'root-password-1', role: 'admin' }],
    });
    const prev = setLogSink((r) => {
      logs.push(r);
      prev(r);
    });
    restoreLog = prev;
  });
  after(async () => {
    setLogSink(restoreLog);
    await gw?.stop();
  });

  test('TLS sockets that never send a ClientHello count against the per-address cap and are closed within the handshake deadline', async () => {
    const port = gw.addrs.sipTlsPort!;
    const sockets = Array.from({ length: 30 }, () => {
      const s = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.4' });
      s.on('error', () => undefined);
      return s;
    });
    await settle(400);
    const held = sockets.filter((s) => !s.destroyed).length;
    const t0 = Date.now();
    while (sockets.some((s) => !s.destroyed) && Date.now() - t0 < 5000) await settle(50);
    const closedAfter = Date.now() - t0 + 400;
    console.log(`# 30 silent TLS sockets: ${held} held (cap 10), all closed ${closedAfter} ms after connecting (deadline 2 s)`);
    assert.ok(held <= 10, `only the per-address cap is admitted before the handshake (${held})`);
    assert.ok(sockets.every((s) => s.destroyed), 'every silent socket is closed');
    assert.ok(closedAfter < 3500, `within the handshake deadline (${closedAfter} ms)`);
  });

  test('slow drip: a SIP message over TCP that does not complete in time, and HTTP headers that trickle, are cut', async () => {
    const drip = (port: number, text: string) =>
      new Promise<number>((resolve) => {
        const t0 = Date.now();
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        let i = 0;
        const timer = setInterval(() => {
          if (!s.destroyed) s.write(text[i++ % text.length]!);
        }, 100);
        s.once('close', () => {
          clearInterval(timer);
          resolve(Date.now() - t0);
        });
        setTimeout(() => s.destroy(), 10_000);
      });
    const [sipMs, httpMs] = await Promise.all([
      drip(gw.addrs.sipTcpPort, 'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKd\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
      drip(Number(new URL(gw.addrs.httpUrl).port), 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'),
    ]);
    console.log(`# slow drip cut after ${sipMs} ms (SIP TCP, deadline 2 s) and ${httpMs} ms (HTTP headers, deadline 2 s)`);
    assert.ok(sipMs < 4000, `SIP message deadline (${sipMs} ms)`);
    assert.ok(httpMs < 4000, `HTTP headers deadline (${httpMs} ms)`);
  });

  test('50 wrong logins lock the user out — even the right password is refused — until the backoff ends', async () => {
    const login = (password: string) => request(new URL('/api/login', gw.addrs.httpUrl).href, { method: 'POST', localAddress: '127.0.0.13', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password }) });
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await login(`guess-${i}`)).status);
    const right = await login('bob-demo');
    console.log(`# 50 wrong logins: ${statuses.filter((s) => s === 401).length}× 401, ${statuses.filter((s) => s === 429).length}× 429; the right password then: ${right.status} ${right.body}`);
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(statuses.slice(5).every((s) => s === 429), 'then refused unchecked');
    assert.equal(right.status, 429, 'the right password is refused during the lock');
    assert.equal(JSON.parse(right.body).error.code, 'LOCKED_OUT');
    assert.ok(Number(right.headers['retry-after']) >= 1);
    assert.ok(logs.some((l) => /login locked for user "bob"/.test(l.message)), 'the lock is logged');
    await settle(2100);
    assert.equal((await login('bob-demo')).status, 200, 'after the backoff the right password works');
  });

  test('digest: a qop-less response, a replay and credentials for another URI are refused', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.14', r));
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('latin1')));
    const port = gw.addrs.sipUdpPort;
    let n = 0;
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.14\r\ns=-\r\nc=IN IP4 127.0.0.14\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
    const invite = (ruri: string, auth = '') => {
      n++;
      sock.send([`INVITE ${ruri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.14:${sock.address().port};branch=z9hG4bKdg${n};rport`, 'Max-Forwards: 70',
        'From: <sip:deskphone@127.0.0.1>;tag=d1', `To: <${ruri}>`, `Call-ID: digest-${n}@test`, `CSeq: ${n} INVITE`, `Contact: <sip:deskphone@127.0.0.14:${sock.address().port}>`,
        ...(auth ? [`Proxy-Authorization: ${auth}`] : []), 'Content-Type: application/sdp', `Content-Length: ${sdp.length}`, '', sdp].join('\r\n'), port, '127.0.0.1');
    };
    /** The next final response (provisional ones skipped). */
    const next = async () => {
      const finals = () => got.filter((m) => !/^SIP\/2.0 1\d\d/.test(m));
      const before = finals().length;
      for (let i = 0; i < 100 && finals().length === before; i++) await settle(20);
      return finals().at(-1) ?? '';
    };
    const ruri = `sip:600@127.0.0.1:${port}`;
    invite(ruri);
    const challenge = /Proxy-Authenticate: (Digest [^\r\n]*algorithm=MD5[^\r\n]*)/.exec(await next())![1]!;
    const nonce = parseDigest(challenge)!.nonce!;
    // 1. No qop (and so no nonce-count): refused, every time.
    const noQop = `Digest username="deskphone", realm="switchboard", nonce="${nonce}", uri="${ruri}", algorithm=MD5, response="${digestResponse({ algorithm: 'MD5', username: 'deskphone', realm: 'switchboard', password: 'deskphone-demo', method: 'INVITE', uri: ruri, nonce })}"`;
    invite(ruri, noQop);
    assert.match(await next(), /^SIP\/2.0 403 Digest With qop=auth Required/);
    invite(ruri, noQop);
    assert.match(await next(), /^SIP\/2.0 403/);
    // 2. Credentials computed for another target (a sniffed header reused): refused.
    const forOther = answerChallenge([challenge], { username: 'deskphone', password: 'deskphone-demo', method: 'INVITE', uri: `sip:1002@127.0.0.1:${port}`, nc: 1 })!;
    invite(ruri, forOther);
    assert.match(await next(), /^SIP\/2.0 403 Credentials For Another URI/);
    // 3. A valid one is accepted once; replayed (same nc), it is challenged again.
    const good = answerChallenge([challenge], { username: 'deskphone', password: 'deskphone-demo', method: 'INVITE', uri: ruri, nc: 2 })!;
    invite(ruri, good);
    assert.doesNotMatch(await next(), /^SIP\/2.0 (403|407)/);
    invite(ruri, good);
    assert.match(await next(), /^SIP\/2.0 407/, 'the replay is challenged afresh');
    assert.ok(gw.gw.sip.stats.replays >= 1);
    sock.close();
    await settle(300);
    for (const c of gw.gw.b2bua.active) c.hangup({ by: 'gateway', status: 200, reason: 'test over' });
  });

  test('responses over UDP go to the real source port, whatever rport= and received= the request carries', async () => {
    const client = dgram.createSocket('udp4');
    const victim = dgram.createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.15', r));
    await new Promise<void>((r) => victim.bind(0, '127.0.0.16', r));
    const atClient: string[] = [];
    const atVictim: string[] = [];
    client.on('message', (m) => atClient.push(m.toString('latin1')));
    victim.on('message', (m) => atVictim.push(m.toString('latin1')));
    const vp = victim.address().port;
    const msg = [`OPTIONS sip:127.0.0.1:${gw.addrs.sipUdpPort} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.16:${vp};branch=z9hG4bKrport1;rport=${vp};received=127.0.0.16`, 'Max-Forwards: 70',
      'From: <sip:x@127.0.0.1>;tag=r1', 'To: <sip:x@127.0.0.1>', 'Call-ID: rport-1@test', 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n');
    client.send(msg, gw.addrs.sipUdpPort, '127.0.0.1');
    await settle(500);
    console.log(`# OPTIONS with Via rport=${vp};received=127.0.0.16 (a third party): ${atClient.length} response(s) at the real source, ${atVictim.length} at the third party`);
    assert.equal(atVictim.length, 0, 'nothing reflected to the address in the Via');
    assert.equal(atClient.length, 1);
    assert.match(atClient[0]!, new RegExp(`rport=${client.address().port}`), 'rport is ours: the real source port');
    assert.match(atClient[0]!, /received=127\.0\.0\.15/, 'received is ours: the real source address');
    client.close();
    victim.close();
  });

  test('200 WebSockets with a token from one address all connect (a reverse proxy, an office NAT); an unauthenticated flood from it does not', async () => {
    const wsUrl = gw.addrs.wsUrl;
    const open = (token?: string) =>
      new Promise<WebSocket | undefined>((resolve) => {
        const ws = new WebSocket(`${wsUrl}${token ? `?access_token=${token}` : ''}`, 'sip', { localAddress: '127.0.0.11', headers: { origin: gw.addrs.httpUrl.replace(/\/$/, '') } } as never);
        ws.once('open', () => resolve(ws));
        ws.once('error', () => resolve(undefined));
      });
    const all: WebSocket[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const got = await Promise.all(Array.from({ length: 50 }, (_, i) => open(gw.gw.tokens.issue(i % 2 ? 'alice' : 'bob', 'agent').token)));
      assert.ok(got.every(Boolean), `batch ${batch}: every token WebSocket connected`);
      all.push(...(got as WebSocket[]));
    }
    // Unauthenticated connections from the same address are still capped (128 by default).
    const raw = Array.from({ length: 200 }, () => {
      const s = net.connect({ host: '127.0.0.1', port: Number(new URL(gw.addrs.httpUrl).port), localAddress: '127.0.0.11' });
      s.on('error', () => undefined);
      return s;
    });
    await settle(500);
    const rawHeld = raw.filter((s) => !s.destroyed).length;
    console.log(`# 200 token WebSockets from one address connected; 200 idle connections from it next: ${rawHeld} held (cap 128)`);
    assert.ok(rawHeld <= 128);
    for (const s of raw) s.destroy();
    for (const ws of all) ws.terminate();
  });

  test('HTTP: malformed %-escapes get 400 (no stack trace), failing URLs are logged without their token; agents see only themselves; read endpoints are GET only', async () => {
    const base = gw.addrs.httpUrl;
    const before = logs.length;
    const bad = await request(`${base}sdk/%E0%A4%A`);
    assert.equal(bad.status, 400);
    assert.ok(!logs.slice(before).some((l) => l.level === 'error'), 'no error (stack trace) logged');
    const { redactUrl } = await import('../../gateway/src/api/http.js');
    assert.equal(redactUrl('/api/records?access_token=eyJsecret.part&format=csv'), '/api/records?access_token=…&format=csv');
    const alice = gw.gw.tokens.issue('alice', 'agent').token;
    const auth = { authorization: `Bearer ${alice}` };
    const list = JSON.parse((await request(`${base}api/agents`, { headers: auth })).body) as { agents: Array<{ username: string }> };
    assert.deepEqual(list.agents.map((a) => a.username), ['alice'], 'an agent sees only itself');
    assert.equal((await request(`${base}api/agents/bob`, { headers: auth })).status, 403);
    assert.equal((await request(`${base}api/stats`, { method: 'POST', headers: auth })).status, 405);
    assert.equal((await request(`${base}api/records`, { method: 'DELETE', headers: auth })).status, 405);
    assert.equal((await request(`${base}api/agents`, { method: 'PUT', headers: auth })).status, 405);
    const root = gw.gw.tokens.issue('root', 'admin').token;
    assert.ok(JSON.parse((await request(`${base}api/agents`, { headers: { authorization: `Bearer ${root}` } })).body).agents.length > 1, 'an admin sees everyone');
  });

  test('tokens for users that do not exist, or without iat, are refused at the API and the WebSocket', async () => {
    const ghost = gw.gw.tokens.issue('ghost', 'admin').token;
    const r = await request(`${gw.addrs.httpUrl}api/stats`, { headers: { authorization: `Bearer ${ghost}` } });
    assert.equal(r.status, 401);
    assert.match(r.body, /revoked/);
    const ws = new WebSocket(`${gw.addrs.wsUrl}?access_token=${ghost}`, 'sip', { headers: { origin: gw.addrs.httpUrl.replace(/\/$/, '') } });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 401);
  });

  test('DNS rebinding: a Host that is not the gateway\'s is refused (421), page and WebSocket alike', async () => {
    const base = gw.addrs.httpUrl;
    assert.equal((await request(base, { headers: { host: 'evil.example:8080' } })).status, 421);
    const ws = new WebSocket(gw.addrs.wsUrl, 'sip', { headers: { host: 'evil.example', origin: 'http://evil.example' } });
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 421);
    assert.equal((await request(base)).status, 200, 'the real name still works');
  });

  test('storage failure: health says degraded (503) and a call record that cannot be written goes to the log whole', async () => {
    const db = (gw.gw.center.store as unknown as { db: { pragma(s: string): unknown } }).db;
    db.pragma('query_only = 1');
    try {
      const before = logs.length;
      const r = await sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-auth-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']).done;
      assert.equal(r.code, 0, 'calls still work');
      const health = await request(`${gw.addrs.httpUrl}api/health`);
      const h = JSON.parse(health.body) as { status: string; problems: string[] };
      console.log(`# read-only database: health ${health.status} ${h.status}: ${h.problems?.join('; ')}`);
      assert.equal(health.status, 503);
      assert.equal(h.status, 'degraded');
      assert.ok(logs.slice(before).some((l) => l.level === 'error' && /call record not stored: \{"id"/.test(l.message)), 'the whole record is in the log');
    } finally {
      db.pragma('query_only = 0');
    }
  });
});

describe('flood guard and an office NAT', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ protection: { ...demoConfig().protection, trustedAddresses: [] } });
  });
  after(() => gw?.stop());

  test('30 devices behind one address re-registering every 10 s are never banned while an unauthenticated flood from that address is', async () => {
    const port = gw.addrs.sipUdpPort;
    // 30 devices, each its own port behind the NAT (sipp -t un: a socket per "call"), 3 rounds.
    const phones = sipp([`127.0.0.1:${port}`, '-sf', 'uac-register.xml', '-s', 'deskphone', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.12', '-t', 'un', '-max_socket', '200', '-r', '3', '-m', '90', '-timeout', '60s'], 70_000);
    await settle(3000);
    // Meanwhile something at the same address floods: 200 OPTIONS from one port.
    const flood = dgram.createSocket('udp4');
    await new Promise<void>((r) => flood.bind(0, '127.0.0.12', r));
    let answered = 0;
    flood.on('message', () => answered++);
    for (let i = 0; i < 200; i++) {
      flood.send([`OPTIONS sip:127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.12:${flood.address().port};branch=z9hG4bKfl${i};rport`, 'Max-Forwards: 70',
        'From: <sip:x@127.0.0.1>;tag=f', 'To: <sip:x@127.0.0.1>', `Call-ID: nat-flood-${i}`, `CSeq: ${i + 1} OPTIONS`, 'Content-Length: 0', '', ''].join('\r\n'), port, '127.0.0.1');
    }
    await settle(500);
    assert.ok(gw.gw.guard.isBanned('127.0.0.12', flood.address().port), 'the flooding source is banned');
    assert.ok(answered <= 16, `the flood got at most 16 answers (${answered})`);
    const r = await phones.done;
    flood.close();
    const ok = /Successful call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(r.out)?.[1];
    console.log(`# NAT: ${ok} of 90 registrations succeeded while the flood was banned; guard ${JSON.stringify(gw.gw.guard.stats)}`);
    assert.equal(r.code, 0, `every registration succeeded:\n${r.out.slice(-1500)}`);
    assert.equal(gw.gw.guard.isBanned('127.0.0.12'), false, 'the address as a whole is not banned');
  });
});

test('a configuration with a typo\'d key stops the CLI, naming the key', async () => {
  const file = path.join(WORK, 'typo.json');
  (await import('node:fs')).writeFileSync(file, JSON.stringify({ sip: { udpport: 5070 }, users: [] }));
  const cli = path.resolve(import.meta.dirname, '..', '..', 'gateway', 'dist', 'cli.js');
  let out = '';
  let code = 0;
  try {
    execFileSync(process.execPath, [cli, '--config', file], { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    const e = err as { status: number; stderr: Buffer };
    code = e.status;
    out = e.stderr.toString();
  }
  assert.equal(code, 2);
  assert.match(out, /sip\.udpport: unknown key \(did you mean udpPort\?\)/);
});
