/**
 * The shared protocol's parsers: a message with fields a reader does not know is still read
 * (a newer gateway), a malformed one is rejected with the field and the reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CALL_DATA_LIMITS, decodeCallData, encodeCallData, parseAgentStatus, parseAttributes, parseCallData, parseCenterCommand, parseCenterStatistics, parseControlMessage, parseGatewayEvent, ProtocolError } from './index.js';

const agent = { username: 'alice', state: 'on-call', since: 1, skills: { support: 5 }, callsHandled: 2, averageHandleMs: 1000, version: 7, callId: 'c-1' };
const queue = { name: 'support', waiting: 1, longestWaitMs: 10, entered: 3, answered: 2, abandoned: 0, overflowed: 0, answeredWithinSl: 2, serviceLevelSeconds: 20, serviceLevel: 100, averageWaitMs: 5, agentsAvailable: 1, agentsStaffed: 2 };

test('an agent event with fields the reader does not know is read; the unknown fields are dropped', () => {
  const ev = parseGatewayEvent({ type: 'agent', agent: { ...agent, mood: 'great', skills: { support: 5, x: 'nan' } }, extra: [1] });
  assert.deepEqual(ev, { type: 'agent', agent: { ...agent, skills: { support: 5 } } });
});

test('callId travels (it was missing from the SDK\'s hand copy of the type)', () => {
  assert.equal(parseAgentStatus(agent).callId, 'c-1');
});

test('statistics are read with every queue and agent; an event type from a newer gateway is ignored', () => {
  const stats = parseCenterStatistics({ at: 5, queues: [queue], agents: [{ ...agent, timeInStateMs: 3 }] });
  assert.equal(stats.queues[0]!.serviceLevel, 100);
  assert.equal(stats.agents[0]!.timeInStateMs, 3);
  assert.equal(parseGatewayEvent({ type: 'weather', sunny: true }), undefined);
  assert.deepEqual(parseGatewayEvent({ type: 'gateway', state: 'draining', deadline: 9 }), { type: 'gateway', state: 'draining', deadline: 9 });
});

test('malformed messages are rejected with the field and the reason', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /event: expected an object/],
    [{ type: 7 }, /event\.type: expected a string/],
    [{ type: 'agent', agent: { ...agent, state: 'napping' } }, /agent\.state: unknown state "napping"/],
    [{ type: 'agent', agent: { ...agent, version: '7' } }, /agent\.version: expected a number, got string/],
    [{ type: 'agent' }, /agent: expected an object/],
    [{ type: 'stats', at: 1, queues: [{ ...queue, waiting: null }], agents: [] }, /stats\.queues\[0\]\.waiting: expected a number/],
    [{ type: 'gateway', state: 'draining' }, /event\.deadline: expected a number/],
  ];
  for (const [msg, why] of cases) assert.throws(() => parseGatewayEvent(msg), (err: unknown) => err instanceof ProtocolError && why.test(err.message), JSON.stringify(msg));
});

test('control messages: read with unknown fields dropped, a newer type ignored, a malformed one rejected by field', () => {
  assert.deepEqual(parseControlMessage({ type: 'hold', onHold: true, by: 'x' }), { type: 'hold', onHold: true });
  assert.deepEqual(parseControlMessage({ type: 'supervision', supervisor: 'carol', mode: null }), { type: 'supervision', supervisor: 'carol', mode: null });
  assert.equal(parseControlMessage({ type: 'confetti' }), undefined);
  for (const [msg, why] of [
    [{ type: 'hold', onHold: 'yes' }, /control\.onHold: expected a boolean/],
    [{ type: 'dtmf', digit: 'X' }, /control\.digit: "X" is not a DTMF digit/],
    [{ type: 'supervision', mode: 'spy' }, /control\.mode: unknown mode "spy"/],
    [{ type: 'participants', participants: 'all' }, /control\.participants: expected an array/],
  ] as Array<[unknown, RegExp]>) assert.throws(() => parseControlMessage(msg), (e: unknown) => e instanceof ProtocolError && why.test(e.message), JSON.stringify(msg));
});

test('call data survives the header round trip (quotes, commas, non-ASCII); unknown fields dropped; bad data refused with the field', () => {
  const data = { caller: '5552000', callerName: 'Zoë "Z" Müller, Esq.', dialed: '5551700', queue: 'support', trunk: 'pbx-a', waitMs: 1200, attributes: { customerId: 'C-5552000', 'crm.case': 'a;b=c\r\nX: y' } };
  const header = encodeCallData(data);
  assert.match(header, /^[\x21-\x7e]+$/, 'one line of visible ASCII');
  assert.deepEqual(decodeCallData(header), data);
  assert.deepEqual(parseCallData({ ...data, mood: 'x' }), data);
  assert.throws(() => decodeCallData('%E0%A4%A'), /not percent-encoded JSON/);
  assert.throws(() => parseCallData({ dialed: '1' }), /data\.caller: expected a string/);
  assert.throws(() => parseCallData({ ...data, attributes: { 'bad key': 'v' } }), /"bad key" is not a valid key/);
  assert.throws(() => parseAttributes({ n: 5 }), /attributes\.n: expected a string or null, got number/);
  assert.throws(() => parseAttributes({ v: 'x'.repeat(CALL_DATA_LIMITS.maxValueLength + 1) }), /longer than 1024/);
  assert.throws(() => parseAttributes(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))), /at most 32/);
  assert.deepEqual(parseControlMessage({ type: 'data', data: { caller: 'a', dialed: 'b', attributes: {} } }), { type: 'data', data: { caller: 'a', dialed: 'b', attributes: {} } });
});

test('commands: known ones read with unknown fields dropped; an unknown type or a malformed one is refused with the reason', () => {
  assert.deepEqual(parseCenterCommand({ type: 'agent-state', state: 'not-ready', reason: 'break', extra: 1 }), { type: 'agent-state', state: 'not-ready', reason: 'break' });
  assert.deepEqual(parseCenterCommand({ type: 'wrap-up', code: 'resolved', done: false, agent: 'bob' }), { type: 'wrap-up', code: 'resolved', done: false, agent: 'bob' });
  assert.deepEqual(parseCenterCommand({ type: 'call-data', callId: 'c1', attributes: { ticket: 'T-1', old: null } }), { type: 'call-data', callId: 'c1', attributes: { ticket: 'T-1', old: null } });
  assert.deepEqual(parseCenterCommand({ type: 'hello', agent: '' }), { type: 'hello' });
  const cases: Array<[unknown, RegExp]> = [
    [{ type: 'fly' }, /Unknown command "fly"/],
    [{ type: 7 }, /command\.type: expected a string/],
    [{ type: 'agent-state', state: 'sleeping' }, /command\.state: must be available, not-ready or offline/],
    [{ type: 'wrap-up', done: 'yes' }, /command\.done: expected a boolean/],
    [{ type: 'call-data', attributes: {} }, /command\.callId: expected a string/],
    [{ type: 'call-data', callId: 'c', attributes: [] }, /command\.attributes: expected an object/],
    [{ type: 'agent-state', state: 'available', agent: 5 }, /command\.agent: expected a string/],
  ];
  for (const [msg, re] of cases) assert.throws(() => parseCenterCommand(msg), (e: unknown) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(msg));
});

test('device mode: commands read and checked (route, target, action, digits, control); statuses read with the field named when malformed', () => {
  assert.deepEqual(parseCenterCommand({ type: 'audio-route', route: 'device' }), { type: 'audio-route', route: 'device' });
  assert.deepEqual(parseCenterCommand({ type: 'device-dial', target: ' 5551234 ' }), { type: 'device-dial', target: '5551234' });
  assert.deepEqual(parseCenterCommand({ type: 'device-call', callId: 'c1', action: 'dtmf', digits: '12a#' }), { type: 'device-call', callId: 'c1', action: 'dtmf', digits: '12A#' });
  assert.deepEqual(parseCenterCommand({ type: 'device-call', callId: 'c1', action: 'control', control: { type: 'transfer', target: 'bob' } }), { type: 'device-call', callId: 'c1', action: 'control', control: { type: 'transfer', target: 'bob' } });
  const cases: Array<[unknown, RegExp]> = [
    [{ type: 'audio-route', route: 'speaker' }, /command\.route: must be browser or device/],
    [{ type: 'device-dial', target: 'sip:bob@evil' }, /command\.target: .* is not a number or user name/],
    [{ type: 'device-call', callId: 'c1', action: 'explode' }, /command\.action: must be one of answer, reject, hangup, dtmf, control/],
    [{ type: 'device-call', callId: 'c1', action: 'dtmf', digits: '5;rm' }, /command\.digits: 1-32 DTMF digits/],
    [{ type: 'device-call', callId: 'c1', action: 'control' }, /command\.control: expected an object/],
    [{ type: 'device-call', callId: 'c1', action: 'control', control: { muted: true } }, /command\.control\.type: expected a string/],
    [{ type: 'device-call', action: 'answer' }, /command\.callId: expected a string/],
  ];
  for (const [msg, re] of cases) assert.throws(() => parseCenterCommand(msg), (e: unknown) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(msg));

  const status = { id: 'c1', sipCallId: 's1', state: 'ringing', direction: 'incoming', remote: { user: '5552000', displayName: 'Carol' }, queue: { name: 'support', waitSeconds: 4, caller: '5552000' }, data: { caller: '5552000', dialed: '700', attributes: {} } };
  assert.deepEqual(parseGatewayEvent({ type: 'device-call', call: { ...status, extra: 1 } }), { type: 'device-call', call: status });
  assert.deepEqual(parseGatewayEvent({ type: 'device-control', callId: 'c1', message: { type: 'hold', onHold: true } }), { type: 'device-control', callId: 'c1', message: { type: 'hold', onHold: true } });
  const bad: Array<[unknown, RegExp]> = [
    [{ type: 'device-call', call: { ...status, state: 'flying' } }, /event\.call\.state: unknown state "flying"/],
    [{ type: 'device-call', call: { ...status, direction: 'sideways' } }, /event\.call\.direction: must be incoming or outgoing/],
    [{ type: 'device-call', call: { ...status, queue: { name: 'support' } } }, /event\.call\.queue\.waitSeconds: expected a number/],
    [{ type: 'device-call', call: { ...status, end: { status: 200 } } }, /event\.call\.end\.reason: expected a string/],
    [{ type: 'device-control', callId: 'c1', message: 'hold' }, /event\.message: expected an object/],
  ];
  for (const [msg, re] of bad) assert.throws(() => parseGatewayEvent(msg), (e: unknown) => e instanceof ProtocolError && re.test(e.message), JSON.stringify(msg));
});
