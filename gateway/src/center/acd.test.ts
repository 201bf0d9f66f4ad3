import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../util/clock.js';
import { Acd, type AcdHooks, type QueueConfig, type QueuedCall } from './acd.js';
import { AgentError, AgentRegistry, AgentState, type AgentTransition } from './agents.js';

type Agents = Array<{ username: string; skills?: Record<string, number> }>;

/** An ACD over fake agents whose devices record what they were asked to do. */
function setup(queues: QueueConfig[], agents: Agents, opts: { wrapUpSeconds?: number } = {}) {
  const clock = new FakeClock();
  clock.advance(1_000_000);
  const history: AgentTransition[] = [];
  const registry = new AgentRegistry(clock, { reasons: ['break', 'lunch'], wrapUpSeconds: opts.wrapUpSeconds ?? 0 }, agents, (t) => history.push(t));
  const log: string[] = [];
  const ringing = new Map<string, QueuedCall>();
  const busy = new Set<string>();
  const hooks: AcdHooks = {
    offer: (call, agent) => {
      assert.ok(!ringing.has(agent), `${agent} rung twice at once`);
      assert.ok(![...ringing.values()].includes(call), `${call.id} rung at two agents at once`);
      ringing.set(agent, call);
      log.push(`offer ${call.id} ${agent}`);
    },
    cancelOffer: (call, agent) => {
      ringing.delete(agent);
      log.push(`cancel ${call.id} ${agent}`);
    },
    overflow: (call, target) => log.push(`overflow ${call.id} ${JSON.stringify(target)}`),
    canTake: (agent) => !busy.has(agent),
  };
  const acd = new Acd(clock, registry, queues, hooks);
  const login = (...names: string[]) => {
    for (const n of names) {
      registry.request(n, AgentState.Available, { by: 'agent', hasDevice: true });
      clock.advance(1000); // distinct idle times, in login order
    }
  };
  const answer = (agent: string) => {
    const call = ringing.get(agent);
    assert.ok(call, `${agent} has nothing ringing`);
    ringing.delete(agent);
    acd.answered(call.id);
    return call;
  };
  return { clock, registry, acd, log, ringing, busy, history, login, answer };
}

const sales: QueueConfig = { name: 'sales', ringTimeoutSeconds: 10, maxWaitSeconds: 120 };

test('longest-idle: the agent idle longest gets the next call; callers are served in arrival order', () => {
  const t = setup([sales], [{ username: 'a' }, { username: 'b' }, { username: 'c' }]);
  t.login('a', 'b', 'c'); // a idle longest
  t.acd.enqueue('c1', 'sales', '555');
  assert.deepEqual(t.log, ['offer c1 a']);
  t.answer('a');
  t.acd.enqueue('c2', 'sales', '556');
  t.acd.enqueue('c3', 'sales', '557');
  assert.deepEqual(t.log.slice(1), ['offer c2 b', 'offer c3 c']);
  t.answer('b');
  t.answer('c');
  // Nobody free: c4, c5 wait in order.
  t.acd.enqueue('c4', 'sales', '1');
  t.clock.advance(500);
  t.acd.enqueue('c5', 'sales', '2');
  assert.equal(t.acd.position('c4'), 1);
  assert.equal(t.acd.position('c5'), 2);
  // c finishes first, then a: c was idle... c becomes free first and takes c4.
  t.acd.ended('c3', 'c');
  assert.equal(t.registry.get('c')!.state, AgentState.WrapUp);
  t.registry.endWrapUp('c');
  assert.equal(t.log.at(-1), 'offer c4 c');
  t.acd.ended('c1', 'a');
  t.registry.endWrapUp('a');
  assert.equal(t.log.at(-1), 'offer c5 a');
  const s = t.acd.stats()[0]!;
  assert.equal(s.entered, 5);
  assert.equal(s.answered, 3);
  assert.equal(s.waiting, 2);
});

test('longest-idle picks by idle time, not by name or login order of the queue', () => {
  const t = setup([sales], [{ username: 'a' }, { username: 'b' }]);
  t.login('b', 'a'); // b idle longest
  t.acd.enqueue('c1', 'sales', 'x');
  assert.deepEqual(t.log, ['offer c1 b']);
});

test('round robin cycles through agents in a fixed order', () => {
  const t = setup([{ ...sales, strategy: 'round-robin' }], [{ username: 'a' }, { username: 'b' }, { username: 'c' }], { wrapUpSeconds: 0 });
  t.login('c', 'b', 'a');
  const picked: string[] = [];
  for (let i = 1; i <= 6; i++) {
    t.acd.enqueue(`c${i}`, 'sales', 'x');
    const agent = t.log.at(-1)!.split(' ')[2]!;
    picked.push(agent);
    t.answer(agent);
    t.acd.ended(`c${i}`, agent);
    t.registry.endWrapUp(agent);
  }
  assert.deepEqual(picked, ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('skills: only agents with the required levels are eligible; skills strategy takes the best-skilled', () => {
  const spanish: QueueConfig = { name: 'spanish', skills: { es: 5 }, strategy: 'skills' };
  const t = setup([spanish], [{ username: 'low', skills: { es: 3 } }, { username: 'mid', skills: { es: 6 } }, { username: 'top', skills: { es: 9 } }]);
  t.login('low', 'mid', 'top');
  t.acd.enqueue('c1', 'spanish', 'x');
  assert.deepEqual(t.log, ['offer c1 top']);
  t.acd.enqueue('c2', 'spanish', 'x');
  assert.equal(t.log.at(-1), 'offer c2 mid');
  // low (es 3 < 5) never gets one.
  t.acd.enqueue('c3', 'spanish', 'x');
  assert.equal(t.log.length, 2);
  assert.equal(t.acd.position('c3'), 1);
  const s = t.acd.stats()[0]!;
  assert.equal(s.agentsStaffed, 2);
});

test('priorities: a free agent takes the higher-priority queue first, then arrival order', () => {
  const vip: QueueConfig = { name: 'vip', priority: 10 };
  const t = setup([sales, vip], [{ username: 'a' }]);
  t.acd.enqueue('s1', 'sales', 'x');
  t.clock.advance(1000);
  t.acd.enqueue('s2', 'sales', 'x');
  t.clock.advance(1000);
  t.acd.enqueue('v1', 'vip', 'x');
  t.login('a');
  assert.deepEqual(t.log, ['offer v1 a']);
  t.answer('a');
  t.acd.ended('v1', 'a');
  t.registry.endWrapUp('a');
  assert.equal(t.log.at(-1), 'offer s1 a');
});

test('members: a queue with members is served only by them', () => {
  const t = setup([{ ...sales, members: ['b'] }], [{ username: 'a' }, { username: 'b' }]);
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  assert.deepEqual(t.log, []);
  t.login('b');
  assert.deepEqual(t.log, ['offer c1 b']);
});

test('ring-no-answer: the agent goes not-ready "missed", the call rings the next agent and keeps its place', () => {
  const t = setup([sales], [{ username: 'a' }, { username: 'b' }]);
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  t.clock.advance(100);
  t.acd.enqueue('c2', 'sales', 'x');
  assert.deepEqual(t.log, ['offer c1 a']);
  t.clock.advance(9_899);
  assert.equal(t.log.length, 1);
  t.clock.advance(1);
  assert.deepEqual(t.log, ['offer c1 a', 'cancel c1 a']);
  const a = t.registry.get('a')!;
  assert.equal(a.state, AgentState.NotReady);
  assert.equal(a.reason, 'missed');
  assert.equal(t.acd.position('c1'), 1, 'c1 is still first in line');
  t.login('b');
  assert.equal(t.log.at(-1), 'offer c1 b');
  assert.deepEqual(t.acd.waiting('c1')!.offers, ['a', 'b']);
  // A decline is treated the same way.
  t.acd.declined('c1');
  assert.equal(t.registry.get('b')!.reason, 'missed');
  assert.equal(t.acd.position('c1'), 1);
});

test('abandonment: a waiting caller leaves cleanly; a ringing agent is released', () => {
  const t = setup([sales], [{ username: 'a' }]);
  t.acd.enqueue('c1', 'sales', 'x');
  t.acd.enqueue('c2', 'sales', 'x');
  t.acd.abandon('c1');
  assert.equal(t.acd.position('c2'), 1);
  t.login('a');
  assert.deepEqual(t.log, ['offer c2 a']);
  t.acd.abandon('c2');
  assert.deepEqual(t.log, ['offer c2 a', 'cancel c2 a']);
  assert.equal(t.registry.get('a')!.state, AgentState.Available);
  const s = t.acd.stats()[0]!;
  assert.equal(s.abandoned, 2);
  assert.equal(s.waiting, 0);
  assert.equal(t.clock.pending, 0, 'no timer left behind');
});

test('overflow: to another queue keeping the original arrival, to an extension, or rejected', () => {
  const first: QueueConfig = { name: 'first', maxWaitSeconds: 30, overflow: { queue: 'second' } };
  const second: QueueConfig = { name: 'second', maxWaitSeconds: 60, overflow: { extension: '600' } };
  const third: QueueConfig = { name: 'third', maxWaitSeconds: 5 };
  const t = setup([first, second, third], [{ username: 'a' }]);
  t.acd.enqueue('s0', 'second', 'x'); // already waiting in second
  t.clock.advance(1000);
  t.acd.enqueue('f1', 'first', 'y');
  t.acd.enqueue('r1', 'third', 'z');
  t.clock.advance(5000);
  assert.deepEqual(t.log, ['overflow r1 {"reject":true}']);
  t.clock.advance(25_000);
  assert.equal(t.acd.waiting('f1')!.queue, 'second');
  assert.equal(t.acd.position('f1'), 2, 'behind s0 who arrived earlier');
  t.clock.advance(29_000); // s0 has waited 60 s in second
  assert.equal(t.log.at(-1), 'overflow s0 {"extension":"600"}');
  assert.equal(t.acd.position('f1'), 1);
  const [f, s, th] = t.acd.stats();
  assert.equal(f!.overflowed, 1);
  assert.equal(s!.overflowed, 1);
  assert.equal(th!.overflowed, 1);
});

test('overflow waits for a ringing offer to finish', () => {
  const t = setup([{ ...sales, maxWaitSeconds: 5, ringTimeoutSeconds: 10 }], [{ username: 'a' }]);
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  t.clock.advance(6000);
  assert.deepEqual(t.log, ['offer c1 a']);
  t.clock.advance(4000);
  assert.deepEqual(t.log, ['offer c1 a', 'cancel c1 a', 'overflow c1 {"reject":true}']);
});

test('wrap-up: automatic after the call, ends on its timeout or by hand, then the agent takes calls again', () => {
  const t = setup([sales], [{ username: 'a' }], { wrapUpSeconds: 30 });
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  t.answer('a');
  t.clock.advance(60_000);
  t.acd.ended('c1', 'a');
  assert.equal(t.registry.get('a')!.state, AgentState.WrapUp);
  t.acd.enqueue('c2', 'sales', 'x');
  t.clock.advance(29_999);
  assert.equal(t.log.length, 1, 'no offer during wrap-up');
  t.clock.advance(1);
  assert.equal(t.registry.get('a')!.state, AgentState.Ringing);
  assert.equal(t.log.at(-1), 'offer c2 a');
  const snap = t.registry.get('a')!;
  assert.equal(snap.callsHandled, 1);
  assert.equal(snap.averageHandleMs, 90_000, 'talk 60 s + wrap-up 30 s');
  t.answer('a');
  t.acd.ended('c2', 'a');
  t.registry.endWrapUp('a');
  assert.equal(t.registry.get('a')!.state, AgentState.Available);
  // Every change was persisted, in order, timestamped.
  assert.deepEqual(t.history.map((h) => h.state), ['available', 'ringing', 'on-call', 'wrap-up', 'available', 'ringing', 'on-call', 'wrap-up', 'available']);
  assert.ok(t.history.every((h, i) => i === 0 || h.at >= t.history[i - 1]!.at));
});

test('invalid transitions and bad requests are refused with codes', () => {
  const t = setup([sales], [{ username: 'a' }]);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof AgentError);
      return err.code;
    }
    return 'none';
  };
  assert.equal(code(() => t.registry.request('a', AgentState.Available, { by: 'agent', hasDevice: false })), 'NO_DEVICE');
  assert.equal(code(() => t.registry.request('a', AgentState.NotReady, { by: 'agent', hasDevice: true })), 'UNKNOWN_REASON');
  assert.equal(code(() => t.registry.request('a', AgentState.NotReady, { by: 'agent', reason: 'nap', hasDevice: true })), 'UNKNOWN_REASON');
  assert.equal(code(() => t.registry.request('a', AgentState.OnCall, { by: 'agent', hasDevice: true })), 'INVALID_TRANSITION');
  assert.equal(code(() => t.registry.request('zed', AgentState.Available, { by: 'agent', hasDevice: true })), 'NOT_AN_AGENT');
  assert.equal(code(() => t.registry.endWrapUp('a')), 'NOT_IN_WRAP_UP');
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  t.answer('a');
  assert.equal(code(() => t.registry.request('a', AgentState.NotReady, { by: 'agent', reason: 'break', hasDevice: true })), 'INVALID_TRANSITION');
  assert.equal(t.registry.get('a')!.state, AgentState.OnCall);
  // not-ready with a reason, and changing the reason, are fine.
  t.acd.ended('c1', 'a');
  t.registry.request('a', AgentState.NotReady, { by: 'agent', reason: 'break', hasDevice: true });
  t.registry.request('a', AgentState.NotReady, { by: 'supervisor', reason: 'lunch', hasDevice: true });
  assert.equal(t.registry.get('a')!.reason, 'lunch');
  assert.equal(t.history.at(-1)!.by, 'supervisor');
});

test('an agent who logs out while ringing releases the call back to its place', () => {
  const t = setup([sales], [{ username: 'a' }, { username: 'b' }]);
  t.login('a');
  t.acd.enqueue('c1', 'sales', 'x');
  t.registry.request('a', AgentState.Offline, { by: 'agent', hasDevice: true });
  assert.equal(t.acd.waiting('c1')!.offeredTo, undefined);
  t.login('b');
  assert.equal(t.log.at(-1), 'offer c1 b');
});

test('an agent busy on another call (canTake false) is skipped', () => {
  const t = setup([sales], [{ username: 'a' }, { username: 'b' }]);
  t.login('a', 'b');
  t.busy.add('a');
  t.acd.enqueue('c1', 'sales', 'x');
  assert.deepEqual(t.log, ['offer c1 b']);
});

test('timestamps are epoch milliseconds on the real clock too (history and "since" are read by people)', async () => {
  const { systemClock } = await import('../util/clock.js');
  const seen: AgentTransition[] = [];
  const registry = new AgentRegistry(systemClock, { reasons: [], wrapUpSeconds: 0 }, [{ username: 'a' }], (t) => seen.push(t));
  registry.request('a', AgentState.Available, { by: 'agent', hasDevice: true });
  assert.ok(Math.abs(seen[0]!.at - Date.now()) < 1000, `history time ${seen[0]!.at} vs now ${Date.now()}`);
  assert.ok(Math.abs(registry.get('a')!.since - Date.now()) < 1000);
});
