/**
 * A call: the gateway-owned bridge between two legs (DESIGN.md decision 1). This object holds
 * the call's one truth — its state and timeline — and closes its legs and media when it ends.
 */
import { Emitter } from '../util/emitter.js';
import { log, type Logger } from '../util/log.js';
import type { Dialog } from '../sip/dialog.js';
import type { MediaEngine } from '../media/types.js';
import type { TimerHandle } from '../util/clock.js';

/**
 * Call states.
 * ```
 *  routing --> ringing --> connected --> ended
 *     \___________\____________________/^
 *  routing --> queued (answered, music) --> connected (an agent answered) --> ended
 *  connected --> queued (blind transfer into a queue)
 * ```
 */
export enum CallState {
  Routing = 'routing',
  /** Answered by the gateway and waiting in a queue (the caller hears music). */
  Queued = 'queued',
  Ringing = 'ringing',
  Connected = 'connected',
  Ended = 'ended',
}

const ALLOWED: Record<CallState, readonly CallState[]> = {
  [CallState.Routing]: [CallState.Ringing, CallState.Queued, CallState.Connected, CallState.Ended],
  [CallState.Queued]: [CallState.Connected, CallState.Ended],
  [CallState.Ringing]: [CallState.Connected, CallState.Ended],
  // connected → queued: blind-transferred into a queue.
  [CallState.Connected]: [CallState.Queued, CallState.Ended],
  [CallState.Ended]: [],
};

/**
 * Content type of the JSON control bodies the SDK and the gateway exchange: in-dialog INFO for
 * call control, out-of-dialog MESSAGE for contact-center commands (docs/protocol.md).
 */
export const CONTROL_TYPE = 'application/x-switchboard-control+json';

/** A side of a call. */
export type Side = 'caller' | 'callee';

/** The other side. */
export function otherSide(side: Side): Side {
  return side === 'caller' ? 'callee' : 'caller';
}

/**
 * Thrown into a call's setup when the call ended while a step was in flight (the caller
 * cancelled, a timeout fired): the step's resources are already released; stop quietly.
 */
export class CallEndedError extends Error {
  override name = 'CallEndedError';
}

/** A refusal of an in-call operation; `status` is the SIP response it becomes. */
export class CallOperationError extends Error {
  override name = 'CallOperationError';
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Whether a leg is a browser (WebRTC endpoint; the media engine names endpoints by kind). */
export function isBrowserLeg(leg: Leg): boolean {
  return !!leg.endpointId?.startsWith('webrtc');
}

/** One leg: a SIP dialog (once confirmed) and its media endpoint. */
export interface Leg {
  /** Who is on this leg (user name, or "echo"). */
  party: string;
  endpointId?: string;
  dialog?: Dialog;
  /** Set while the leg's browser is disconnected (WebSocket lost): the grace timer that ends the call. */
  detached?: TimerHandle;
}

/** Why and by whom a call ended. */
export interface CallEnd {
  by: Side | 'gateway';
  status: number;
  reason: string;
}

/** One step of a call's life, for its record (docs/contact-center.md lists the events). */
export interface TimelineEvent {
  at: number;
  event: string;
  detail?: string;
}

/** Events of a call. */
export type CallEvents = {
  stateChanged: [state: CallState, previous: CallState];
};

/** A bridged call. */
export class Call extends Emitter<CallEvents> {
  state = CallState.Routing;
  readonly createdAt = Date.now();
  answeredAt?: number;
  endedAt?: number;
  end?: CallEnd;
  /** Media negotiation costs at the gateway, for logs and benchmarks. */
  readonly timings: { calleeOfferMs?: number; callerAnswerMs?: number } = {};
  /**
   * The caller-side answer sent with a 183 when the callee sent early media (ringback, an
   * announcement): the 200 OK must carry the same SDP (RFC 3261 §13.2.1, no 100rel).
   */
  earlyMedia?: Promise<string>;
  /** Mute as each browser party reported it (local mute; shown to supervisors). */
  readonly muted: { caller: boolean; callee: boolean } = { caller: false, callee: false };
  /** Which side put the call on hold (the other side hears music), if any. */
  heldBy?: Side;
  /** The negotiated G.711 codec of the bridge (new legs must use it: no transcoding). */
  codec?: import('../media/sdp.js').CodecName;
  /** Set while a transfer is in progress (hold is refused meanwhile). */
  transferring?: boolean;
  /** Transfer hops, for the call record: who sent the call where, and how it went. */
  readonly transfers: Array<{ at: number; by: string; to: string; result: string }> = [];
  /** The in-call operation in progress (hold, resume…): the next one waits for it. */
  private busy?: Promise<void>;
  /** The trunk the call came in on or went out through, if any. */
  trunk?: string;
  /**
   * The trunk channels this call holds (counted in each trunk's `active`): the one it came in on
   * or goes out through, and one per leg added through a trunk later. Released when it ends.
   */
  readonly trunkSeats = new Map<string, () => void>();

  /** Takes a channel of `trunk` for this call (once per trunk); false when it has none free. */
  seat(trunk: { name: string; active: number; hasRoom: boolean }): boolean {
    if (this.trunkSeats.has(trunk.name)) return true;
    if (!trunk.hasRoom) return false;
    trunk.active++;
    this.trunkSeats.set(trunk.name, () => trunk.active--);
    return true;
  }

  /** Gives a trunk's channel back (a failed attempt). */
  unseat(name: string): void {
    this.trunkSeats.get(name)?.();
    this.trunkSeats.delete(name);
  }
  /** The queue the call went through, and the agent who answered it there. */
  queue?: string;
  agent?: string;
  /** What happened, in order: arrived, queued, offered, answered, transferred, ended… */
  readonly timeline: TimelineEvent[] = [];
  readonly caller: Leg;
  readonly callee: Leg;
  /** The logger for this call: every line it writes carries the call id (`callId`). */
  readonly log: Logger;
  /**
   * Everything this call holds — media endpoints and SIP dialogs, in a leg or not yet (a callee
   * still ringing, a transfer target) — so that however the call ends, at whatever step of its
   * setup, {@link hangup} releases all of it.
   */
  private readonly owned = { endpoints: new Set<string>(), dialogs: new Set<Dialog>() };

  constructor(
    readonly id: string,
    caller: string,
    callee: string,
    private readonly media: MediaEngine,
  ) {
    super();
    this.log = log.with({ callId: id });
    this.caller = { party: caller };
    this.callee = { party: callee };
    this.note('arrived', `${caller} -> ${callee}`);
  }

  /**
   * Creates a media endpoint owned by this call. If the call ended while it was being created,
   * the endpoint is closed at once and {@link CallEndedError} is thrown.
   */
  async createEndpoint(kind: 'webrtc' | 'rtp'): Promise<string> {
    const id = await this.media.createEndpoint(kind);
    if (this.state === CallState.Ended) {
      await this.media.closeEndpoint(id).catch(() => undefined);
      throw new CallEndedError(`call ${this.id} ended during setup`);
    }
    this.owned.endpoints.add(id);
    return id;
  }

  /** Closes an endpoint this call owns (a failed attempt, a replaced leg). */
  async closeEndpoint(id: string): Promise<void> {
    this.owned.endpoints.delete(id);
    await this.media.closeEndpoint(id).catch(() => undefined);
  }

  /** Takes over an endpoint or dialog from another call (a transfer joins two calls). */
  adopt(res: { endpointId?: string | undefined; dialog?: Dialog | undefined }, from?: Call): void {
    if (res.endpointId) {
      from?.owned.endpoints.delete(res.endpointId);
      this.owned.endpoints.add(res.endpointId);
    }
    if (res.dialog) {
      from?.owned.dialogs.delete(res.dialog);
      this.owned.dialogs.add(res.dialog);
    }
  }

  /** A dialog this call holds; BYE'd when the call ends (if still up). Throws {@link CallEndedError} after the end. */
  ownDialog(d: Dialog): void {
    if (this.state === CallState.Ended) {
      d.bye().catch(() => undefined);
      throw new CallEndedError(`call ${this.id} ended during setup`);
    }
    this.owned.dialogs.add(d);
  }

  /** Lets go of a dialog (it ended, or was BYE'd on purpose). */
  releaseDialog(d: Dialog): void {
    this.owned.dialogs.delete(d);
  }

  /** Records a transfer hop, and a timeline step for it. */
  addTransfer(hop: { by: string; to: string; result: string }): void {
    this.transfers.push({ at: Date.now(), ...hop });
    this.note('transfer', `${hop.by} -> ${hop.to}: ${hop.result}`);
  }

  /** Adds a step to the timeline. */
  note(event: string, detail?: string): void {
    this.timeline.push({ at: Date.now(), event, ...(detail !== undefined ? { detail } : {}) });
  }

  /** Runs an in-call operation after the one in progress (one at a time per call). */
  serialize(op: () => Promise<void>): Promise<void> {
    const next = (this.busy ?? Promise.resolve()).then(op, op);
    this.busy = next.catch(() => undefined);
    return next;
  }

  /** The one guarded state change; emits only on change and logs `old -> new`. */
  setState(next: CallState): boolean {
    const prev = this.state;
    if (prev === next) return true;
    if (!ALLOWED[prev].includes(next)) {
      this.log.warn('call', `invalid transition ${prev} -> ${next}`);
      return false;
    }
    this.state = next;
    if (next === CallState.Connected) {
      this.answeredAt = Date.now();
      this.note('answered', this.callee.party);
    } else if (next === CallState.Ringing) this.note('ringing', this.callee.party);
    else if (next === CallState.Ended && this.end) this.note('ended', `by ${this.end.by === 'gateway' ? 'gateway' : this[this.end.by].party}: ${this.end.status} ${this.end.reason}`);
    this.log.info('call', `${this.caller.party} -> ${this.callee.party}: ${prev} -> ${next}`);
    this.emit('stateChanged', next, prev);
    return true;
  }

  /** Ends the call once: BYE to every dialog it holds that is still up, every endpoint closed. */
  hangup(end: CallEnd): void {
    if (this.state === CallState.Ended) return;
    this.end = end;
    this.endedAt = Date.now();
    this.setState(CallState.Ended);
    const dialogs = new Set(this.owned.dialogs);
    const endpoints = new Set(this.owned.endpoints);
    for (const leg of [this.caller, this.callee]) {
      if (leg.dialog) dialogs.add(leg.dialog);
      if (leg.endpointId) endpoints.add(leg.endpointId);
    }
    this.owned.dialogs.clear();
    this.owned.endpoints.clear();
    for (const release of this.trunkSeats.values()) release();
    this.trunkSeats.clear();
    for (const d of dialogs) d.bye().catch((err: Error) => this.log.warn('call', `BYE failed: ${err.message}`));
    for (const id of endpoints) this.media.closeEndpoint(id).catch(() => undefined);
  }
}
