/**
 * The message classes of RFC 4475 (SIP torture tests) and RFC 5118 (IPv6 torture tests), fed as
 * raw datagrams through the whole stack (transport → transactions → core): valid odd messages are
 * parsed and answered as their method deserves; invalid ones get a precise 400 (or 505, 416,
 * 501) or, when no answer can be addressed, are dropped — never an exception.
 *
 * The messages follow the RFCs' examples (section numbers below), with Content-Length computed
 * here rather than copied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordingStack } from '../testing/sip-stack.js';
import type { SipRequest } from './message.js';
import { parseMessage } from './parser.js';

/** Joins lines with CRLF; `{CL}` becomes the body's length. */
function msg(lines: string[], body = ''): string {
  const head = lines.join('\r\n').replace('{CL}', String(Buffer.byteLength(body)));
  return `${head}\r\n\r\n${body}`;
}

const SDP = ['v=0', 'o=mhandley 29739 7272939 IN IP4 192.0.2.3', 's=-', 'c=IN IP4 192.0.2.4', 't=0 0', 'm=audio 49217 RTP/AVP 0 12', 'm=video 3227 RTP/AVP 31', 'a=rtpmap:31 LPC', ''].join('\r\n');

/** What the stack answered to one message (status and reason of the only response), or 'dropped'. */
function answer(text: string | Buffer): string {
  const s = recordingStack();
  s.feed(text);
  const res = s.responses().filter((r) => r.status !== 100);
  if (!res.length) return 'dropped';
  assert.equal(res.length, 1, `one final answer, got ${res.map((r) => r.status).join(', ')}`);
  return `${res[0]!.status} ${res[0]!.reason}`;
}

// §3.1.1.1 A short tortuous INVITE: folding everywhere, odd spacing, compact and mixed-case names.
const WSINV = msg([
  'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
  'TO :',
  ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
  'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
  '  ;',
  '  tag = 98asjd8',
  'MaX-fOrWaRdS: 0068',
  'Call-ID: wsinv.ndaksdj@192.0.2.1',
  'Content-Length   : {CL}',
  'cseq: 0009',
  '  INVITE',
  'Via  : SIP  /   2.0',
  ' /UDP',
  '    192.0.2.2;branch=390skdjuw',
  's :',
  'NewFangledHeader:   newfangled value',
  ' continued newfangled value',
  'UnknownHeaderWithUnusualValue: ;;,,;;,;',
  'Content-Type: application/sdp',
  'Route:',
  ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
  'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
  '  branch  =   z9hG4bK9ikj8  ,',
  ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
  ' z9hG4bK30239',
  'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
  '      newvalue ;',
  '  secondparam ; q = 0.33',
], SDP);

test('RFC 4475 §3.1.1.1 wsinv: the tortuous INVITE parses with every field where it belongs', () => {
  const r = parseMessage(WSINV);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  const m = r.message as SipRequest;
  assert.equal(m.method, 'INVITE');
  assert.equal(m.requestUri.host, 'chair-dnrc.example.com');
  assert.ok('unknownparam' in m.requestUri.params);
  assert.equal(m.toTag, '1918181833n');
  assert.equal(m.fromTag, '98asjd8');
  assert.equal(m.from.displayName, 'J Rosenberg \\"');
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.equal(Number(m.get('max-forwards')), 68);
  assert.equal(m.vias.length, 3);
  assert.equal(m.via.host, '192.0.2.2');
  assert.equal(m.vias[1]!.transport, 'TCP');
  assert.equal(m.vias[2]!.params.branch, 'z9hG4bK30239');
  assert.equal(m.get('newfangledheader'), 'newfangled value continued newfangled value');
  assert.equal(m.contacts[0]!.displayName, 'Quoted string ""');
  assert.equal(m.contacts[0]!.params.q, '0.33');
  assert.equal(m.body.toString(), SDP);
  // It carries a To tag for a dialog we do not have: §12.2.2 answers 481.
  assert.equal(answer(WSINV), '481 Call/Transaction Does Not Exist');
});

const valid: Array<[string, string, string]> = [
  // §3.1.1.3 esc01: %HEX escapes in user parts and URI parameters.
  ['§3.1.1.3 esc01 (escapes in URIs)', msg([
    'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
    'To: sip:%75se%72@example.com',
    'From: <sip:I%20have%20spaces@example.net>;tag=938',
    'Max-Forwards: 87',
    'i: esc01.239409asdfakjkn23onasd0-3234',
    'CSeq: 234234 INVITE',
    'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw',
    'C: application/sdp',
    'Contact:',
    '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
    'Content-Length: {CL}',
  ], SDP), '407 Proxy Authentication Required'],
  // §3.1.1.4 escnull: escaped NULs in URIs are data, not terminators.
  ['§3.1.1.4 escnull (escaped NUL)', msg([
    'REGISTER sip:example.com SIP/2.0',
    'To: sip:null-%00-null@example.com',
    'From: sip:null-%00-null@example.com;tag=839923423',
    'Max-Forwards: 70',
    'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd',
    'CSeq: 14398234 REGISTER',
    'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw',
    'Contact: <sip:%00@host5.example.com>',
    'Contact: <sip:%00%00@host5.example.com>',
    'L:0',
  ]), '401 Unauthorized'],
  // §3.1.1.5 esc02: % is not an escape in a method or header name: an unknown method.
  ['§3.1.1.5 esc02 (% in method and header names)', msg([
    'RE%47IST%45R sip:registrar.example.com SIP/2.0',
    'To: "%Z%45" <sip:resource@example.com>',
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
    'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf',
    'Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bKasdf',
    'CSeq: 3882340 RE%47IST%45R',
    'Max-Forwards: 70',
    'Contact: <sip:alias1@host1.example.com>',
    'C%6Fntact: <sip:alias2@host2.example.com>',
    'Contact: <sip:alias3@host3.example.com>',
    'l: 0',
  ]), '501 Not Implemented'],
  // §3.1.1.6 lwsdisp: no whitespace between display name and <.
  ['§3.1.1.6 lwsdisp (no LWS before <)', msg([
    'OPTIONS sip:user@example.com SIP/2.0',
    'To: sip:user@example.com',
    'From: caller<sip:caller@example.com>;tag=323',
    'Max-Forwards: 70',
    'Call-ID: lwsdisp.1234abcd@funky.example.com',
    'CSeq: 60 OPTIONS',
    'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw',
    'l: 0',
  ]), '200 OK'],
  // §3.1.1.9 semiuri: a ; inside the user part.
  ['§3.1.1.9 semiuri (; in the user part)', msg([
    'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0',
    'To: sip:j_user@example.com',
    'From: sip:caller@example.org;tag=33242',
    'Max-Forwards: 3',
    'Call-ID: semiuri.0ha0isndaksdj',
    'CSeq: 8 OPTIONS',
    'Accept: application/sdp, application/pkcs7-mime,',
    '        multipart/mixed, multipart/signed,',
    '        message/sip, message/sipfrag',
    'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw',
    'l: 0',
  ]), '200 OK'],
  // §3.1.1.10 transports: unknown transports in lower Vias are fine.
  ['§3.1.1.10 transports (SCTP, TLS, UNKNOWN in Via)', msg([
    'OPTIONS sip:user@example.com SIP/2.0',
    'To: sip:user@example.com',
    'From: <sip:caller@example.com>;tag=323',
    'Max-Forwards: 70',
    'Call-ID: transports.kijh4akdnaqjkwendsasfdj',
    'Accept: application/sdp',
    'CSeq: 60 OPTIONS',
    'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw',
    'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf',
    'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj',
    'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en',
    'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee',
    'l: 0',
  ]), '200 OK'],
  // §3.1.1.11 mpart01: a multipart body is opaque to the parser; a non-SDP INVITE body gets 415.
  ['§3.1.1.11 mpart01 (multipart body)', msg([
    'MESSAGE sip:kumiko@example.org SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport',
    'Max-Forwards: 70',
    'Route: <sip:127.0.0.1:5080>',
    'Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuL',
    'To: <sip:kumiko@example.org>',
    'From: <sip:fluffy@example.com>;tag=2fb0dcc9',
    'Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..',
    'CSeq: 1 MESSAGE',
    'Content-Transfer-Encoding: binary',
    'Content-Type: multipart/mixed;boundary=7a9cbec02ceef655',
    'Date: Sat, 15 Oct 2005 04:44:56 GMT',
    'User-Agent: SIPimp.org/0.2.5 (curses)',
    'Content-Length: {CL}',
  ], ['--7a9cbec02ceef655', 'Content-Type: text/plain', 'Content-Transfer-Encoding: binary', '', 'Hello', '--7a9cbec02ceef655--', ''].join('\r\n')), '405 Method Not Allowed'],
  // §3.1.1.12 unreason: a response with an unusual reason phrase is a response (no answer).
  ['§3.1.1.12 unreason (UTF-8 reason phrase)', msg([
    'SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое',
    'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923',
    'Call-ID: unreason.1234ksdfak3j2erwedfsASdf',
    'CSeq: 35 INVITE',
    'From: sip:user@example.com;tag=11141343',
    'To: sip:user@example.edu;tag=2229',
    'Content-Length: {CL}',
    'Content-Type: application/sdp',
    'Contact: <sip:user@host198.example.com>',
  ], SDP), 'dropped'],
  // §3.1.1.13 noreason: an empty reason phrase.
  ['§3.1.1.13 noreason (empty reason phrase)', msg([
    'SIP/2.0 100 ',
    'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe',
    'Call-ID: noreason.asndj203insdf99223ndf',
    'CSeq: 35 INVITE',
    'From: <sip:user@example.com>;tag=39ansfi3',
    'To: <sip:user@example.edu>;tag=902jndnke3',
    'Content-Length: 0',
    'Contact: <sip:user@host105.example.com>',
  ]), 'dropped'],
  // §3.1.1.8 dblreq: two requests in one datagram — only the first (Content-Length 0) counts.
  ['§3.1.1.8 dblreq (extra bytes after Content-Length)', msg([
    'REGISTER sip:example.com SIP/2.0',
    'To: sip:j.user@example.com',
    'From: sip:j.user@example.com;tag=43251j3j324',
    'Max-Forwards: 8',
    'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412',
    'Contact: sip:j.user@host.example.com',
    'CSeq: 8 REGISTER',
    'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492',
    'Content-Length: 0',
  ]) + msg(['INVITE sip:joe@example.com SIP/2.0', 't: sip:joe@example.com', 'From: sip:caller@example.net;tag=141334', 'Max-Forwards: 8', 'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15', 'CSeq: 8 INVITE', 'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234', 'Content-Type: application/sdp', 'Content-Length: {CL}'], SDP), '401 Unauthorized'],
  // §3.1.2.? unksm2-style: an unknown scheme in To is still a valid message.
  ['§3.1.1.? unknown scheme in To', msg([
    'OPTIONS sip:user@example.com SIP/2.0',
    'To: isbn:2983792873',
    'From: <http://www.example.com>;tag=3234233',
    'Call-ID: unksm2.daksdj@hyphenated-host.example.com',
    'CSeq: 234902 OPTIONS',
    'Max-Forwards: 70',
    'Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw',
    'l: 0',
  ]), '200 OK'],
  // RFC 5118 §4.1/§4.9: IPv6 references in Request-URI, Via (with received), Contact.
  ['RFC 5118 §4.1 IPv6 REGISTER', msg([
    'REGISTER sip:[2001:db8::10] SIP/2.0',
    'To: sip:user@example.com',
    'From: sip:user@example.com;tag=81x2',
    'Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111;received=[2001:db8::9:255]',
    'Call-ID: SSG9559905523997077@hlau_4100',
    'Max-Forwards: 70',
    'Contact: "Caller" <sip:caller@[2001:db8::1]>',
    'CSeq: 98176 REGISTER',
    'Content-Length: 0',
  ]), '401 Unauthorized'],
  ['RFC 5118 §4.3 IPv6 with port in brackets is an address, not a port', msg([
    'REGISTER sip:[2001:db8::10:5070] SIP/2.0',
    'To: sip:user@example.com',
    'From: sip:user@example.com;tag=1234',
    'Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3',
    'Call-ID: SSG95523997077@hlau_4100',
    'Max-Forwards: 70',
    'Contact: "Caller" <sip:caller@[2001:db8::1]>',
    'CSeq: 98176 REGISTER',
    'Content-Length: 0',
  ]), '401 Unauthorized'],
  // tel: Request-URIs are routed by number; other schemes get 416 (§8.2.2.1, RFC 4475 §3.3.? unksm).
  ['§3.1.2.? unksm (unknown Request-URI scheme)', msg([
    'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0',
    'To: sip:user@example.com',
    'From: sip:caller@example.net;tag=384',
    'Max-Forwards: 3',
    'Call-ID: unksm.239409asdfakjkn23onasd0-3234',
    'CSeq: 3923423 OPTIONS',
    'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234',
    'Content-Length: 0',
  ]), '416 Unsupported URI Scheme'],
];

for (const [name, text, expected] of valid) {
  test(`valid: ${name} → ${expected}`, () => {
    if (expected !== 'dropped') {
      const r = parseMessage(text);
      assert.ok(r.ok, `should parse: ${!r.ok ? r.reason : ''}`);
    }
    assert.equal(answer(text), expected);
  });
}

const OPT = (over: Record<string, string | null> = {}, start = 'OPTIONS sip:user@example.com SIP/2.0'): string => {
  const base: Record<string, string | null> = {
    To: 'sip:user@example.com', From: 'sip:caller@example.com;tag=1', 'Max-Forwards': '70', 'Call-ID': 'torture.1', CSeq: '1 OPTIONS',
    Via: 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'Content-Length': '0',
  };
  const h = { ...base, ...over };
  return msg([start, ...Object.entries(h).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)]);
};

const invalid: Array<[string, string | Buffer, string]> = [
  ['§3.1.2.2 clerr: Content-Length larger than the body', OPT({ 'Content-Length': '9999' }), '400 Content-Length larger than body'],
  ['§3.1.2.3 ncl: negative Content-Length', OPT({ 'Content-Length': '-999' }), '400 Bad Content-Length'],
  ['§3.1.2.4 scalar02: Max-Forwards over 255', OPT({ 'Max-Forwards': '300' }), '400 Bad Max-Forwards'],
  ['§3.1.2.4 scalarlg: CSeq over 2^32-1', OPT({ CSeq: '36893488147419103232 OPTIONS' }), '400 Bad CSeq header'],
  ['§3.1.2.5 quotbal: unbalanced quotes in a display name', OPT({ To: '"Mr. J. User <sip:j.user@example.com>' }), '400 Unbalanced quotes in display name'],
  ['§3.1.2.6 ltgtruri: <> around the Request-URI', OPT({}, 'INVITE <sip:user@example.com> SIP/2.0').replace('1 OPTIONS', '1 INVITE'), '400 Bad URI scheme: <sip'],
  ['§3.1.2.7 lwsruri: whitespace inside the Request-URI', OPT({}, 'OPTIONS sip:user@example.com; lr SIP/2.0'), 'dropped'],
  ['§3.1.2.8 lwsstart: several spaces between request-line elements', OPT({}, 'OPTIONS  sip:user@example.com  SIP/2.0'), '400 Malformed Request-Line'],
  ['§3.1.2.9 trws: trailing whitespace after the request line', OPT({}, 'OPTIONS sip:user@example.com SIP/2.0  '), '400 Malformed Request-Line'],
  ['§3.1.2.10 escruri: headers in the Request-URI', OPT({}, 'OPTIONS sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0'), '400 Request-URI must not contain headers'],
  ['§3.1.2.14 baddn: unquoted display name with a comma', OPT({ From: 'Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43' }), '400 Display name must be quoted'],
  ['§3.1.2.15 badvers: SIP/7.0', OPT({}, 'OPTIONS sip:t.watson@example.org SIP/7.0'), '505 Version Not Supported'],
  ['§3.1.2.16 mismatch01: CSeq method differs from the request', OPT({ CSeq: '1 INVITE' }), '400 CSeq method does not match request method'],
  ['§3.1.2.18 bigcode: a status code out of range is dropped', msg(['SIP/2.0 4294967301 better not break the receiver', 'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe', 'Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i', 'CSeq: 353494 INVITE', 'From: <sip:user@example.com>;tag=39ansfi3', 'To: <sip:user@example.edu>;tag=902jndnke3', 'Content-Length: 0']), 'dropped'],
  ['§3.3.? insuf: missing Call-ID, From, To', msg(['INVITE sip:user@example.com SIP/2.0', 'CSeq: 193942 INVITE', 'Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf', 'Content-Length: 0']), 'dropped'],
  ['RFC 5118 §4.4: an IPv6 address without brackets', OPT({}, 'OPTIONS sip:user@2001:db8::10 SIP/2.0'), '400 Bad URI host: 2001:db8:'],
  ['NUL in the message head (deliberate: refused outright)', OPT({ To: 'sip:user@exa\0mple.com' }), 'dropped'],
  ['folded Via with a broken header line', OPT({ 'Bad Header': 'x' }), '400 Bad header name: Bad Header'],
  ['a message over 64 KiB', Buffer.concat([Buffer.from(OPT()), Buffer.alloc(70_000, 0x41)]), 'dropped'],
];

for (const [name, text, expected] of invalid) {
  test(`invalid: ${name} → ${expected}`, () => {
    const r = parseMessage(text);
    assert.equal(r.ok, false, 'must not parse as valid');
    assert.equal(answer(text), expected);
  });
}

test('the stack keeps serving after every invalid message above', () => {
  const s = recordingStack();
  for (const [, text] of invalid) s.feed(text);
  s.feed(OPT({ 'Call-ID': 'after-the-storm' }));
  assert.equal(s.responses().at(-1)!.status, 200);
});
