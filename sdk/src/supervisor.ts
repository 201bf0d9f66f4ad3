/**
 * Supervision for users with the supervisor or admin role: list the live calls, and listen in on
 * an agent's call — silently (monitor), coaching the agent only (whisper) or as a full party
 * (barge) — switching modes at any time without a new call.
 */
import type { CenterCommand } from '@switchboard/protocol';
import type { Call, SupervisionMode } from './call.js';
import { CallState } from './call.js';
import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';

/** A call in progress as a supervisor sees it. */
export interface LiveCall {
  /** The gateway's call id (pass it to {@link Supervisor.monitor} to pick this exact call). */
  id: string;
  /** Where the call is: being routed, waiting in a queue, ringing an agent, or connected. */
  state: 'routing' | 'queued' | 'ringing' | 'connected';
  /** When it started (ms since the epoch, gateway clock). */
  startedAt: number;
  /** When it was answered. */
  answeredAt?: number;
  /** The queue it came through, if any. */
  queue?: string;
  /** The agent who took it from a queue. */
  agent?: string;
  /** Everyone in the call now. */
  parties: LiveParty[];
}

/** One party of a {@link LiveCall}. */
export interface LiveParty {
  /** The gateway's id of the party in the call. */
  id: string;
  /** User name or number. */
  name: string;
  /** The call's two principal parties, an added participant, or a supervisor. */
  role: 'caller' | 'callee' | 'participant' | 'supervisor';
  /** Talking, or a supervisor's mode. */
  mode: 'conference' | SupervisionMode;
  /** Muted (by the party, or by the server). */
  muted: boolean;
  /** On hold. */
  onHold: boolean;
  /**
   * How this party's audio reaches the gateway, last sampled (every 5 s by default): E-model MOS,
   * jitter (ms), loss over the interval (%), when (ms since the epoch). Absent until sampled.
   */
  quality?: {
    /** Mean opinion score, 1–4.5. */
    mos: number;
    /** Interarrival jitter, ms. */
    jitterMs: number;
    /** Packets lost in the last interval, percent. */
    lossPct: number;
    /** When it was sampled. */
    at: number;
  };
}

/** Events of a {@link Supervision}. */
export type SupervisionEvents = {
  /** The mode changed (this supervisor's {@link Supervision.setMode}). */
  modeChanged: [mode: SupervisionMode];
  /** The supervision ended: the supervisor left, or the call ended. */
  ended: [];
};

/** One supervisor listening in on one call. */
export class Supervision extends Emitter<SupervisionEvents> {
  private current: SupervisionMode;

  /** @internal Created by {@link Supervisor}. */
  constructor(
    /** The supervisor's own audio session into the call (its `remoteStream` is what the supervisor hears). */
    readonly call: Call,
    mode: SupervisionMode,
    /** The agent or call id supervised. */
    readonly target: string,
  ) {
    super();
    this.current = mode;
    call.on('ended', () => this.emit('ended'));
  }

  /** The current mode. */
  get mode(): SupervisionMode {
    return this.current;
  }

  /** Whether it is still going. */
  get active(): boolean {
    return this.call.state !== CallState.Ended;
  }

  /**
   * Switches mode mid-call: only who hears whom changes, at once; nothing is renegotiated.
   * @throws SB_INVALID_STATE when the supervision has ended; SB_INVALID_ARGUMENT for another mode.
   */
  async setMode(mode: SupervisionMode): Promise<void> {
    if (mode !== 'monitor' && mode !== 'whisper' && mode !== 'barge') throw new SwitchboardError('SB_INVALID_ARGUMENT', `"${String(mode)}" is not monitor, whisper or barge`);
    if (this.call.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'The supervision is not connected');
    if (mode === this.current) return;
    await this.call._control({ type: 'supervise-mode', mode });
    this.current = mode;
    this.emit('modeChanged', mode);
  }

  /** Leaves the call (the agent and the customer go on). */
  async end(): Promise<void> {
    await this.call.hangup();
  }
}

/** What the supervisor API needs from the softphone. */
export interface SupervisorHost {
  command(message: CenterCommand): Promise<Record<string, unknown>>;
  superviseCall(target: string, mode: SupervisionMode): Promise<Call>;
}

/** The supervisor's tools (`Softphone.supervisor`). The gateway refuses non-supervisors with `SB_FORBIDDEN`. */
export class Supervisor {
  /** @internal */
  constructor(private readonly host: () => SupervisorHost | undefined) {}

  private get h(): SupervisorHost {
    const h = this.host();
    if (!h) throw new SwitchboardError('SB_NOT_CONNECTED');
    return h;
  }

  /** The calls in progress, each with its parties (agents, customers, supervisors). */
  async calls(): Promise<LiveCall[]> {
    const r = await this.h.command({ type: 'calls' });
    return Array.isArray(r.calls) ? (r.calls as LiveCall[]) : [];
  }

  /** Listens to an agent's call silently: the supervisor hears everyone, nobody hears the supervisor. */
  monitor(agentOrCallId: string): Promise<Supervision> {
    return this.start(agentOrCallId, 'monitor');
  }

  /** Coaches an agent: the supervisor hears everyone; only the agent hears the supervisor. */
  whisper(agentOrCallId: string): Promise<Supervision> {
    return this.start(agentOrCallId, 'whisper');
  }

  /** Joins an agent's call as a full party: everybody hears the supervisor. */
  barge(agentOrCallId: string): Promise<Supervision> {
    return this.start(agentOrCallId, 'barge');
  }

  /**
   * Starts supervising `agentOrCallId` (an agent's user name or extension, or a call id from
   * {@link calls}). Resolves when connected.
   * @throws SB_FORBIDDEN for users who are not supervisors or admins; SB_TARGET_NOT_FOUND when
   *         the agent is on no call; SB_INVALID_ARGUMENT for an empty target.
   */
  async start(agentOrCallId: string, mode: SupervisionMode): Promise<Supervision> {
    const target = typeof agentOrCallId === 'string' ? agentOrCallId.trim() : '';
    if (!target || !/^[A-Za-z0-9.+_-]{1,64}$/.test(target)) throw new SwitchboardError('SB_INVALID_ARGUMENT', `"${String(agentOrCallId)}" is not an agent or call id`);
    const call = await this.h.superviseCall(target, mode);
    await new Promise<void>((resolve, reject) => {
      if (call.state === CallState.Connected) return resolve();
      call.on('stateChanged', (s) => {
        if (s === CallState.Connected) resolve();
      });
      call.on('ended', (info) => reject(info.error ?? new SwitchboardError('SB_CALL_FAILED', 'The supervision ended before it started')));
    });
    return new Supervision(call, mode, target);
  }
}
