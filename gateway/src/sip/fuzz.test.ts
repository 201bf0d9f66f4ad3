/**
 * Property-based fuzzing (fast-check) of the parser and of the whole SIP stack with mutated
 * messages: byte flips, insertions of SIP-significant characters, deletions, truncation,
 * duplicated and swapped lines, huge values. Properties:
 *  - the parser never throws, and whatever it accepts serializes to something it accepts again;
 *  - the stack never reaches its last-resort error handler (no exception escapes a layer);
 *  - every request it accepts is answered (or is an ACK, which never is), every answerable bad
 *    one gets a 4xx/5xx, and the rest are dropped;
 *  - memory stays bounded: after 64·T1 every transaction has ended and nothing else grew.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { recordingStack } from '../testing/sip-stack.js';
import { setLogSink, type LogRecord } from '../util/log.js';
import { parseMessage } from './parser.js';

const CRLF = '\r\n';
const lines = (l: string[], body = '') => l.join(CRLF).replace('{CL}', String(Buffer.byteLength(body))) + CRLF + CRLF + body;
const SDP = ['v=0', 'o=- 1 1 IN IP4 192.0.2.9', 's=-', 'c=IN IP4 192.0.2.9', 't=0 0', 'm=audio 4000 RTP/AVP 0 8', 'a=rtpmap:0 PCMU/8000', ''].join(CRLF);

/** Seeds: one of each message the gateway meets, with the features mutations should hit. */
const CORPUS = [
  lines(['INVITE sip:1002@gw.example.com;transport=udp SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfz1;rport', 'Max-Forwards: 70',
    'From: "Alice \\"A\\"" <sip:alice@gw.example.com>;tag=a1', 'To: <sip:1002@gw.example.com>', 'Call-ID: fz1@192.0.2.9', 'CSeq: 1 INVITE',
    'Contact: <sip:alice@192.0.2.9:5060>', 'Content-Type: application/sdp', 'Content-Length: {CL}'], SDP),
  lines(['REGISTER sip:gw.example.com SIP/2.0', 'v: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKfz2', 'Max-Forwards: 70', 'f: <sip:alice@gw.example.com>;tag=r1',
    't: <sip:alice@gw.example.com>', 'i: fz2', 'CSeq: 7 REGISTER', 'm: <sip:alice@[2001:db8::9]:5060;transport=udp>;expires=300, <sip:alice@192.0.2.9>;q=0.5',
    'Authorization: Digest username="alice", realm="switchboard", nonce="abc.def.ghi", uri="sip:gw.example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"', 'l: 0']),
  lines(['OPTIONS sip:gw.example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKfz3', 'Max-Forwards: 70', 'From: sip:probe@example.com;tag=o1', 'To: sip:gw.example.com',
    'Call-ID: fz3', 'CSeq: 1 OPTIONS', 'Subject: folded', '  value', 'Content-Length: 0']),
  lines(['BYE sip:switchboard@192.0.2.1 SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKfz4', 'Max-Forwards: 70', 'From: <sip:alice@gw>;tag=a1', 'To: <sip:bob@gw>;tag=b1',
    'Call-ID: fz4', 'CSeq: 2 BYE', 'Content-Length: 0']),
  lines(['CANCEL sip:1002@gw.example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfz1;rport', 'Max-Forwards: 70', 'From: <sip:alice@gw.example.com>;tag=a1',
    'To: <sip:1002@gw.example.com>', 'Call-ID: fz1@192.0.2.9', 'CSeq: 1 CANCEL', 'Content-Length: 0']),
  lines(['ACK sip:1002@gw.example.com SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfz1', 'Max-Forwards: 70', 'From: <sip:alice@gw.example.com>;tag=a1',
    'To: <sip:1002@gw.example.com>;tag=t1', 'Call-ID: fz1@192.0.2.9', 'CSeq: 1 ACK', 'Content-Length: 0']),
  lines(['SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKgw1', 'From: <sip:alice@gw>;tag=a1', 'To: <sip:bob@gw>;tag=b1', 'Call-ID: fz5', 'CSeq: 1 INVITE', 'Content-Length: 0']),
  lines(['MESSAGE sip:bob@gw SIP/2.0', 'Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKfz6', 'Max-Forwards: 70', 'From: tel:+15551234567;tag=m1', 'To: <sip:bob@gw>', 'Call-ID: fz6',
    'CSeq: 1 MESSAGE', 'Content-Type: multipart/mixed;boundary=xyz', 'Content-Length: {CL}'], '--xyz\r\nContent-Type: text/plain\r\n\r\nhi\r\n--xyz--\r\n'),
];

/** Characters that matter to a SIP parser. */
const SPECIAL = [':', ';', ',', '"', '\\', '<', '>', '@', '[', ']', '=', ' ', '\t', '\r', '\n', '\r\n', '\r\n ', '\0', '%', '%0', '\u00ff', '\u{1F600}'];

type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'dupLine'; line: number }
  | { kind: 'swapLines'; a: number; b: number }
  | { kind: 'hugeValue'; line: number; size: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 12 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dupLine' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('hugeValue' as const), line: fc.nat(), size: fc.integer({ min: 100, max: 80_000 }) }),
);

function apply(seed: string, muts: Mutation[]): Buffer {
  let buf = Buffer.from(seed, 'utf8');
  for (const m of muts) {
    const at = buf.length ? m.kind === 'dupLine' || m.kind === 'swapLines' || m.kind === 'hugeValue' ? 0 : (m as { at: number }).at % (buf.length + 1) : 0;
    switch (m.kind) {
      case 'flip':
        if (buf.length) buf[at % buf.length] = m.byte;
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.text, 'utf8'), buf.subarray(at)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
      default: {
        const ls = buf.toString('latin1').split(CRLF);
        if (m.kind === 'dupLine') ls.splice(m.line % ls.length, 0, ls[m.line % ls.length]!);
        else if (m.kind === 'swapLines') {
          const a = m.a % ls.length;
          const b = m.b % ls.length;
          [ls[a], ls[b]] = [ls[b]!, ls[a]!];
        } else ls[m.line % ls.length] += 'x'.repeat(m.size);
        buf = Buffer.from(ls.join(CRLF), 'latin1');
      }
    }
  }
  return buf;
}

const mutated = fc.tuple(fc.constantFrom(...CORPUS), fc.array(mutation, { minLength: 1, maxLength: 5 })).map(([seed, muts]) => apply(seed, muts));

/** Silences the logger for a run and returns the records (so error-level ones can be asserted on). */
function captureLogs<T>(fn: () => T): { result: T; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const prev = setLogSink((r) => records.push(r));
  try {
    return { result: fn(), records };
  } finally {
    setLogSink(prev);
  }
}

test('parser: never throws on mutated messages; anything accepted round-trips', () => {
  fc.assert(
    fc.property(mutated, (data) => {
      const r = parseMessage(data);
      if (!r.ok) {
        assert.ok(r.reason.length > 0 && r.reason.length < 200, 'a short, non-empty reason');
        assert.ok(!/[\r\n]/.test(r.reason), 'a reason that fits in a status line');
        return;
      }
      const again = parseMessage(r.message.toBuffer());
      assert.ok(again.ok, `serialized form must parse again: ${!again.ok ? again.reason : ''}`);
      assert.equal(again.message.toString(), r.message.toString());
    }),
    { numRuns: 4000, seed: 20261122 },
  );
});

test('stack: mutated traffic never escapes a layer, every request is answered or dropped by rule, memory stays bounded', () => {
  fc.assert(
    fc.property(fc.array(mutated, { minLength: 1, maxLength: 25 }), (datagrams) => {
      const { records } = captureLogs(() => {
        const s = recordingStack();
        let expectAnswers = 0;
        for (const d of datagrams) {
          const before = s.responses().length;
          s.feed(d);
          const parsed = parseMessage(d);
          const answered = s.responses().length > before;
          if (parsed.ok && parsed.message.isRequest) {
            // A new request is answered at once (100 Trying for INVITE); retransmissions and
            // ACKs may legitimately be absorbed by their transaction.
            if (parsed.message.method !== 'ACK' && !answered) {
              const key = parsed.message.via.params.branch;
              const seen = datagrams.slice(0, datagrams.indexOf(d)).some((p) => {
                const q = parseMessage(p);
                return q.ok && q.message.isRequest && q.message.via.params.branch === key;
              });
              assert.ok(seen, `request ${parsed.message.method} was neither answered nor a retransmission`);
            }
            if (parsed.message.method !== 'ACK') expectAnswers++;
          } else if (!parsed.ok && parsed.request) {
            assert.ok(answered, `answerable bad request (${parsed.reason}) got no ${parsed.status ?? 400}`);
            assert.ok([400, 505].includes(s.responses().at(-1)!.status!));
          }
        }
        // Let every timer run out: transactions end, nothing lingers (64·T1 = 32 s, plus Timer I/K).
        s.clock.advance(40_000);
        assert.deepEqual(s.txl.size, { clients: 0, servers: 0 }, 'all transactions terminated');
        assert.equal(s.core.dialogCount, 0, 'no dialog was created by junk');
        assert.ok(s.core.registrar.aors.length <= datagrams.length);
        assert.ok(s.responses().length >= 0 && expectAnswers >= 0);
      });
      const escaped = records.filter((r) => r.level === 'error');
      assert.deepEqual(escaped.map((r) => `${r.scope}: ${r.message} ${r.detail instanceof Error ? r.detail.stack : ''}`), [], 'nothing reached a last-resort error handler');
    }),
    { numRuns: 600, seed: 20261122 },
  );
});
