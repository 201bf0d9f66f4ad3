/**
 * Automatic call distribution (docs/contact-center.md). Waiting calls are kept in one order —
 * queue priority (higher first), then arrival — and each is offered to one eligible available
 * agent at a time. The ACD decides; the layer above (center/contact-center.ts) rings devices
 * and reports back through {@link Acd.answered}, {@link Acd.declined} and {@link Acd.abandon}.
 * Timers (ring-no-answer, maximum wait) run on an injected clock so every rule is unit-tested
 * without sleeping.
 */
import { Emitter } from '../util/emitter.js';
import { epochTime, type Clock, type TimerHandle } from '../util/clock.js';
import { log } from '../util/log.js';
import type { QueueStatistics } from '@switchboard/protocol';
import { AgentRegistry, AgentState } from './agents.js';

/** Where a call goes when it waited too long. */
export type OverflowTarget = { queue: string } | { extension: string } | { reject: true };

/** How a queue picks among eligible available agents. */
export type Strategy = 'longest-idle' | 'round-robin' | 'skills';

/** A queue's configuration. */
export interface QueueConfig {
  /** Unique name, shown to agents and in statistics. */
  name: string;
  /** Extension (or user name) that dials the queue; trunk DIDs point here. */
  extension?: string;
  /** Skills an agent needs, with the minimum level of each (1–10). */
  skills?: Record<string, number>;
  /** Higher goes first when several queues wait for the same agent (default 0). */
  priority?: number;
  /** Default `longest-idle`. */
  strategy?: Strategy;
  /** Ring an agent this long before trying the next (default 15 s). */
  ringTimeoutSeconds?: number;
  /** Overflow after this long in the queue (default 300 s). */
  maxWaitSeconds?: number;
  /** Where to overflow; rejected (the caller hears the call end) when absent. */
  overflow?: OverflowTarget;
  /** Only these agents serve the queue (default: every agent with the skills). */
  members?: string[];
  /** What callers hear while waiting: an 8 kHz mono 16-bit WAV file (default: the music on hold). */
  music?: string;
  /** The service-level threshold: answered within this many seconds counts (default 20). */
  serviceLevelSeconds?: number;
}

/** A call waiting in (or being offered from) a queue. */
export interface QueuedCall {
  readonly id: string;
  /** The caller's number or user name. */
  readonly caller: string;
  queue: string;
  /** When the call first entered a queue (kept across overflow to another queue). */
  readonly arrivedAt: number;
  /** When it entered the current queue. */
  enteredAt: number;
  /** The agent being rung, if any. */
  offeredTo?: string;
  /** Agents rung so far, in order. */
  readonly offers: string[];
}

/** Per-queue live statistics: the wire type the SDK reads (`@switchboard/protocol`). */
export type QueueStats = QueueStatistics;

/** What the ACD asks of the layer that owns calls and devices. */
export interface AcdHooks {
  /** Ring `agent` with `call`; report the outcome with answered/declined. */
  offer(call: QueuedCall, agent: string): void;
  /** Stop ringing (ring timeout, caller gone, agent left). */
  cancelOffer(call: QueuedCall, agent: string): void;
  /** The call leaves the ACD for an extension, or is rejected. */
  overflow(call: QueuedCall, target: Exclude<OverflowTarget, { queue: string }>): void;
  /** Whether the agent's device is free (no other call in progress). Default: yes. */
  canTake?(agent: string): boolean;
}

/** ACD events (call records and live statistics listen). */
export type AcdEvents = {
  queued: [call: QueuedCall];
  offered: [call: QueuedCall, agent: string];
  noAnswer: [call: QueuedCall, agent: string, why: 'timeout' | 'declined' | 'agent-left'];
  answered: [call: QueuedCall, agent: string];
  abandoned: [call: QueuedCall];
  overflowed: [call: QueuedCall, target: OverflowTarget];
  /** Something in the statistics changed. */
  changed: [];
};

interface QueueRuntime {
  config: QueueConfig;
  /** The required skills as pairs (read on every eligibility check). */
  skills: Array<[string, number]>;
  members?: Set<string>;
  /** Round robin: the last agent picked. */
  lastPicked?: string;
  stats: { entered: number; answered: number; abandoned: number; overflowed: number; withinSl: number; waitMsTotal: number };
}

interface Entry {
  call: QueuedCall;
  priority: number;
  seq: number;
  ringTimer?: TimerHandle;
  maxWaitTimer?: TimerHandle;
  overflowDue?: boolean;
}

/** The ACD. */
export class Acd extends Emitter<AcdEvents> {
  private readonly queues = new Map<string, QueueRuntime>();
  /** Waiting calls in service order: priority desc, arrival asc, then sequence. */
  private readonly order: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private readonly available = new Set<string>();
  private seq = 0;
  private dispatching = false;
  private again = false;
  /** Transitions the ACD itself makes (so the agent listener can tell them from the agent's own). */
  private own = false;
  /** Epoch ms on the injected clock (arrivals, waits, statistics). */
  private readonly now: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly agents: AgentRegistry,
    queues: readonly QueueConfig[],
    private readonly hooks: AcdHooks,
  ) {
    super();
    this.now = epochTime(clock);
    for (const q of queues) {
      this.queues.set(q.name.toLowerCase(), {
        config: q,
        skills: Object.entries(q.skills ?? {}),
        ...(q.members ? { members: new Set(q.members.map((m) => m.toLowerCase())) } : {}),
        stats: { entered: 0, answered: 0, abandoned: 0, overflowed: 0, withinSl: 0, waitMsTotal: 0 },
      });
    }
    for (const a of agents.records()) if (a.state === AgentState.Available) this.available.add(a.username.toLowerCase());
    agents.on('changed', (snap, t) => {
      const key = snap.username.toLowerCase();
      if (snap.state === AgentState.Available) this.available.add(key);
      else this.available.delete(key);
      // The agent left ringing on their own (logged out, not-ready): the call goes back in line.
      if (t.previous === AgentState.Ringing && !this.own) {
        const e = this.order.find((x) => x.call.offeredTo?.toLowerCase() === key);
        if (e) {
          this.hooks.cancelOffer(e.call, e.call.offeredTo!);
          this.unoffer(e, 'agent-left');
        }
      }
      if (snap.state === AgentState.Available) this.dispatch();
      this.emit('changed');
    });
  }

  /** A queue's configuration, by name. */
  queue(name: string): QueueConfig | undefined {
    return this.queues.get(name.toLowerCase())?.config;
  }

  /** Every queue's configuration. */
  get queueConfigs(): QueueConfig[] {
    return [...this.queues.values()].map((q) => q.config);
  }

  /** A waiting call, by id. */
  waiting(id: string): QueuedCall | undefined {
    return this.byId.get(id)?.call;
  }

  /** The caller's place in its queue among calls not ringing an agent (1 = next), or 0 if not waiting. */
  position(id: string): number {
    const e = this.byId.get(id);
    if (!e) return 0;
    let n = 0;
    for (const x of this.order) {
      if (x === e) return n + 1;
      if (x.call.queue === e.call.queue && !x.call.offeredTo) n++;
    }
    return 0;
  }

  /** Puts a call in a queue and offers it if an agent is free. `arrivedAt` is epoch ms. */
  enqueue(id: string, queueName: string, caller: string, arrivedAt = this.now()): QueuedCall {
    const q = this.queues.get(queueName.toLowerCase());
    if (!q) throw new Error(`no such queue: ${queueName}`);
    if (this.byId.has(id)) throw new Error(`call ${id} is already queued`);
    const call: QueuedCall = { id, caller, queue: q.config.name, arrivedAt, enteredAt: this.now(), offers: [] };
    this.insert(call, q);
    this.emit('queued', call);
    this.emit('changed');
    this.dispatch();
    return call;
  }

  private insert(call: QueuedCall, q: QueueRuntime): void {
    const e: Entry = { call, priority: q.config.priority ?? 0, seq: this.seq++ };
    q.stats.entered++;
    // Binary search for the first entry that should come after this one.
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.order[mid]!;
      const before = m.priority > e.priority || (m.priority === e.priority && (m.call.arrivedAt < call.arrivedAt || (m.call.arrivedAt === call.arrivedAt && m.seq < e.seq)));
      if (before) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, e);
    this.byId.set(call.id, e);
    e.maxWaitTimer = this.clock.setTimeout(() => this.maxWaitReached(e), (q.config.maxWaitSeconds ?? 300) * 1000);
  }

  private remove(e: Entry): void {
    const i = this.order.indexOf(e);
    if (i >= 0) this.order.splice(i, 1);
    this.byId.delete(e.call.id);
    if (e.ringTimer) this.clock.clearTimeout(e.ringTimer);
    if (e.maxWaitTimer) this.clock.clearTimeout(e.maxWaitTimer);
  }

  /** The agent answered the offered call: it leaves the queue, the agent is on the call. */
  answered(id: string): void {
    const e = this.byId.get(id);
    const agent = e?.call.offeredTo;
    if (!e || !agent) return;
    this.remove(e);
    const q = this.queues.get(e.call.queue.toLowerCase())!;
    const wait = this.now() - e.call.enteredAt;
    q.stats.answered++;
    q.stats.waitMsTotal += wait;
    if (wait <= (q.config.serviceLevelSeconds ?? 20) * 1000) q.stats.withinSl++;
    this.asAcd(() => this.agents.transition(agent, AgentState.OnCall, { by: 'system', callId: id }));
    this.emit('answered', e.call, agent);
    this.emit('changed');
  }

  /** The agent's device refused or failed the offer: like no answer. */
  declined(id: string): void {
    const e = this.byId.get(id);
    if (e?.call.offeredTo) this.noAnswer(e, 'declined');
  }

  /** The caller hung up while waiting or ringing. */
  abandon(id: string): void {
    const e = this.byId.get(id);
    if (!e) return;
    this.remove(e);
    const agent = e.call.offeredTo;
    if (agent) {
      this.hooks.cancelOffer(e.call, agent);
      const rec = this.agents.record(agent);
      if (rec?.state === AgentState.Ringing) this.asAcd(() => this.agents.transition(agent, AgentState.Available, { by: 'system' }));
    }
    this.queues.get(e.call.queue.toLowerCase())!.stats.abandoned++;
    this.emit('abandoned', e.call);
    this.emit('changed');
  }

  /** A queue call that was answered has ended: its agent goes to wrap-up. */
  ended(id: string, agent: string): void {
    const rec = this.agents.record(agent);
    if (rec?.state === AgentState.OnCall && rec.callId === id) this.asAcd(() => this.agents.transition(agent, AgentState.WrapUp, { by: 'system' }));
  }

  private noAnswer(e: Entry, why: 'timeout' | 'declined'): void {
    const agent = e.call.offeredTo!;
    this.hooks.cancelOffer(e.call, agent);
    // Ring-no-answer: the agent is not ready ("missed") so the next call does not ring them too.
    const rec = this.agents.record(agent);
    if (rec?.state === AgentState.Ringing) this.asAcd(() => this.agents.transition(agent, AgentState.NotReady, { by: 'system', reason: 'missed' }));
    this.unoffer(e, why);
  }

  /** The call stops ringing its agent and keeps its place in line. */
  private unoffer(e: Entry, why: 'timeout' | 'declined' | 'agent-left'): void {
    const agent = e.call.offeredTo!;
    delete e.call.offeredTo;
    if (e.ringTimer) this.clock.clearTimeout(e.ringTimer);
    delete e.ringTimer;
    log.with({ callId: e.call.id }).info('acd', `(${e.call.queue}): ${agent} did not answer (${why}); back in line at ${this.position(e.call.id)}`);
    this.emit('noAnswer', e.call, agent, why);
    if (e.overflowDue) return this.overflow(e);
    this.emit('changed');
    this.dispatch();
  }

  private maxWaitReached(e: Entry): void {
    delete e.maxWaitTimer;
    if (!this.byId.has(e.call.id)) return;
    if (e.call.offeredTo) {
      // An agent is ringing: let that offer finish first.
      e.overflowDue = true;
      return;
    }
    this.overflow(e);
  }

  private overflow(e: Entry): void {
    this.remove(e);
    const q = this.queues.get(e.call.queue.toLowerCase())!;
    q.stats.overflowed++;
    const target = q.config.overflow ?? { reject: true as const };
    log.with({ callId: e.call.id }).info('acd', `waited ${this.now() - e.call.enteredAt} ms in ${q.config.name}; overflow to ${JSON.stringify(target)}`);
    this.emit('overflowed', e.call, target);
    if ('queue' in target) {
      const next = this.queues.get(target.queue.toLowerCase());
      if (next) {
        e.call.queue = next.config.name;
        e.call.enteredAt = this.now();
        // It keeps its original arrival, so it is not sent to the back of the next line.
        this.insert(e.call, next);
        this.emit('queued', e.call);
        this.emit('changed');
        this.dispatch();
        return;
      }
      this.hooks.overflow(e.call, { reject: true });
    } else {
      this.hooks.overflow(e.call, target);
    }
    this.emit('changed');
  }

  /** Whether `agent` (a record) can serve queue `q` now. */
  private eligible(q: QueueRuntime, name: string): boolean {
    if (q.members && !q.members.has(name)) return false;
    const rec = this.agents.record(name);
    if (!rec || rec.state !== AgentState.Available) return false;
    for (const [skill, level] of q.skills) if ((rec.skills[skill] ?? 0) < level) return false;
    return this.hooks.canTake?.(rec.username) ?? true;
  }

  /**
   * The agent queue `queue` would offer a call to now (available, eligible, by its strategy), or
   * undefined — used when an agent adds a queue to a conference.
   */
  pickFor(queue: string): string | undefined {
    const q = this.queues.get(queue.toLowerCase());
    return q ? this.pick(q) : undefined;
  }

  /** Picks the agent for a call of queue `q` among the available ones, per the queue's strategy. */
  private pick(q: QueueRuntime): string | undefined {
    const strategy = q.config.strategy ?? 'longest-idle';
    let best: string | undefined;
    let bestScore = -Infinity;
    let bestIdle = Infinity;
    let rrFirst: string | undefined;
    let rrNext: string | undefined;
    for (const name of this.available) {
      if (!this.eligible(q, name)) continue;
      const rec = this.agents.record(name)!;
      if (strategy === 'round-robin') {
        // The next name after the last one picked, wrapping around (a stable circular order).
        if (rrFirst === undefined || name < rrFirst) rrFirst = name;
        if (q.lastPicked !== undefined && name > q.lastPicked && (rrNext === undefined || name < rrNext)) rrNext = name;
        continue;
      }
      const score = strategy === 'skills' ? this.skillScore(q, rec.skills) : 0;
      if (score > bestScore || (score === bestScore && (rec.idleSince < bestIdle || (rec.idleSince === bestIdle && best !== undefined && name < best)))) {
        best = name;
        bestScore = score;
        bestIdle = rec.idleSince;
      }
    }
    if (strategy === 'round-robin') best = rrNext ?? rrFirst;
    if (best !== undefined) q.lastPicked = best;
    return best;
  }

  private skillScore(q: QueueRuntime, skills: Record<string, number>): number {
    let s = 0;
    if (q.skills.length) for (const [k] of q.skills) s += skills[k] ?? 0;
    else for (const k in skills) s += skills[k] ?? 0;
    return s;
  }

  /**
   * Offers waiting calls, in order, to free agents until one of the two runs out. A queue that
   * found no agent for its first call is not searched again in the same pass (its other calls
   * need the same agents), so a pass costs O(queues × available agents + waiting calls).
   */
  dispatch(): void {
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.again = false;
        const starved = new Set<QueueRuntime>();
        for (const e of [...this.order]) {
          if (!this.available.size) break;
          if (e.call.offeredTo || !this.byId.has(e.call.id)) continue;
          const q = this.queues.get(e.call.queue.toLowerCase())!;
          if (starved.has(q)) continue;
          const agent = this.pick(q);
          if (!agent) {
            starved.add(q);
            continue;
          }
          this.offerTo(e, q, agent);
        }
      } while (this.again);
    } finally {
      this.dispatching = false;
    }
  }

  private offerTo(e: Entry, q: QueueRuntime, agentKey: string): void {
    const rec = this.agents.record(agentKey)!;
    const agent = rec.username;
    e.call.offeredTo = agent;
    e.call.offers.push(agent);
    this.available.delete(agentKey);
    this.asAcd(() => this.agents.transition(agent, AgentState.Ringing, { by: 'system', callId: e.call.id }));
    e.ringTimer = this.clock.setTimeout(() => {
      delete e.ringTimer;
      if (e.call.offeredTo === agent) this.noAnswer(e, 'timeout');
    }, (q.config.ringTimeoutSeconds ?? 15) * 1000);
    log.with({ callId: e.call.id }).info('acd', `(${q.config.name}, waited ${this.now() - e.call.enteredAt} ms): offered to ${agent}`);
    this.emit('offered', e.call, agent);
    this.emit('changed');
    this.hooks.offer(e.call, agent);
  }

  private asAcd(fn: () => void): void {
    const was = this.own;
    this.own = true;
    try {
      fn();
    } finally {
      this.own = was;
    }
  }

  /** Live statistics of every queue. */
  stats(): QueueStats[] {
    const now = this.now();
    return [...this.queues.values()].map((q) => {
      let waiting = 0;
      let longest = 0;
      for (const e of this.order) {
        if (e.call.queue !== q.config.name) continue;
        waiting++;
        longest = Math.max(longest, now - e.call.enteredAt);
      }
      let available = 0;
      let staffed = 0;
      for (const a of this.agents.records()) {
        const key = a.username.toLowerCase();
        if (q.members && !q.members.has(key)) continue;
        if (Object.entries(q.config.skills ?? {}).some(([s, l]) => (a.skills[s] ?? 0) < l)) continue;
        if (a.state !== AgentState.Offline) staffed++;
        if (a.state === AgentState.Available) available++;
      }
      const s = q.stats;
      const finished = s.answered + s.abandoned;
      return {
        name: q.config.name,
        waiting,
        longestWaitMs: longest,
        entered: s.entered,
        answered: s.answered,
        abandoned: s.abandoned,
        overflowed: s.overflowed,
        answeredWithinSl: s.withinSl,
        serviceLevelSeconds: q.config.serviceLevelSeconds ?? 20,
        serviceLevel: finished ? Math.round((1000 * s.withinSl) / finished) / 10 : 100,
        averageWaitMs: s.answered ? Math.round(s.waitMsTotal / s.answered) : 0,
        agentsAvailable: available,
        agentsStaffed: staffed,
      };
    });
  }

  /** Stops every timer (shutdown). Waiting calls are the call layer's to end. */
  close(): void {
    for (const e of this.order) {
      if (e.ringTimer) this.clock.clearTimeout(e.ringTimer);
      if (e.maxWaitTimer) this.clock.clearTimeout(e.maxWaitTimer);
    }
  }
}
