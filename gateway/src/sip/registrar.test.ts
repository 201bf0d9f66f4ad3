import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../util/clock.js';
import { SipRequest } from './message.js';
import { Registrar } from './registrar.js';
import type { Source } from './transport/types.js';

const SRC: Source = { transport: 'UDP', address: '198.51.100.7', port: 40000, flowId: 'udp' };
const WS: Source = { transport: 'WS', address: '127.0.0.1', port: 50000, flowId: 'ws-1' };

function register(contacts: string[], expires?: string, cseq = 1, callId = 'reg-1'): SipRequest {
  const r = new SipRequest('REGISTER', 'sip:switchboard');
  r.add('via', 'SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKr');
  r.add('from', '<sip:bob@switchboard>;tag=1');
  r.add('to', '<sip:bob@switchboard>');
  r.add('call-id', callId);
  r.add('cseq', `${cseq} REGISTER`);
  for (const c of contacts) r.add('contact', c);
  if (expires !== undefined) r.add('expires', expires);
  return r;
}

function setup() {
  const clock = new FakeClock();
  const reg = new Registrar({ clock, minExpires: 60, maxExpires: 3600, defaultExpires: 600 });
  const events: string[] = [];
  reg.on('registered', (b) => events.push(`+${b.aor}`));
  reg.on('unregistered', (b, why) => events.push(`-${b.aor}:${why}`));
  return { clock, reg, events };
}

test('binds a contact, remembers the flow it came from, and expires it', () => {
  const { clock, reg, events } = setup();
  const r = reg.register('bob', register(['<sip:bob@10.0.0.2:5060>'], '120'), SRC);
  assert.equal(r.status, 200);
  const [b] = reg.lookup('bob');
  assert.deepEqual(b!.target, { transport: 'UDP', host: '198.51.100.7', port: 40000, flowId: 'udp' }, 'NAT: the source address, not the Contact');
  assert.equal(b!.webrtc, false);
  assert.deepEqual(reg.contactHeaders(reg.lookup('bob')), ['<sip:bob@10.0.0.2:5060>;expires=120']);
  clock.advance(119_999);
  assert.equal(reg.lookup('bob').length, 1);
  clock.advance(1);
  assert.equal(reg.lookup('bob').length, 0);
  assert.deepEqual(events, ['+bob', '-bob:expired']);
});

test('refresh keeps one binding; contact expires param wins; max is clamped', () => {
  const { clock, reg, events } = setup();
  reg.register('bob', register(['<sip:bob@10.0.0.2>;expires=7200']), SRC);
  clock.advance(1000);
  reg.register('bob', register(['<sip:bob@10.0.0.2>'], '300', 2), SRC);
  assert.equal(reg.lookup('bob').length, 1);
  assert.deepEqual(events, ['+bob']);
  assert.deepEqual(reg.contactHeaders(reg.lookup('bob')), ['<sip:bob@10.0.0.2>;expires=300']);
  const r = reg.register('bob', register(['<sip:bob@10.0.0.3>;expires=9999'], undefined, 3), SRC);
  assert.equal(r.status, 200);
  assert.match(reg.contactHeaders(reg.lookup('bob')).join(), /expires=3600/);
});

test('423 Interval Too Brief below Min-Expires', () => {
  const { reg } = setup();
  assert.deepEqual(reg.register('bob', register(['<sip:bob@10.0.0.2>'], '30'), SRC), { status: 423, minExpires: 60 });
  assert.equal(reg.lookup('bob').length, 0);
});

test('Expires 0 removes one contact; "*" removes all; "*" needs Expires 0', () => {
  const { reg } = setup();
  reg.register('bob', register(['<sip:bob@10.0.0.2>', '<sip:bob@10.0.0.3>']), SRC);
  assert.equal(reg.lookup('bob').length, 2);
  reg.register('bob', register(['<sip:bob@10.0.0.2>'], '0', 2), SRC);
  assert.equal(reg.lookup('bob').length, 1);
  assert.equal(reg.register('bob', register(['*'], '60', 3), SRC).status, 400);
  assert.equal(reg.register('bob', register(['*'], '0', 4), SRC).status, 200);
  assert.equal(reg.lookup('bob').length, 0);
});

test('an older CSeq for the same Call-ID does not override (§10.3 step 7)', () => {
  const { reg } = setup();
  reg.register('bob', register(['<sip:bob@10.0.0.2>'], '600', 5), SRC);
  reg.register('bob', register(['<sip:bob@10.0.0.2>'], '0', 4), SRC);
  assert.equal(reg.lookup('bob').length, 1);
});

test('WebSocket bindings are WebRTC and vanish when their connection closes', () => {
  const { reg, events } = setup();
  reg.register('bob', register(['<sip:x@df7jal23ls0d.invalid;transport=ws>']), WS);
  assert.equal(reg.lookup('bob')[0]!.webrtc, true);
  reg.flowClosed('ws-1');
  assert.equal(reg.lookup('bob').length, 0);
  assert.deepEqual(events, ['+bob', '-bob:flow-closed']);
});

test('bad Expires and bad Contact are 400', () => {
  const { reg } = setup();
  assert.deepEqual(reg.register('bob', register(['<sip:bob@10.0.0.2>'], 'soon'), SRC), { status: 400, reason: 'Bad Expires' });
  assert.deepEqual(reg.register('bob', register(['<sip:bob@>']), SRC), { status: 400, reason: 'Bad Contact header' });
  assert.deepEqual(reg.register('bob', register(['<mailto:bob@x>']), SRC), { status: 400, reason: 'Contact must be a SIP URI' });
});

test('at most 10 contacts per AOR: the 11th replaces the oldest (or is refused by policy); the 200 OK stays small', () => {
  const { clock, reg } = setup();
  for (let i = 0; i < 5_760; i++) {
    reg.register('bob', register([`<sip:bob@10.0.${i >> 8}.${i & 255}:5060>`], '600', i + 1, `reg-${i}`), SRC);
    clock.advance(10);
  }
  const list = reg.lookup('bob');
  assert.equal(list.length, 10, 'capped at 10');
  assert.ok(list.some((b) => b.contact.uri.host === '10.0.22.127'), 'the newest is kept');
  assert.ok(reg.contactHeaders(list).join('\r\n').length < 1300, 'the 200 OK fits a datagram');
  const strict = new Registrar({ clock, minExpires: 60, maxExpires: 3600, defaultExpires: 600, maxContacts: 2, contactLimitPolicy: 'reject' });
  strict.register('bob', register(['<sip:bob@10.0.0.1>'], '600', 1, 'a'), SRC);
  strict.register('bob', register(['<sip:bob@10.0.0.2>'], '600', 1, 'b'), SRC);
  assert.deepEqual(strict.register('bob', register(['<sip:bob@10.0.0.3>'], '600', 1, 'c'), SRC), { status: 403, reason: 'Too Many Registrations (at most 2)' });
  assert.equal(strict.register('bob', register(['<sip:bob@10.0.0.2>'], '600', 2, 'b'), SRC).status, 200, 'refreshing an existing contact is fine');
});
