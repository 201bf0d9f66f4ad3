/**
 * Bad input gets a clear answer and the gateway keeps serving: malformed SIP over UDP, TCP and
 * WebSocket, bad tokens, foreign origins, wrong passwords.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { setLogSink, type LogRecord } from '../../gateway/src/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let udp: dgram.Socket;
const logs: LogRecord[] = [];
const inbox: string[] = [];

before(async () => {
  gw = await startGateway();
  const prev = setLogSink((r) => {
    logs.push(r);
    prev(r);
  });
  udp = dgram.createSocket('udp4');
  udp.on('message', (m) => inbox.push(m.toString()));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
});
after(async () => {
  udp?.close();
  await gw?.stop();
});

const port = () => udp.address().port;

function options(branch: string, extra = ''): string {
  return `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port()};branch=z9hG4bK${branch};rport\r\nFrom: <sip:probe@127.0.0.1>;tag=a1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${branch}@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n${extra}Content-Length: 0\r\n\r\n`;
}

async function sendUdp(text: string, expect?: RegExp, timeoutMs = 1000): Promise<string | undefined> {
  const start = inbox.length;
  udp.send(text, gw.addrs.sipUdpPort, '127.0.0.1');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = inbox.slice(start).find((m) => !expect || expect.test(m));
    if (got) return got;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

const cases: Array<[string, () => string, RegExp]> = [
  ['bad CSeq', () => options('c1').replace('CSeq: 1 OPTIONS', 'CSeq: one OPTIONS'), /^SIP\/2\.0 400 Bad CSeq header/],
  ['CSeq method mismatch', () => options('c2').replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'), /^SIP\/2\.0 400 CSeq method does not match/],
  ['bad Content-Length', () => options('c4').replace('Content-Length: 0', 'Content-Length: 99'), /^SIP\/2\.0 400 Content-Length larger than body/],
  ['unbracketed garbage URI', () => options('c5').replace('OPTIONS sip:127.0.0.1', 'OPTIONS sip:@@@'), /^SIP\/2\.0 400 Bad URI/],
  ['bad Max-Forwards', () => options('c6').replace('Max-Forwards: 70', 'Max-Forwards: lots'), /^SIP\/2\.0 400 Bad Max-Forwards/],
];

for (const [name, msg, expected] of cases) {
  test(`malformed SIP over UDP (${name}) gets a 400 with the reason`, async () => {
    const res = await sendUdp(msg(), /^SIP\/2\.0 /);
    assert.ok(res, 'an answer arrived');
    assert.match(res!, expected);
    assert.ok(logs.some((l) => l.scope === 'sip.parse' && l.level === 'warn'), 'the reason is logged');
  });
}

test('unanswerable garbage over UDP is dropped with a log line', async () => {
  const before = gw.gw.transport.stats.malformed;
  const res = await sendUdp('\x16\x03\x01 hello garbage\r\n\r\n', undefined, 300);
  assert.equal(res, undefined);
  assert.equal(gw.gw.transport.stats.malformed, before + 1);
  assert.ok(logs.some((l) => /Malformed start line/.test(l.message)));
});

test('a request without Call-ID cannot be answered validly: dropped with a log line', async () => {
  const res = await sendUdp(options('c3').replace(/Call-ID: .*\r\n/, ''), undefined, 300);
  assert.equal(res, undefined);
  assert.ok(logs.some((l) => /Missing Call-ID header/.test(l.message)));
});

test('a 100 kB message over TCP is refused and that connection closed', async () => {
  const sock = net.connect(gw.addrs.sipTcpPort, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.on('error', () => undefined);
  const closed = new Promise((r) => sock.once('close', r));
  sock.write(options('big').replace('SIP/2.0/UDP', 'SIP/2.0/TCP').replace('Content-Length: 0', 'Content-Length: 100000'));
  sock.write('x'.repeat(100_000));
  await closed;
  assert.ok(logs.some((l) => /Message Too Large/.test(l.message)));
});

test('the gateway still answers a good OPTIONS after all that', async () => {
  const res = await sendUdp(options('good'), /^SIP\/2\.0 200/);
  assert.match(res ?? '', /^SIP\/2\.0 200 OK/);
  assert.match(res ?? '', /Allow: .*INVITE/);
});

test('malformed SIP over TCP gets a 400; a broken stream is closed, others keep working', async () => {
  const sock = net.connect(gw.addrs.sipTcpPort, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let data = '';
  sock.on('data', (d) => (data += d));
  sock.write(options('t1').replace('SIP/2.0/UDP', 'SIP/2.0/TCP').replace('CSeq: 1 OPTIONS', 'CSeq: x OPTIONS'));
  for (let i = 0; i < 100 && !data.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(data, /^SIP\/2\.0 400 Bad CSeq header/);
  // A message with no Content-Length cannot be framed on a stream (RFC 3261 §18.3): closed.
  const closed = new Promise((r) => sock.once('close', r));
  sock.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4\r\n\r\n');
  await closed;
  const res = await sendUdp(options('after-tcp'), /^SIP\/2\.0 200/);
  assert.ok(res, 'UDP still served');
});

function openWs(query: string, origin?: string): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${new URL(gw.addrs.httpUrl).port}/sip${query}`, 'sip', origin ? { origin } : {});
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', () => resolve({}));
  });
}

test('a WebSocket with a forged or expired token is refused with 401', async () => {
  const forged = await openWs('?access_token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.AAAA');
  assert.equal(forged.status, 401);
  const { token } = gw.gw.tokens.issue('alice', 'agent', 1);
  await new Promise((r) => setTimeout(r, 1100));
  const expired = await openWs(`?access_token=${token}`);
  assert.equal(expired.status, 401);
  assert.ok(logs.some((l) => /refused: Invalid access token \(expired\)/.test(l.message)));
});

test('a WebSocket from a foreign Origin is refused with 403', async () => {
  const { token } = gw.gw.tokens.issue('alice', 'agent');
  const res = await openWs(`?access_token=${token}`, 'https://evil.example');
  assert.equal(res.status, 403);
});

test('malformed SIP over WebSocket gets a 400 and the socket stays usable', async () => {
  const { token } = gw.gw.tokens.issue('alice', 'agent');
  const { ws } = await openWs(`?access_token=${token}`);
  assert.ok(ws);
  const got: string[] = [];
  ws!.on('message', (m) => got.push(m.toString()));
  const wsMsg = (b: string, cseq = '1 OPTIONS') =>
    `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS abc.invalid;branch=z9hG4bK${b}\r\nFrom: <sip:alice@127.0.0.1>;tag=w\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${b}\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`;
  ws!.send(wsMsg('w1', 'bad'));
  ws!.send('complete nonsense');
  ws!.send(wsMsg('w2'));
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(got[0] ?? '', /^SIP\/2\.0 400 Bad CSeq header/);
  assert.match(got[1] ?? '', /^SIP\/2\.0 200 OK/);
  ws!.close();
});

test('REGISTER over WebSocket without a token needs digest; a wrong password gets 403', async () => {
  const { ws } = await openWs('');
  assert.ok(ws, 'a tokenless WebSocket is accepted (standard SIP clients use digest)');
  const got: string[] = [];
  ws!.on('message', (m) => got.push(m.toString()));
  const reg = (cseq: number, auth = '') =>
    `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS abc.invalid;branch=z9hG4bKr${cseq}\r\nFrom: <sip:bob@127.0.0.1>;tag=r\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: reg1\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:x@abc.invalid;transport=ws>\r\nExpires: 600\r\n${auth}Content-Length: 0\r\n\r\n`;
  ws!.send(reg(1));
  for (let i = 0; i < 100 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(got[0]!, /^SIP\/2\.0 401/);
  // Browsers' SIP libraries do MD5 only (JsSIP aborts on any SHA-256 challenge): MD5 alone here.
  assert.match(got[0]!, /WWW-Authenticate: Digest .*algorithm=MD5, qop="auth"/);
  assert.doesNotMatch(got[0]!, /SHA-256/);
  const nonce = /nonce="([^"]+)"/.exec(got[0]!)![1];
  ws!.send(reg(2, `Authorization: Digest username="bob", realm="switchboard", nonce="${nonce}", uri="sip:127.0.0.1", response="${'0'.repeat(32)}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"\r\n`));
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(got[1]!, /^SIP\/2\.0 403 Bad Credentials/);
  assert.equal(gw.gw.sip.registrar.lookup('bob').length, 0);
  ws!.close();
});

test('contact-center commands (MESSAGE): bad bodies get a clear coded answer, no token means digest, nothing changes', async () => {
  const { token } = gw.gw.tokens.issue('alice', 'agent');
  const { ws } = await openWs(`?access_token=${token}`);
  assert.ok(ws);
  const got: string[] = [];
  ws!.on('message', (m) => got.push(m.toString()));
  let n = 0;
  const message = (body: string, type = 'application/x-switchboard-control+json') => {
    n++;
    return `MESSAGE sip:switchboard@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS abc.invalid;branch=z9hG4bKm${n}\r\nFrom: <sip:alice@127.0.0.1>;tag=m\r\nTo: <sip:switchboard@127.0.0.1>\r\nCall-ID: msg${n}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  };
  const send = async (text: string) => {
    const before = got.length;
    ws!.send(text);
    for (let i = 0; i < 100 && got.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    return got[before] ?? '';
  };
  assert.match(await send(message('{not json')), /^SIP\/2\.0 400 Bad Command[\s\S]*"code":"BAD_REQUEST"/);
  assert.match(await send(message('[1,2]')), /^SIP\/2\.0 400[\s\S]*"code":"BAD_REQUEST"/);
  assert.match(await send(message('{"type":"launch-rockets"}')), /^SIP\/2\.0 400[\s\S]*"code":"UNKNOWN_COMMAND"/);
  assert.match(await send(message('{"type":"agent-state","state":"on-call"}')), /^SIP\/2\.0 400[\s\S]*available, not-ready or offline/);
  assert.match(await send(message('{"type":"agent-state","state":"not-ready","reason":"nap"}')), /^SIP\/2\.0 400[\s\S]*"code":"UNKNOWN_REASON"/);
  assert.match(await send(message('{"type":"agent-state","state":"offline","agent":"bob"}')), /^SIP\/2\.0 403[\s\S]*"code":"FORBIDDEN"/);
  // Call data: a malformed attribute set, and a call that is not alice's, are refused.
  assert.match(await send(message('{"type":"call-data","callId":"x","attributes":{"a b":"1"}}')), /^SIP\/2\.0 400[\s\S]*"code":"BAD_REQUEST"[\s\S]*not a valid key/);
  assert.match(await send(message('{"type":"call-data","callId":"nope","attributes":{"ticket":"T-1"}}')), /^SIP\/2\.0 404[\s\S]*"code":"NO_CALL"/);
  // Device mode: no SIP device registered, not in device mode, no such call, bad digits.
  assert.match(await send(message('{"type":"audio-route","route":"device"}')), /^SIP\/2\.0 409[\s\S]*"code":"INVALID_STATE"[\s\S]*no SIP device registered/);
  assert.match(await send(message('{"type":"device-dial","target":"bob"}')), /^SIP\/2\.0 409[\s\S]*"code":"INVALID_STATE"[\s\S]*needs device mode/);
  assert.match(await send(message('{"type":"device-call","callId":"nope","action":"answer"}')), /^SIP\/2\.0 404[\s\S]*"code":"NO_CALL"/);
  assert.match(await send(message('{"type":"device-call","callId":"nope","action":"dtmf","digits":"5;x"}')), /^SIP\/2\.0 400[\s\S]*"code":"BAD_REQUEST"[\s\S]*DTMF digits/);
  assert.match(await send(message('hello', 'text/plain')), /^SIP\/2\.0 415/);
  assert.equal(gw.gw.center.agents.get('alice')!.state, 'offline', 'nothing changed');
  // Each refusal is logged with its reason (at info, the level npm test runs at).
  assert.ok(logs.some((l) => l.scope === 'center' && /from alice refused: the body is not a JSON object/.test(l.message)));
  assert.ok(logs.some((l) => l.scope === 'center' && /command agent-state from alice refused: 400 BAD_REQUEST: command\.state: must be available/.test(l.message)));
  assert.ok(logs.some((l) => l.scope === 'center' && /command launch-rockets from alice refused: 400 UNKNOWN_COMMAND/.test(l.message)));
  assert.ok(logs.some((l) => l.scope === 'center' && /command call-data from alice refused: 400 BAD_REQUEST: command\.attributes: "a b" is not a valid key/.test(l.message)));
  assert.ok(logs.some((l) => l.scope === 'center' && /command device-call from alice refused: 404 NO_CALL: No call nope in progress/.test(l.message)));
  // The good one still works on the same connection, with the state in the reply.
  assert.match(await send(message('{"type":"hello"}')), /^SIP\/2\.0 200 OK[\s\S]*"reasons":\["break"/);
  ws!.close();
  // Without a token a MESSAGE is challenged like an INVITE.
  const { ws: anon } = await openWs('');
  const anonGot: string[] = [];
  anon!.on('message', (m) => anonGot.push(m.toString()));
  anon!.send(message('{"type":"hello"}'));
  for (let i = 0; i < 100 && !anonGot.length; i++) await new Promise((r) => setTimeout(r, 10));
  assert.match(anonGot[0] ?? '', /^SIP\/2\.0 407/);
  anon!.close();
});
