/**
 * SIP layer benchmark: parse rate, whole-stack request rate, and memory per transaction.
 *
 *   npm run bench:sip            (node --expose-gc --import tsx bench/sip.ts)
 *
 * Single thread, in process, no sockets: this measures our code, not the kernel. Prints one line
 * per figure; `--json` prints them as JSON.
 */
import { FakeClock, systemClock } from '../gateway/src/util/clock.js';
import { setLogSink } from '../gateway/src/util/log.js';
import { parseMessage } from '../gateway/src/sip/parser.js';
import { createResponse, SipRequest } from '../gateway/src/sip/message.js';
import { TransactionLayer } from '../gateway/src/sip/transaction/layer.js';
import { FakeSender } from '../gateway/src/testing/fake-sender.js';
import { recordingStack } from '../gateway/src/testing/sip-stack.js';

const CRLF = '\r\n';
const SDP = ['v=0', 'o=- 4858 4858 IN IP4 192.0.2.9', 's=-', 'c=IN IP4 192.0.2.9', 't=0 0', 'm=audio 40000 RTP/AVP 0 8 101', 'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv', ''].join(CRLF);
const INVITE = ['INVITE sip:1002@gw.example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK776asdhds;rport', 'Max-Forwards: 70',
  'From: "Alice" <sip:alice@gw.example.com>;tag=1928301774', 'To: <sip:1002@gw.example.com>', 'Call-ID: a84b4c76e66710@192.0.2.9', 'CSeq: 314159 INVITE',
  'Contact: <sip:alice@192.0.2.9:5060>', 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS', 'User-Agent: Yealink SIP-T46S 66.86.0.15',
  'Proxy-Authorization: Digest username="alice", realm="switchboard", nonce="lx2k3.9f8e7d6c5b4a.AbCdEfGhIjKlMnOpQrStUv", uri="sip:1002@gw.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"',
  'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join(CRLF);
const REGISTER = ['REGISTER sip:gw.example.com SIP/2.0', 'Via: SIP/2.0/TCP 192.0.2.9:50123;branch=z9hG4bKnashds7;rport', 'Max-Forwards: 70',
  'From: <sip:alice@gw.example.com>;tag=a73kszlfl', 'To: <sip:alice@gw.example.com>', 'Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.9', 'CSeq: 2 REGISTER',
  'Contact: <sip:alice@192.0.2.9:50123;transport=tcp>;expires=600', 'User-Agent: baresip v1.0.0', 'Content-Length: 0', '', ''].join(CRLF);
const RESPONSE = ['SIP/2.0 200 OK', 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKgw8812;rport=5060', 'From: <sip:alice@gw.example.com>;tag=1928301774',
  'To: <sip:1002@gw.example.com>;tag=a6c85cf', 'Call-ID: a84b4c76e66710@192.0.2.9', 'CSeq: 314159 INVITE', 'Contact: <sip:bob@192.0.2.4>',
  'Content-Type: application/sdp', `Content-Length: ${SDP.length}`, '', SDP].join(CRLF);

const json = process.argv.includes('--json');
const results: Record<string, number | string> = {};
function report(name: string, value: number, unit: string): void {
  results[name] = Math.round(value * 10) / 10;
  if (!json) console.log(`${name.padEnd(44)} ${value.toLocaleString('en-US', { maximumFractionDigits: 1 }).padStart(14)} ${unit}`);
}

function rate(fn: () => void, minMs = 1500): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

setLogSink(() => undefined);
if (!globalThis.gc) console.warn('(run with --expose-gc for stable memory figures)');

// 1. Parsing.
const bufs = { INVITE: Buffer.from(INVITE), REGISTER: Buffer.from(REGISTER), '200 OK': Buffer.from(RESPONSE) };
for (const [name, buf] of Object.entries(bufs)) {
  report(`parse ${name} (${buf.length} B)`, rate(() => parseMessage(buf)), 'msg/s');
}
const parsed = parseMessage(bufs.INVITE);
if (!parsed.ok) throw new Error('bench corpus does not parse');
report('parse + serialize INVITE', rate(() => {
  const r = parseMessage(bufs.INVITE);
  if (r.ok) r.message.toBuffer();
}), 'msg/s');

// 2. The whole stack: datagram → parse → transaction → core → response (OPTIONS, each a new transaction).
{
  const s = recordingStack(systemClock);
  let n = 0;
  const opts = (i: number) => Buffer.from(['OPTIONS sip:gw.example.com SIP/2.0', `Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKb${i};rport`, 'Max-Forwards: 70',
    'From: <sip:probe@example.com>;tag=p1', 'To: <sip:gw.example.com>', `Call-ID: bench-${i}`, `CSeq: ${i % 1000 + 1} OPTIONS`, 'Content-Length: 0', '', ''].join(CRLF));
  const r = rate(() => {
    s.feed(opts(n++));
    if (s.wire.length > 10_000) s.wire.length = 0;
  });
  report('stack: OPTIONS in → 200 out', r, 'req/s');
}

// 3. Memory per transaction: N live server and client transactions (UDP, so their timers are set).
{
  const N = 20_000;
  const clock = new FakeClock();
  const sender = new FakeSender(clock);
  const txl = new TransactionLayer(sender, clock);
  const servers: Array<{ respond(r: import('../gateway/src/sip/message.js').SipResponse): void; request: SipRequest }> = [];
  txl.user = { onRequest: (_req, tx) => void (tx && servers.push(tx)) };
  const before = heapUsed();
  for (let i = 0; i < N; i++) {
    const r = parseMessage(Buffer.from(INVITE.replace('z9hG4bK776asdhds', `z9hG4bKsrv${i}`)));
    if (r.ok) txl.receive(r.message, { transport: 'UDP', address: '192.0.2.9', port: 5060, flowId: 'udp' });
  }
  const serverBytes = (heapUsed() - before) / N;
  const mid = heapUsed();
  for (let i = 0; i < N; i++) {
    const req = new SipRequest('OPTIONS', 'sip:pbx.example.com');
    req.add('max-forwards', 70).add('from', '<sip:gw@example.com>;tag=g1').add('to', '<sip:pbx.example.com>').add('call-id', `c${i}`).add('cseq', '1 OPTIONS');
    txl.request(req, { transport: 'UDP', host: '198.51.100.1', port: 5060 }, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
  }
  const clientBytes = (heapUsed() - mid) / N;
  report(`memory per INVITE server tx (${N.toLocaleString('en-US')} live, with its request)`, serverBytes, 'B');
  report(`memory per non-INVITE client tx (${N.toLocaleString('en-US')} live)`, clientBytes, 'B');
  // Answer the INVITEs (486) and let every timer run: nothing may be left.
  for (const tx of servers) tx.respond(createResponse(tx.request, 486));
  clock.advance(64 * 500 + 10_000);
  report('transactions left after 64·T1', txl.size.clients + txl.size.servers, '');
}

if (json) console.log(JSON.stringify(results, null, 2));
