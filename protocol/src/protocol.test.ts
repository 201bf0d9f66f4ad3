/**
 * The shared protocol's parsers: a message with fields a reader does not know is still read
 * (a newer gateway), a malformed one is rejected with the field and the reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentStatus, parseCenterStatistics, parseControlMessage, parseGatewayEvent, ProtocolError } from './index.js';

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
