/**
 * A call: the gateway-owned bridge of its parties (DESIGN.md decision 1). This object holds the
 * call's one truth — its state, its parties and how each takes part, its timeline — builds the
 * media bridge from the parties (the hearing matrix, hearing.ts) and releases everything when it
 * ends.
 *
 * Every call has two principal parties, the caller and the callee (the customer and the agent of
 * a queue call); transfers replace one of them. A conference adds participants; a supervisor
 * joins as a party in monitor, whisper or barge mode. When a principal leaves a conference that
 * goes on, a participant takes its place, so two-party operations (hold, transfer) keep working
 * on what remains.
 */
import { Emitter } from '../util/emitter.js';
import { log, type Logger } from '../util/log.js';
import type { Dialog } from '../sip/dialog.js';
import type { BridgeMember, MediaEngine } from '../media/types.js';
import type { TimerHandle } from '../util/clock.js';
import type { CallData } from '@switchboard/protocol';
import { hearingMatrix, type PartyMode } from './hearing.js';

export type { PartyMode } from './hearing.js';

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

/** Ringing in progress for a call (a Fork, fork.ts), as the call and device mode see it. */
export interface RingingFork {
  readonly attempt: { user?: string };
  /** Click-to-answer: the devices pick up by themselves; how many were asked. */
  answerNow(): number;
  /** Declined from the desktop (486). */
  decline(): void;
  /** Stops ringing (487). */
  cancel(): void;
}

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

/** What a party is to the call: one of its two principals, an added participant, or a supervisor. */
export type PartyRole = 'caller' | 'callee' | 'participant' | 'supervisor';

/** One party of a call: a SIP dialog (once confirmed), its media endpoint and how it takes part. */
export interface Leg {
  /** Id of the party within the call (`p1`, `p2`…, new for each person), as the SDK's roster names it. */
  id: string;
  /** Who is on this leg (user name, number, queue name while waiting, or "echo"). */
  party: string;
  role: PartyRole;
  /** How it takes part (who hears it, whom it hears); principals and participants: conference. */
  mode: PartyMode;
  endpointId?: string;
  dialog?: Dialog;
  /** Set while the leg's browser is disconnected (WebSocket lost): the grace timer that ends the call. */
  detached?: TimerHandle;
  /** In the media bridge (answered, or early media); false while ringing. */
  joined: boolean;
  /** This party holds: it hears nothing and nobody hears it (the other party hears music). */
  holding: boolean;
  /** Muted at the gateway (an agent muted this participant): nobody hears it. */
  serverMuted: boolean;
  /** Mute as this party's own SDK reported it (its microphone). */
  muted: boolean;
  /** Music instead of the call (waiting in a queue): a WAV file, '' for the default. */
  music?: string | undefined;
  /** A whispering supervisor's agent: the party (id) who hears the whisper. */
  coaches?: string | undefined;
  /** A user of the gateway (agent, supervisor) rather than a number or device outside it. */
  user?: boolean;
  /** How this party's audio reaches the gateway, last sampled (calls/quality.ts). */
  quality?: LegQualitySample;
}

/** One sample of a party's incoming audio at the gateway: E-model MOS, jitter, loss over the interval. */
export interface LegQualitySample {
  mos: number;
  jitterMs: number;
  lossPct: number;
  /** When it was taken (ms since the epoch). */
  at: number;
}

/** A party's audio over the call, for its record: average and worst MOS, worst loss and jitter. */
export interface LegQualitySummary {
  avgMos: number;
  worstMos: number;
  worstLossPct: number;
  maxJitterMs: number;
  samples: number;
}

/** A party's entry in the call record: when it joined and left, and its modes over time. */
export interface PartyRecord {
  id: string;
  party: string;
  role: PartyRole;
  joinedAt: number;
  leftAt?: number;
  /** Each mode it had, from when; the first is the one it joined in. */
  modes: Array<{ at: number; mode: PartyMode }>;
  /** Who brought it in (an agent adding a participant, the supervisor themself). */
  by?: string;
  /** For a supervisor: the agent it supervised. */
  supervises?: string;
  /** Its incoming audio at the gateway over the call (when sampled). */
  quality?: LegQualitySummary;
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
  /** Who is in the call, or whose devices ring for it, changed (busy lamps follow it). */
  parties: [];
};

/** A bridged call. */
export class Call extends Emitter<CallEvents> {
  state = CallState.Routing;
  readonly createdAt = Date.now();
  answeredAt?: number;
  endedAt?: number;
  end?: CallEnd;
  /** Where a call's setup time went (logged when it connects; bench:media reads the log). */
  readonly timings: { calleeOfferMs?: number; callerAnswerMs?: number; bridgeMs?: number; inviteAt?: number } = {};
  /**
   * The caller-side answer sent with a 183 when the callee sent early media (ringback, an
   * announcement): the 200 OK must carry the same SDP (RFC 3261 §13.2.1, no 100rel).
   */
  earlyMedia?: Promise<string>;
  /** Which principal holds the call (the other hears music), if any. */
  get heldBy(): Side | undefined {
    return this.caller.holding ? 'caller' : this.callee.holding ? 'callee' : undefined;
  }
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
  /** What the caller dialled (a trunk call: the DID), before routing. */
  dialed = '';
  /** The caller's display name, when the INVITE carried one. */
  callerName?: string;
  /** Attributes attached to the call (from SIP headers, desktops, a CRM): part of {@link data}. */
  attributes: Record<string, string> = {};

  /** What a desktop is told about the call (`call.data` in the SDK). */
  data(): CallData {
    const queuedAt = this.timeline.find((e) => e.event === 'queued')?.at;
    return {
      caller: this.caller.party,
      ...(this.callerName ? { callerName: this.callerName } : {}),
      dialed: this.dialed,
      ...(this.queue ? { queue: this.queue } : {}),
      ...(this.trunk ? { trunk: this.trunk } : {}),
      ...(queuedAt !== undefined ? { waitMs: (this.answeredAt ?? Date.now()) - queuedAt } : {}),
      attributes: { ...this.attributes },
    };
  }
  /** What happened, in order: arrived, queued, offered, answered, transferred, ended… */
  readonly timeline: TimelineEvent[] = [];
  /** The parties in the call now (the two principals, participants, supervisors). */
  readonly parties: Leg[] = [];
  /** Every party that was ever in the call, for its record. */
  readonly partyLog: PartyRecord[] = [];
  /** The echo test: the caller hears itself. */
  echo = false;
  /** A third party joined at some point: the browsers get the roster from then on. */
  conferenced = false;
  private nextParty = 1;
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
    this.parties.push(this.newLeg(caller, 'caller'), this.newLeg(callee, 'callee'));
    this.note('arrived', `${caller} -> ${callee}`);
  }

  /** A new party object (not yet in the call). */
  newLeg(party: string, role: PartyRole, mode: PartyMode = 'conference'): Leg {
    return { id: `p${this.nextParty++}`, party, role, mode, joined: false, holding: false, serverMuted: false, muted: false };
  }

  /** The caller principal (the customer of an inbound call). */
  get caller(): Leg {
    return this.parties.find((p) => p.role === 'caller')!;
  }

  /** The callee principal (the agent of a queue call). */
  get callee(): Leg {
    return this.parties.find((p) => p.role === 'callee')!;
  }

  /** The principal on `side`. */
  principal(side: Side): Leg {
    return side === 'caller' ? this.caller : this.callee;
  }

  /** The party using media endpoint `endpointId`, if any. */
  partyByEndpoint(endpointId: string): Leg | undefined {
    return this.parties.find((p) => p.endpointId === endpointId);
  }

  /** The party with this id. */
  party(id: string): Leg | undefined {
    return this.parties.find((p) => p.id === id);
  }

  /** Parties that talk in the call (conference or barge), joined. */
  get talkers(): Leg[] {
    return this.parties.filter((p) => p.joined && (p.mode === 'conference' || p.mode === 'barge'));
  }

  /**
   * A party is in the bridge now (answered; a new participant or supervisor is added to the
   * parties here). Its record entry opens.
   */
  joined(leg: Leg, by?: string, supervises?: string): void {
    if (!this.parties.includes(leg)) this.parties.push(leg);
    if (leg.joined) return;
    leg.joined = true;
    if (leg.user) this.ringingUsers.delete(leg.party.toLowerCase());
    this.emit('parties');
    const now = Date.now();
    this.partyLog.push({ id: leg.id, party: leg.party, role: leg.role, joinedAt: now, modes: [{ at: now, mode: leg.mode }], ...(by ? { by } : {}), ...(supervises ? { supervises } : {}) });
    if (leg.role === 'participant' || (leg.role === 'supervisor' && leg.mode === 'barge')) this.conferenced = true;
  }

  /**
   * Someone else takes a principal's place (a transfer answered): the old party's record entry
   * closes and the slot gets a new id, person, endpoint and dialog — not holding, not muted.
   */
  replaceParty(leg: Leg, next: { party: string; endpointId?: string | undefined; dialog?: Dialog | undefined; user?: boolean | undefined; joined: boolean }): void {
    this.left(leg);
    leg.id = `p${this.nextParty++}`;
    leg.party = next.party;
    if (next.endpointId) leg.endpointId = next.endpointId;
    else delete leg.endpointId;
    if (next.dialog) leg.dialog = next.dialog;
    else delete leg.dialog;
    if (next.user !== undefined) leg.user = next.user;
    else delete leg.user;
    leg.mode = 'conference';
    leg.holding = false;
    leg.serverMuted = false;
    leg.muted = false;
    delete leg.music;
    delete leg.detached;
    if (next.joined) this.joined(leg);
  }

  /** A party's mode changed (a supervisor switching monitor → whisper → barge). */
  setMode(leg: Leg, mode: PartyMode): void {
    if (leg.mode === mode) return;
    leg.mode = mode;
    if (mode === 'barge') this.conferenced = true;
    this.partyLog.find((r) => r.id === leg.id && r.leftAt === undefined)?.modes.push({ at: Date.now(), mode });
    this.note('mode', `${leg.party}: ${mode}`);
  }

  /** A party left (or is being replaced in its slot): its record entry closes. Principals keep their slot. */
  left(leg: Leg): void {
    const i = this.parties.indexOf(leg);
    if (i >= 0 && leg.role !== 'caller' && leg.role !== 'callee') this.parties.splice(i, 1);
    if (!leg.joined) return;
    leg.joined = false;
    const open = this.partyLog.find((r) => r.id === leg.id && r.leftAt === undefined);
    if (open) open.leftAt = Date.now();
    this.emit('parties');
  }

  /**
   * Users whose devices ring for this call now — an offer from a queue, a transfer or an added
   * participant still ringing (parallel ringing: every registration of the user).
   */
  readonly ringingUsers = new Set<string>();
  /** The ringing in progress for this call (a Fork per rung user), so a desktop can answer it for its device. */
  readonly forks = new Set<RingingFork>();
  /** A click-to-dial call: the user whose desktop placed it (their device is the caller). */
  clickToDial?: string;

  /** A user's devices start or stop ringing for this call. */
  ringing(user: string, on: boolean): void {
    const key = user.toLowerCase();
    if (on === this.ringingUsers.has(key)) return;
    if (on) this.ringingUsers.add(key);
    else this.ringingUsers.delete(key);
    this.emit('parties');
  }

  /**
   * The media bridge as the parties stand: every joined party with an endpoint, and whom it
   * hears (the hearing matrix). The echo test's caller hears itself.
   */
  members(): BridgeMember[] {
    const inBridge = this.parties.filter((p): p is Leg & { endpointId: string } => p.joined && !!p.endpointId);
    if (this.echo && inBridge.length === 1) return [{ endpoint: inBridge[0]!.endpointId, hears: [inBridge[0]!.endpointId] }];
    const byId = new Map(inBridge.map((p) => [p.id, p.endpointId]));
    return hearingMatrix(inBridge).map((ear) => ({
      endpoint: byId.get(ear.id)!,
      hears: ear.hears.map((id) => byId.get(id)!),
      ...(ear.music !== undefined ? { music: ear.music } : {}),
    }));
  }

  /** Applies {@link members} to the media engine (after any change of parties, modes or hold). */
  async applyMedia(): Promise<void> {
    if (this.state === CallState.Ended) return;
    await this.media.setBridge(this.id, this.members());
  }

  /**
   * Creates a media endpoint owned by this call. If the call ended while it was being created,
   * the endpoint is closed at once and {@link CallEndedError} is thrown.
   */
  async createEndpoint(kind: 'webrtc' | 'rtp'): Promise<string> {
    const id = await this.media.createEndpoint(kind, this.id);
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
    else if (next === CallState.Ended && this.end) this.note('ended', `by ${this.end.by === 'gateway' ? 'gateway' : this.principal(this.end.by).party}: ${this.end.status} ${this.end.reason}`);
    this.log.info('call', `${this.caller.party} -> ${this.callee.party}: ${prev} -> ${next}`);
    this.emit('stateChanged', next, prev);
    return true;
  }

  /** Ends the call once: BYE to every dialog it holds that is still up, every endpoint closed. */
  hangup(end: CallEnd): void {
    if (this.state === CallState.Ended) return;
    this.end = end;
    this.endedAt = Date.now();
    // Everyone still in the call leaves with it (before the record is written on the state change).
    for (const r of this.partyLog) r.leftAt ??= this.endedAt;
    this.setState(CallState.Ended);
    // Whatever still rings for it stops (CANCEL).
    for (const f of [...this.forks]) f.cancel();
    const dialogs = new Set(this.owned.dialogs);
    const endpoints = new Set(this.owned.endpoints);
    for (const leg of this.parties) {
      if (leg.dialog) dialogs.add(leg.dialog);
      if (leg.endpointId) endpoints.add(leg.endpointId);
    }
    this.owned.dialogs.clear();
    this.owned.endpoints.clear();
    for (const release of this.trunkSeats.values()) release();
    this.trunkSeats.clear();
    for (const d of dialogs) d.bye().catch((err: Error) => this.log.warn('call', `BYE failed: ${err.message}`));
    this.media.closeBridge(this.id).catch(() => undefined);
    for (const id of endpoints) this.media.closeEndpoint(id).catch(() => undefined);
  }
}
