/**
 * Agents and their state machine (docs/contact-center.md). Each agent is a configured user with
 * skills; its state is one truth here, changed only through {@link AgentRegistry.transition},
 * which rejects moves the table below does not allow, timestamps every change and hands it to
 * the history sink (SQLite) before anyone is told.
 *
 * ```
 *            login                 ACD offer            answer
 *  offline ─────────► available ───────────► ringing ─────────► on-call
 *     ▲   ◄── logout ──┘ ▲  │ ▲                 │ no answer        │ call ends
 *     │                  │  ▼ │                 ▼                  ▼
 *     └──────────── not-ready(reason) ◄──── (reason "missed")   wrap-up ──► available
 *                                                       (timeout or manual end)
 * ```
 */
import type { AgentStatus } from '@switchboard/protocol';
import { Emitter } from '../util/emitter.js';
import { epochTime, type Clock, type TimerHandle } from '../util/clock.js';
import { log } from '../util/log.js';

/** Agent states. */
export enum AgentState {
  Offline = 'offline',
  Available = 'available',
  NotReady = 'not-ready',
  Ringing = 'ringing',
  OnCall = 'on-call',
  WrapUp = 'wrap-up',
}

/** Who made a change: the agent, a supervisor/admin, or the gateway itself (ACD, timers, devices). */
export type ChangedBy = 'agent' | 'supervisor' | 'system';

/** States an agent or supervisor may ask for; the others are entered by the ACD only. */
export const REQUESTABLE: readonly AgentState[] = [AgentState.Available, AgentState.NotReady, AgentState.Offline];

const ALLOWED: Record<AgentState, readonly AgentState[]> = {
  [AgentState.Offline]: [AgentState.Available, AgentState.NotReady],
  [AgentState.Available]: [AgentState.NotReady, AgentState.Offline, AgentState.Ringing],
  [AgentState.NotReady]: [AgentState.Available, AgentState.NotReady, AgentState.Offline],
  [AgentState.Ringing]: [AgentState.OnCall, AgentState.NotReady, AgentState.Available, AgentState.Offline],
  [AgentState.OnCall]: [AgentState.WrapUp, AgentState.Offline],
  [AgentState.WrapUp]: [AgentState.Available, AgentState.NotReady, AgentState.Offline],
};

/** A refused agent operation; `code` is stable API (the SDK maps it to its own codes). */
export class AgentError extends Error {
  override name = 'AgentError';
  constructor(
    readonly code: 'NOT_AN_AGENT' | 'INVALID_TRANSITION' | 'UNKNOWN_REASON' | 'NO_DEVICE' | 'NOT_IN_WRAP_UP',
    message: string,
  ) {
    super(message);
  }
}

/** One persisted state change (agent history). */
export interface AgentTransition {
  agent: string;
  at: number;
  state: AgentState;
  previous: AgentState;
  reason?: string;
  by: ChangedBy;
}

/**
 * What supervisors, the SDK and the statistics see of an agent: the wire type the SDK reads
 * (`@switchboard/protocol`), its state as this registry's enum (whose values are the protocol's
 * state names).
 */
export interface AgentSnapshot extends Omit<AgentStatus, 'state'> {
  /** The current state. */
  state: AgentState;
}

/** Options of the registry. */
export interface AgentOptions {
  /** Not-ready reason codes agents may pick ("missed" is always added: the ACD uses it). */
  reasons: readonly string[];
  /** After-call work: back to available this long after a call ends (0 = manual end only). */
  wrapUpSeconds: number;
}

/** Events of the registry. */
export type AgentEvents = {
  /** Fired after the change is persisted. */
  changed: [agent: AgentSnapshot, transition: AgentTransition];
};

interface AgentRecord {
  username: string;
  skills: Record<string, number>;
  state: AgentState;
  reason?: string;
  since: number;
  /** Start of the current idle period: when the agent last became available (longest-idle routing). */
  idleSince: number;
  callsHandled: number;
  /** Handle time summed over completed calls (talk + wrap-up), and how many those are. */
  handleMsTotal: number;
  callsCompleted: number;
  callId?: string;
  version: number;
  callStartedAt?: number;
  wrapTimer?: TimerHandle;
}

/** The agents of this gateway. */
export class AgentRegistry extends Emitter<AgentEvents> {
  private readonly agents = new Map<string, AgentRecord>();
  readonly reasons: readonly string[];
  /** Epoch ms on the injected clock: every timestamp here is one. */
  readonly now: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: AgentOptions,
    agents: ReadonlyArray<{ username: string; skills?: Record<string, number> }>,
    /** Persists a transition; called synchronously before listeners hear of it. */
    private readonly persist: (t: AgentTransition) => void = () => undefined,
  ) {
    super();
    this.reasons = [...new Set([...opts.reasons, 'missed'])];
    this.now = epochTime(clock);
    const now = this.now();
    for (const a of agents) {
      this.agents.set(a.username.toLowerCase(), {
        username: a.username, skills: { ...(a.skills ?? {}) }, state: AgentState.Offline, since: now, idleSince: now, callsHandled: 0, handleMsTotal: 0, callsCompleted: 0, version: 0,
      });
    }
  }

  /** Whether `name` is an agent. */
  has(name: string): boolean {
    return this.agents.has(name.toLowerCase());
  }

  /** One agent, or undefined. */
  get(name: string): AgentSnapshot | undefined {
    const a = this.agents.get(name.toLowerCase());
    return a && this.snapshot(a);
  }

  /** Every agent. */
  list(): AgentSnapshot[] {
    return [...this.agents.values()].map((a) => this.snapshot(a));
  }

  /** @internal The live record (the ACD reads state, skills and idle time without copying). */
  record(name: string): Readonly<AgentRecord> | undefined {
    return this.agents.get(name.toLowerCase());
  }

  /** @internal Every live record. */
  records(): IterableIterator<Readonly<AgentRecord>> {
    return this.agents.values();
  }

  /**
   * A state change asked for by the agent or a supervisor: available, not-ready (with a reason
   * code from the configured list) or offline. `hasDevice` says whether the agent has a device
   * that calls can reach (available needs one).
   */
  request(name: string, state: AgentState, opts: { reason?: string; by: ChangedBy; hasDevice: boolean }): AgentSnapshot {
    const a = this.agents.get(name.toLowerCase());
    if (!a) throw new AgentError('NOT_AN_AGENT', `${name} is not an agent`);
    if (!REQUESTABLE.includes(state)) throw new AgentError('INVALID_TRANSITION', `${state} is entered by the ACD, not requested`);
    if (state === AgentState.NotReady && (!opts.reason || !this.reasons.includes(opts.reason))) {
      throw new AgentError('UNKNOWN_REASON', `not-ready needs a reason code, one of: ${this.reasons.join(', ')}`);
    }
    if (state === AgentState.Available && !opts.hasDevice) throw new AgentError('NO_DEVICE', `${a.username} has no registered device to take calls on`);
    if (a.state === state && a.reason === (state === AgentState.NotReady ? opts.reason : undefined)) return this.snapshot(a);
    this.transition(a.username, state, { by: opts.by, ...(opts.reason && state === AgentState.NotReady ? { reason: opts.reason } : {}) });
    return this.snapshot(a);
  }

  /**
   * The one guarded state change. Refuses moves the table does not allow (so a late timer or a
   * duplicate event cannot corrupt the state), persists, then emits.
   */
  transition(name: string, next: AgentState, opts: { by: ChangedBy; reason?: string; callId?: string }): void {
    const a = this.agents.get(name.toLowerCase());
    if (!a) throw new AgentError('NOT_AN_AGENT', `${name} is not an agent`);
    const prev = a.state;
    if (!ALLOWED[prev].includes(next)) throw new AgentError('INVALID_TRANSITION', `${a.username} cannot go from ${prev} to ${next}`);
    const now = this.now();
    if (a.wrapTimer) {
      this.clock.clearTimeout(a.wrapTimer);
      delete a.wrapTimer;
    }
    // Handle time = talk + after-call work, counted when the work ends.
    if (prev === AgentState.WrapUp || (prev === AgentState.OnCall && next === AgentState.Offline)) {
      if (a.callStartedAt !== undefined) {
        a.handleMsTotal += now - a.callStartedAt;
        a.callsCompleted++;
      }
      delete a.callStartedAt;
      delete a.callId;
    }
    if (next === AgentState.Ringing) {
      if (opts.callId) a.callId = opts.callId;
    } else if (next === AgentState.OnCall) {
      a.callsHandled++;
      a.callStartedAt = now;
    } else if (next !== AgentState.WrapUp) {
      if (prev === AgentState.Ringing) delete a.callId;
    }
    a.state = next;
    a.since = now;
    a.version++;
    if (next === AgentState.NotReady && opts.reason) a.reason = opts.reason;
    else delete a.reason;
    if (next === AgentState.Available) a.idleSince = now;
    if (next === AgentState.WrapUp && this.opts.wrapUpSeconds > 0) {
      a.wrapTimer = this.clock.setTimeout(() => {
        delete a.wrapTimer;
        if (a.state === AgentState.WrapUp) this.transition(a.username, AgentState.Available, { by: 'system' });
      }, this.opts.wrapUpSeconds * 1000);
    }
    const t: AgentTransition = { agent: a.username, at: now, state: next, previous: prev, by: opts.by, ...(a.reason ? { reason: a.reason } : {}) };
    try {
      this.persist(t);
    } catch (err) {
      // A full disk must not freeze the contact center; the change still happens and is logged.
      log.error('agents', `agent history not persisted for ${a.username}`, err);
    }
    log.info('agents', `${a.username}: ${prev} -> ${next}${a.reason ? ` (${a.reason})` : ''} by ${opts.by}`);
    this.emit('changed', this.snapshot(a), t);
  }

  /** Ends after-call work now (the agent pressed "done"); the agent becomes available. */
  endWrapUp(name: string, by: ChangedBy = 'agent'): AgentSnapshot {
    const a = this.agents.get(name.toLowerCase());
    if (!a) throw new AgentError('NOT_AN_AGENT', `${name} is not an agent`);
    if (a.state !== AgentState.WrapUp) throw new AgentError('NOT_IN_WRAP_UP', `${a.username} is ${a.state}, not in wrap-up`);
    this.transition(a.username, AgentState.Available, { by });
    return this.snapshot(a);
  }

  /** Stops wrap-up timers (shutdown). */
  close(): void {
    for (const a of this.agents.values()) if (a.wrapTimer) this.clock.clearTimeout(a.wrapTimer);
  }

  private snapshot(a: AgentRecord): AgentSnapshot {
    return {
      username: a.username,
      state: a.state,
      ...(a.reason ? { reason: a.reason } : {}),
      since: a.since,
      skills: { ...a.skills },
      callsHandled: a.callsHandled,
      averageHandleMs: a.callsCompleted ? Math.round(a.handleMsTotal / a.callsCompleted) : 0,
      ...(a.callId ? { callId: a.callId } : {}),
      version: a.version,
    };
  }
}
