import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SipRequest, SipResponse, createResponse } from './message.js';
import { parseMessage, StreamFramer } from './parser.js';
import { parseUri, parseNameAddr, formatUri } from './uri.js';

const INVITE = [
  'INVITE sip:bob@example.com;transport=udp SIP/2.0',
  'Via: SIP/2.0/UDP pc33.example.com:5066;branch=z9hG4bK776asdhds;rport, SIP/2.0/TCP proxy.example.com;branch=z9hG4bKa',
  'v: SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bKbb',
  'Max-Forwards: 70',
  't: Bob <sip:bob@example.com>',
  'f: "Alice, the agent" <sip:alice@example.com>;tag=1928301774',
  'i: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'm: <sip:alice@pc33.example.com>',
  'Subject: folded',
  '  across lines',
  'c: application/sdp',
  'l: 4',
  '',
  'v=0\r\n',
].join('\r\n');

test('parses a request with compact headers, folding, list splitting and IPv6', () => {
  const r = parseMessage(INVITE);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  const m = r.message as SipRequest;
  assert.equal(m.method, 'INVITE');
  assert.equal(m.requestUri.user, 'bob');
  assert.equal(m.requestUri.params.transport, 'udp');
  assert.equal(m.vias.length, 3);
  assert.equal(m.via.host, 'pc33.example.com');
  assert.equal(m.via.port, 5066);
  assert.equal(m.via.params.rport, null);
  assert.equal(m.vias[2]!.host, '[2001:db8::1]');
  assert.equal(m.from.displayName, 'Alice, the agent');
  assert.equal(m.fromTag, '1928301774');
  assert.equal(m.toTag, undefined);
  assert.equal(m.callId, 'a84b4c76e66710@pc33.example.com');
  assert.deepEqual(m.cseq, { seq: 314159, method: 'INVITE' });
  assert.equal(m.get('subject'), 'folded across lines');
  assert.equal(m.body.toString(), 'v=0\r'); // Content-Length: 4 cuts the datagram's body
});

test('Content-Length truncates a datagram body; serialization round-trips', () => {
  const r = parseMessage(INVITE + 'extra');
  assert.ok(r.ok);
  assert.equal(r.message.body.length, 4);
  const again = parseMessage(r.message.toBuffer());
  assert.ok(again.ok);
  assert.equal(again.message.toString(), r.message.toString());
  assert.match(r.message.toString(), /\r\nCall-ID: a84b/);
});

test('parses responses and builds responses per RFC 3261 §8.2.6', () => {
  const req = (parseMessage(INVITE) as { message: SipRequest }).message;
  const res = createResponse(req, 180, undefined, 'xyz');
  assert.equal(res.getAll('via').length, 3);
  assert.equal(res.toTag, 'xyz');
  const parsed = parseMessage(res.toBuffer());
  assert.ok(parsed.ok);
  assert.equal((parsed.message as SipResponse).status, 180);
  assert.equal((parsed.message as SipResponse).reason, 'Ringing');
});

const bad: Array<[string, string, boolean]> = [
  ['Malformed start line', 'HELLO\r\n\r\n', false],
  ['Version Not Supported', 'INVITE sip:a@b SIP/3.0\r\n\r\n', false],
  ['Missing Via header', INVITE.replace(/^Via:.*\r\n/m, '').replace(/^v:.*\r\n/m, ''), false],
  ['Bad CSeq header', INVITE.replace('CSeq: 314159 INVITE', 'CSeq: INVITE'), true],
  ['CSeq number out of range', INVITE.replace('314159', '4294967296'), true],
  ['CSeq method does not match request method', INVITE.replace('314159 INVITE', '314159 BYE'), true],
  ['Bad Content-Length', INVITE.replace('l: 4', 'l: -1'), true],
  ['Content-Length larger than body', INVITE.replace('l: 4', 'l: 400'), true],
  ['Conflicting Content-Length headers', INVITE.replace('l: 4', 'l: 4\r\nContent-Length: 5'), true],
  ['Bad URI host', INVITE.replace('INVITE sip:bob@example.com;transport=udp', 'INVITE sip:bob@exa$mple.com'), true],
  ['Bad URI scheme', INVITE.replace('t: Bob <sip:bob@example.com>', 't: <s*ip:bob@example.com>'), true],
  ['Bad header name', INVITE.replace('Max-Forwards: 70', 'Max Forwards: 70'), true],
  ['Unterminated <URI>', INVITE.replace('t: Bob <sip:bob@example.com>', 't: Bob <sip:bob@example.com'), true],
  ['NUL byte in message head', INVITE.replace('Max-Forwards', 'Max-\0Forwards'), false],
];
for (const [reason, text, answerable] of bad) {
  test(`rejects: ${reason}`, () => {
    const r = parseMessage(text);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.ok(r.reason.startsWith(reason), `${r.reason} should start with ${reason}`);
      assert.equal(!!r.request, answerable, 'whether a 400 can be sent');
    }
  });
}

test('limits: message size and header count', () => {
  assert.deepEqual(parseMessage(Buffer.alloc(70_000, 65)), { ok: false, reason: 'Message Too Large' });
  const many = INVITE.replace('Max-Forwards: 70', Array.from({ length: 300 }, (_, i) => `X-H${i}: v`).join('\r\n'));
  const r = parseMessage(many);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'Too many headers');
});

test('never throws on mutated input', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const base = Buffer.from(INVITE);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(base);
    const n = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const cut = rnd() < 0.2 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
    assert.doesNotThrow(() => {
      const r = parseMessage(cut);
      if (r.ok) r.message.toBuffer();
    });
  }
});

test('stream framer: partial chunks, several messages, keep-alive pings, missing Content-Length', () => {
  const f = new StreamFramer();
  const msg = Buffer.from(INVITE);
  const a = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), msg.subarray(0, 10)]));
  assert.deepEqual([a.messages.length, a.pings], [0, 1]);
  const b = f.push(Buffer.concat([msg.subarray(10), msg]));
  assert.equal(b.messages.length, 2);
  assert.ok(b.messages.every((m) => parseMessage(m).ok));
  const c = new StreamFramer().push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n'));
  assert.equal(c.error, 'Missing Content-Length on stream transport');
});

test('URIs: parse, escape, IPv6, params, name-addr forms', () => {
  const u = parseUri('sips:alice%20smith:pw@[2001:db8::1]:5061;transport=tls;lr?subject=x');
  assert.equal(u.scheme, 'sips');
  assert.equal(u.user, 'alice smith');
  assert.equal(u.password, 'pw');
  assert.equal(u.host, '[2001:db8::1]');
  assert.equal(u.port, 5061);
  assert.deepEqual(u.params, { transport: 'tls', lr: null });
  assert.equal(formatUri(u), 'sips:alice%20smith:pw@[2001:db8::1]:5061;transport=tls;lr?subject=x');
  // addr-spec form: ;tag belongs to the header, not the URI (RFC 3261 §20.10)
  const na = parseNameAddr('sip:bob@b.example;tag=77');
  assert.equal(na.params.tag, '77');
  assert.deepEqual(na.uri.params, {});
  assert.throws(() => parseUri('sip:bob@b.example:99999'));
});

test('stream framer: pings coalesced into one chunk or split across two are each counted', () => {
  const f = new StreamFramer();
  assert.equal(f.push(Buffer.from('\r\n\r\n\r\n\r\n')).pings, 2, 'two pings in one TCP segment');
  assert.equal(f.push(Buffer.from('\r\n')).pings, 0, 'half a ping');
  assert.equal(f.push(Buffer.from('\r\n')).pings, 1, 'the other half completes it');
  const r = f.push(Buffer.from('\r\n' + INVITE));
  assert.equal(r.pings, 0, 'a stray CRLF before a message is no ping');
  assert.equal(r.messages.length, 1);
});
