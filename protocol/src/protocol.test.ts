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
