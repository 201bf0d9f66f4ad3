/**
 * The agent side of the contact center: this user's agent state (available, not ready with a
 * reason, ringing, on a call, wrap-up), the reason and wrap-up codes the gateway offers, and
 * live queue statistics. The gateway holds the truth; changes made anywhere (another tab, a
 * supervisor, the ACD) arrive here as events.
 */
import { Emitter } from './emitter.js';
import { parseAgentStatus, parseCenterStatistics, parseGatewayEvent, ProtocolError, type AgentStatus, type CenterStatistics, type CenterCommand } from '@switchboard/protocol';
import { SwitchboardError } from './errors.js';

/**
 * Agent states.
 * ```
 *  offline ⇄ available ⇄ not-ready(reason)
 *  available → ringing (a queue call is offered) → on-call → wrap-up → available
 *  ringing → not-ready("missed") when the agent does not answer in time
 * ```
 */
export enum AgentState {
  /** Logged out of the queues: offered no calls. */
  Offline = 'offline',
  /** Ready: queue calls are offered. */
  Available = 'available',
  /** Logged in but not taking queue calls, with a reason (break, lunch, missed…). */
  NotReady = 'not-ready',
  /** A queue call is being offered to this agent. */
  Ringing = 'ringing',
  /** On a call. */
  OnCall = 'on-call',
  /** After-call work: no calls until it is done or its time runs out. */
  WrapUp = 'wrap-up',
}

/**
 * The agent's status as the gateway reports it, the queue and center statistics: the wire types
 * of `@switchboard/protocol`, shared with the gateway (one definition, read through its parsers).
 */
export type { AgentStatus, AgentStatistics, CenterStatistics, QueueStatistics } from '@switchboard/protocol';

/** Events of an {@link Agent}. */
export type AgentEvents = {
  /** The agent's state changed (here, in another tab, by a supervisor or by the ACD). */
  stateChanged: [status: AgentStatus];
  /** New statistics (after {@link Agent.subscribeStats}). */
  stats: [stats: CenterStatistics];
};

/** @internal How the agent reaches the gateway. */
export type CommandSender = (message: CenterCommand) => Promise<Record<string, unknown>>;

/** This user's agent state and statistics. Get it from `Softphone.agent`. */
export class Agent extends Emitter<AgentEvents> {
  private current?: AgentStatus;
  private reasonCodes: string[] = [];
  private codes: string[] = [];
  private queueNames: string[] = [];
  private wrapSeconds = 0;
  private send?: CommandSender;

  /** The current status; undefined before connecting or when this user is not an agent. */
  get status(): AgentStatus | undefined {
    return this.current && { ...this.current };
  }

  /** The current state (`offline` before connecting). */
  get state(): AgentState {
    // The protocol's state names are this enum's values.
    return (this.current?.state as AgentState | undefined) ?? AgentState.Offline;
  }

  /** Not-ready reason codes offered by the gateway. */
  get reasons(): string[] {
    return [...this.reasonCodes];
  }

  /** Wrap-up (disposition) codes offered by the gateway. */
  get wrapUpCodes(): string[] {
    return [...this.codes];
  }

  /**
   * After-call work time: the gateway makes the agent available this many seconds after a queue
   * call ends (0: only when the agent says so). A desktop can count it down from the wrap-up
   * state's `since`. Known after connecting.
   */
  get wrapUpSeconds(): number {
    return this.wrapSeconds;
  }

  /** Names of the gateway's queues. */
  get queues(): string[] {
    return [...this.queueNames];
  }

  /**
   * Asks for a state: `available` (needs this softphone connected), `not-ready` with a reason
   * code from {@link Agent.reasons}, or `offline`. Resolves with the new status.
   * @throws SB_INVALID_ARGUMENT (unknown reason), SB_INVALID_STATE (e.g. during a call),
   *         SB_NOT_AN_AGENT, SB_NOT_CONNECTED.
   */
  async setState(state: AgentState.Available | AgentState.NotReady | AgentState.Offline | 'available' | 'not-ready' | 'offline', reason?: string): Promise<AgentStatus> {
    if (state !== 'available' && state !== 'not-ready' && state !== 'offline') throw new SwitchboardError('SB_INVALID_ARGUMENT', `Agents can ask for available, not-ready or offline, not "${String(state)}"`);
    if (state === 'not-ready' && !reason) throw new SwitchboardError('SB_INVALID_ARGUMENT', `not-ready needs a reason: one of ${this.reasonCodes.join(', ')}`);
    const reply = await this.command({ type: 'agent-state', state, ...(reason ? { reason } : {}) });
    return this.adopt(reply.agent);
  }

  /**
   * Wrap-up: a disposition code (from {@link Agent.wrapUpCodes}) and notes for the last queue
   * call, written into its call record; ends after-call work (the agent becomes available)
   * unless `done` is false.
   */
  async wrapUp(opts: { code?: string; notes?: string; done?: boolean } = {}): Promise<AgentStatus> {
    const reply = await this.command({ type: 'wrap-up', ...opts });
    return this.adopt(reply.agent);
  }

  /** Starts live statistics: resolves with the current numbers; `stats` events follow. */
  async subscribeStats(): Promise<CenterStatistics> {
    this.statsWanted = true;
    const raw = await this.command({ type: 'subscribe', topics: ['stats'] });
    const reply = this.parse(() => parseCenterStatistics(raw));
    this.emit('stats', reply);
    return reply;
  }

  /** Stops the `stats` events. */
  async unsubscribeStats(): Promise<void> {
    this.statsWanted = false;
    await this.command({ type: 'unsubscribe' });
  }

  private async command(message: CenterCommand): Promise<Record<string, unknown>> {
    if (!this.send) throw new SwitchboardError('SB_NOT_CONNECTED');
    return this.send(message);
  }

  private adopt(raw: unknown): AgentStatus {
    if (!raw || typeof raw !== 'object') throw new SwitchboardError('SB_NOT_AN_AGENT');
    const next = this.parse(() => parseAgentStatus(raw));
    if (this.current && this.current.username === next.username && next.version < this.current.version) return { ...this.current };
    const changed = !this.current || this.current.state !== next.state || this.current.reason !== next.reason || this.current.since !== next.since;
    this.current = next;
    if (changed) this.emit('stateChanged', { ...next });
    return { ...next };
  }

  /** @internal Connected: learns the codes and the current state. */
  async attach(send: CommandSender): Promise<void> {
    this.send = send;
    const hello = await send({ type: 'hello' });
    this.reasonCodes = Array.isArray(hello.reasons) ? (hello.reasons as string[]) : [];
    this.codes = Array.isArray(hello.wrapUpCodes) ? (hello.wrapUpCodes as string[]) : [];
    this.queueNames = Array.isArray(hello.queues) ? (hello.queues as string[]) : [];
    this.wrapSeconds = typeof hello.wrapUpSeconds === 'number' && hello.wrapUpSeconds >= 0 ? hello.wrapUpSeconds : 0;
    if (hello.agent) this.adopt(hello.agent);
  }

  /** @internal Reconnected: the state (it may have changed meanwhile) and the statistics subscription again. */
  async reattach(): Promise<void> {
    if (!this.send) return;
    await this.attach(this.send);
    if (this.statsWanted) await this.subscribeStats();
  }

  private statsWanted = false;

  /**
   * @internal An event pushed by the gateway. Unknown event types and fields are ignored (a newer
   * gateway); a malformed known one throws `SB_PROTOCOL_ERROR`, which the softphone reports as an
   * `error` event.
   */
  receive(body: Record<string, unknown>): void {
    const ev = this.parse(() => parseGatewayEvent(body));
    if (ev?.type === 'agent') this.adopt(ev.agent);
    else if (ev?.type === 'stats') this.emit('stats', { at: ev.at, queues: ev.queues, agents: ev.agents });
  }

  /** Runs a protocol parser; its complaint becomes a coded SDK error. */
  private parse<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (err instanceof ProtocolError) throw new SwitchboardError('SB_PROTOCOL_ERROR', `The gateway sent a malformed message: ${err.message}`, { cause: err });
      throw err;
    }
  }


  /** @internal Disconnected. */
  detach(): void {
    this.send = undefined;
  }
}
