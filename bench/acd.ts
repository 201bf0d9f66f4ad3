/**
 * ACD decision time at contact-center scale: 1,000 waiting calls and 500 agents.
 *
 *   npm run bench:acd            (node --import tsx bench/acd.ts)
 *
 * Ten queues (skills `q0`…`q9`, priorities 0–4, all three strategies); 500 agents with two or
 * three skills each at random levels. Two measurements, in process with a fake clock (so only
 * our code is timed, not SIP or sockets):
 *
 * 1. Agent frees up, 1,000 calls waiting: the time from "agent available" to the offer being
 *    made — the scan down the waiting line for the first call this agent can take.
 * 2. Call arrives, 500 agents available: the time from enqueue to the offer — the pick among
 *    every eligible free agent by the queue's strategy.
 *
 * The ACD's `canTake` hook does what the gateway's does (contact-center.ts): it builds the set of
 * parties on calls in progress — here the 1,000 waiting callers plus the calls being talked —
 * once per decision, so that cost is in the figures too.
 *
 * Prints p50/p99/max per decision in microseconds; `--json` for JSON.
 */
import { performance } from 'node:perf_hooks';
import { Acd, type QueueConfig, type Strategy } from '../gateway/src/center/acd.js';
import { AgentRegistry, AgentState } from '../gateway/src/center/agents.js';
import { FakeClock } from '../gateway/src/util/clock.js';
import { setLogSink } from '../gateway/src/util/log.js';

setLogSink(() => undefined);
const json = process.argv.includes('--json');
const WAITING = 1000;
const AGENTS = 500;
const QUEUES = 10;

// A fixed pseudo-random sequence, so every run measures the same population.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

const strategies: Strategy[] = ['longest-idle', 'round-robin', 'skills'];
const queues: QueueConfig[] = Array.from({ length: QUEUES }, (_, i) => ({
  name: `q${i}`, skills: { [`q${i}`]: 1 + (i % 3) }, priority: i % 5, strategy: strategies[i % 3]!, ringTimeoutSeconds: 15, maxWaitSeconds: 3600,
}));
const agents = Array.from({ length: AGENTS }, (_, i) => {
  const skills: Record<string, number> = {};
  const n = 2 + (i % 2);
  for (let k = 0; k < n; k++) skills[`q${Math.floor(rand() * QUEUES)}`] = 1 + Math.floor(rand() * 10);
  return { username: `agent${i}`, skills };
});

function percentiles(samples: number[]): { p50: number; p99: number; max: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)]!, p99: s[Math.floor(s.length * 0.99)]!, max: s.at(-1)!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Calls in progress as the gateway sees them: caller and callee parties. */
const activeCalls: Array<{ caller: string; callee: string }> = Array.from({ length: WAITING + AGENTS }, (_, i) =>
  i < WAITING ? { caller: `+1555${i}`, callee: `q${i % QUEUES}` } : { caller: `+1666${i}`, callee: `agent${i - WAITING}-talking` });

function build() {
  const clock = new FakeClock();
  const registry = new AgentRegistry(clock, { reasons: ['break'], wrapUpSeconds: 0 }, agents);
  let offered = 0;
  let busy: Set<string> | undefined;
  const canTake = (agent: string) => {
    if (!busy) {
      busy = new Set();
      for (const c of activeCalls) {
        busy.add(c.caller.toLowerCase());
        busy.add(c.callee.toLowerCase());
      }
      queueMicrotask(() => (busy = undefined));
    }
    return !busy.has(agent.toLowerCase());
  };
  const acd = new Acd(clock, registry, queues, { offer: () => void offered++, cancelOffer: () => undefined, overflow: () => undefined, canTake });
  return { clock, registry, acd, offered: () => offered };
}

/** Lets the microtask queue run between decisions, as the event loop would. */
const tick = () => new Promise<void>((r) => setImmediate(r));

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};

  // 1. Agents free up one by one with 1,000 calls waiting.
  {
    const { clock, registry, acd, offered } = build();
    for (let i = 0; i < WAITING; i++) {
      clock.advance(10);
      acd.enqueue(`c${i}`, `q${Math.floor(rand() * QUEUES)}`, `+1555${i}`);
    }
    const samples: number[] = [];
    for (const a of agents) {
      await tick();
      const before = offered();
      const t0 = performance.now();
      registry.request(a.username, AgentState.Available, { by: 'agent', hasDevice: true });
      const dt = (performance.now() - t0) * 1000;
      if (offered() > before) samples.push(dt);
    }
    results.agentFreesUp = { waiting: WAITING, decisions: samples.length, ...percentiles(samples) };
  }

  // 2. Calls arrive with 500 agents available.
  {
    const { registry, acd, offered, clock } = build();
    for (const a of agents) {
      clock.advance(1);
      registry.request(a.username, AgentState.Available, { by: 'agent', hasDevice: true });
    }
    const samples: number[] = [];
    for (let i = 0; i < WAITING; i++) {
      await tick();
      const before = offered();
      const t0 = performance.now();
      acd.enqueue(`n${i}`, `q${i % QUEUES}`, `+1666${i}`);
      const dt = (performance.now() - t0) * 1000;
      if (offered() > before) samples.push(dt);
    }
    results.callArrives = { agents: AGENTS, decisions: samples.length, ...percentiles(samples) };
  }

  // 3. Steady state: 1,000 waiting, each answered call frees its agent after wrap-up (answer → ended → available).
  {
    const { registry, acd, clock } = build();
    const ringing = new Map<string, string>();
    const acd2 = acd;
    acd2.on('offered', (call, agent) => ringing.set(agent, call.id));
    for (let i = 0; i < WAITING; i++) {
      clock.advance(10);
      acd.enqueue(`s${i}`, `q${Math.floor(rand() * QUEUES)}`, `+1777${i}`);
    }
    for (const a of agents) registry.request(a.username, AgentState.Available, { by: 'agent', hasDevice: true });
    const samples: number[] = [];
    for (let round = 0; round < 2000 && ringing.size; round++) {
      const [agent, callId] = ringing.entries().next().value as [string, string];
      ringing.delete(agent);
      acd.answered(callId);
      acd.ended(callId, agent);
      acd.enqueue(`r${round}`, `q${round % QUEUES}`, '+1888');
      await tick();
      const t0 = performance.now();
      registry.endWrapUp(agent);
      samples.push((performance.now() - t0) * 1000);
    }
    results.steadyState = { waiting: acd.stats().reduce((n, q) => n + q.waiting, 0), decisions: samples.length, ...percentiles(samples) };
  }

  if (json) console.log(JSON.stringify(results, null, 2));
  else {
    for (const [name, r] of Object.entries(results) as Array<[string, Record<string, number>]>) {
      const { p50, p99, max, mean, ...rest } = r;
      console.log(`${name.padEnd(14)} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ').padEnd(34)} p50 ${p50!.toFixed(1)} µs  p99 ${p99!.toFixed(1)} µs  max ${max!.toFixed(1)} µs  mean ${mean!.toFixed(1)} µs`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
