/**
 * A call as an agent sees it: who, which state, and the buttons (answer, reject, hang up, mute).
 */
import { parseAttributes, parseControlMessage, ProtocolError, type CallData, type ControlMessage } from '@switchboard/protocol';
import { Emitter } from './emitter.js';
import { ERROR_CATALOG, errorFromStatus, SwitchboardError } from './errors.js';
import type { QueueInfo, SessionEnd, SignalingSession } from './signaling/types.js';
import { StateMachine } from './state.js';
import { QualityTracker, type QualityOptions, type QualitySample, type QualityWarning } from './quality.js';

/**
 * Call states.
 * ```
 *  outgoing:  dialing --> alerting --> connected --> ended
 *  incoming:  ringing ---------------> connected --> ended
 *  (every state can go to ended)
 * ```
 */
export enum CallState {
  /** Outgoing: the request is on its way. */
  Dialing = 'dialing',
  /** Outgoing: the far end is ringing. */
  Alerting = 'alerting',
  /** Incoming: waiting for this agent to answer or reject. */
  Ringing = 'ringing',
  /** Talking. */
  Connected = 'connected',
  /** Over; see {@link CallEndInfo}. */
  Ended = 'ended',
}

const ALLOWED: Record<CallState, readonly CallState[]> = {
  [CallState.Dialing]: [CallState.Alerting, CallState.Connected, CallState.Ended],
  [CallState.Alerting]: [CallState.Connected, CallState.Ended],
  [CallState.Ringing]: [CallState.Connected, CallState.Ended],
  [CallState.Connected]: [CallState.Ended],
  [CallState.Ended]: [],
};

/** How a call ended. */
export interface CallEndInfo {
  /** `local`: this agent hung up or rejected; `remote`: the other party did; `error`: it failed. */
  by: 'local' | 'remote' | 'error';
  /** The coded reason when `by` is `error` (e.g. `SB_TARGET_NOT_FOUND`). */
  error?: SwitchboardError;
  /**
   * True when an incoming call stopped ringing because another of this agent's devices (a desk
   * phone, another tab) answered it: show "answered elsewhere", not "missed".
   */
  answeredElsewhere?: boolean;
}

/** Events of a {@link Call}. */
export type CallEvents = {
  /** The state changed. */
  stateChanged: [state: CallState, previous: CallState];
  /** Mute was turned on or off. */
  muteChanged: [muted: boolean];
  /**
   * Hold changed. `by: 'local'` — this agent held the other party (they hear music, neither
   * hears the other); `by: 'remote'` — the other party held this one.
   */
  holdChanged: [hold: HoldState];
  /** The other party pressed a key (DTMF from a phone or trunk), in the order pressed. */
  dtmf: [digit: string];
  /** The call ended (also reflected as `stateChanged` to `ended`). */
  ended: [info: CallEndInfo];
  /** The connection to the gateway dropped; the call stays up (audio keeps flowing) while the softphone reconnects. */
  reconnecting: [];
  /** The softphone reconnected and this call is attached to the new connection. */
  reconnected: [];
  /** The softphone gave up reconnecting; the call ends (`ended` follows with the error). */
  disconnected: [error: SwitchboardError];
  /** A party joined the call (a participant added or merged in, a supervisor barging in). */
  participantJoined: [participant: Participant];
  /** A party left the call. */
  participantLeft: [participant: Participant];
  /** A party's mute, hold or mode changed. */
  participantUpdated: [participant: Participant];
  /**
   * A supervisor started, changed or ended supervising this agent's call (`null` when it ended).
   * Sent only when the gateway is configured to tell agents (`supervision.notifyAgent`).
   */
  supervised: [info: SupervisedInfo | null];
  /** The call's data changed: someone (this desktop, another party's, a CRM) attached attributes. */
  dataChanged: [data: CallData];
  /** A quality measurement, every `quality.intervalMs` (2 s) while connected: MOS, RTT, jitter, loss, codec. */
  quality: [sample: QualitySample];
  /** A quality warning started (a figure crossed its threshold). */
  warning: [warning: QualityWarning, sample: QualitySample];
  /** A quality warning ended (the figure was back for two samples in a row). */
  warningCleared: [warning: QualityWarning, sample: QualitySample];
};

/** Who supervises this agent's call, and how (see {@link CallEvents.supervised}). */
export interface SupervisedInfo {
  /** The supervisor's user name. */
  supervisor: string;
  /** Monitor, whisper or barge. */
  mode: SupervisionMode;
}

/** How a party takes part in a call: talking (conference), or a supervisor's mode. */
export type ParticipantMode = 'conference' | SupervisionMode;

/** A supervisor's mode: `monitor` (silent), `whisper` (only the agent hears), `barge` (everybody hears). */
export type SupervisionMode = 'monitor' | 'whisper' | 'barge';

/**
 * A party of a call with more than two (see {@link Call.participants}). The customer never sees
 * silent or whispering supervisors; supervisors see everyone.
 */
export interface Participant {
  /** The gateway's id of this party in the call (for {@link Call.removeParticipant}, {@link Call.muteParticipant}). */
  id: string;
  /** User name or number. */
  name: string;
  /** `caller` and `callee` are the call's two principal parties; `participant` was added; `supervisor` listens in or barged. */
  role: 'caller' | 'callee' | 'participant' | 'supervisor';
  /** Talking (`conference`) or a supervisor's mode. */
  mode: ParticipantMode;
  /** Muted: by its own softphone, or at the gateway by an agent (`serverMuted`). */
  muted: boolean;
  /** Muted at the gateway by an agent ({@link Call.muteParticipant}). */
  serverMuted: boolean;
  /** Holding (it hears nobody and nobody hears it). */
  onHold: boolean;
  /** This softphone's own party. */
  self: boolean;
}

/** Who holds whom; `onHold: false` when the call is not on hold. */
export interface HoldState {
  /** Whether the call is on hold. */
  onHold: boolean;
  /** Who put it on hold: this agent (`local`) or the other party (`remote`). */
  by?: 'local' | 'remote';
}

let nextCallId = 1;

/** One call. Obtained from `Softphone.dial()` or the `incoming` event. */
export class Call extends Emitter<CallEvents> {
  /** An id unique within this page, known from the start (see {@link Call.id} for the gateway's). */
  readonly localId = `call-${nextCallId++}`;
  /** `outgoing` for dialled calls, `incoming` for offered ones. */
  readonly direction: 'incoming' | 'outgoing';
  /** The other party's user name or number. */
  readonly remoteUser: string;
  /** The other party's display name, when known. */
  readonly remoteDisplayName: string | undefined;
  /** When the call was created (ms since epoch). */
  readonly startedAt = Date.now();
  /** When it connected. */
  connectedAt: number | undefined;
  /** How it ended, once ended. */
  endInfo: CallEndInfo | undefined;
  private readonly machine: StateMachine<CallState>;
  private isMuted = false;
  private holdInfo: HoldState = { onHold: false };
  /** Serializes hold/resume: one in-call operation at a time. */
  private pending?: Promise<void>;
  private roster: Participant[] = [];
  private audio?: HTMLAudioElement;

  /** @internal Created by the Softphone. */
  constructor(
    private readonly session: SignalingSession,
    private readonly opts: {
      autoPlay: boolean;
      /** The output device call audio plays on ('' = the default). */
      outputDevice?: () => string;
      dial?: (target: string) => Promise<Call>;
      wrapUp?: (o: { code?: string; notes?: string; done?: boolean }) => Promise<unknown>;
      attach?: (callId: string, attributes: Record<string, string | null>) => Promise<CallData>;
      quality?: QualityOptions;
    },
  ) {
    super();
    this.direction = session.direction;
    this.remoteUser = session.remote.user;
    this.remoteDisplayName = session.remote.displayName;
    this.machine = new StateMachine<CallState>(session.direction === 'incoming' ? CallState.Ringing : CallState.Dialing, ALLOWED, (next, prev) => {
      if (next === CallState.Connected) this.connectedAt = Date.now();
      this.emit('stateChanged', next, prev);
    });
    session.on('progress', (code: number) => {
      this.machine.to(CallState.Alerting);
      // 183 Session Progress carries early media (ringback, an announcement): play it now.
      if (code === 183) this.playRemoteAudio();
    });
    session.on('accepted', () => {
      this.machine.to(CallState.Connected);
      this.playRemoteAudio();
      this.startQuality();
    });
    session.on('ended', (end: SessionEnd) => this.finish(end));
    session.on('control', (raw) => {
      // The shared protocol's reader: unknown types are ignored; a malformed message is not
      // applied, and the reason is logged (nothing awaits it to reject).
      let msg: ControlMessage | undefined;
      try {
        msg = parseControlMessage(raw);
      } catch (err) {
        if (err instanceof ProtocolError) console.warn(`[switchboard] control message ignored: ${err.message}`);
        return;
      }
      if (msg?.type === 'hold') this.setHold(msg.onHold ? { onHold: true, by: 'remote' } : { onHold: false });
      else if (msg?.type === 'dtmf') this.emit('dtmf', msg.digit);
      else if (msg?.type === 'participants') this.setRoster(msg.participants as unknown[], msg.self);
      else if (msg?.type === 'supervision') this.emit('supervised', msg.mode ? { supervisor: msg.supervisor, mode: msg.mode } : null);
      else if (msg?.type === 'data') this.adoptData(msg.data);
    });
  }

  /**
   * The gateway's id for this call — the `id` of its record in `/api/records`, to link the call
   * to a CRM ticket or look its record up. Known at once for an incoming call, from the first
   * ringing (or the answer) for an outgoing one; undefined before that.
   */
  get id(): string | undefined {
    return this.session.gatewayCallId;
  }

  /**
   * For a call offered by a queue: the queue's name, how long the caller had waited when it
   * rang here (seconds), and the caller. Undefined for direct calls.
   */
  get queue(): QueueInfo | undefined {
    return this.session.queue && { ...this.session.queue };
  }

  /**
   * What the contact center knows about the call, for a screen pop or a CRM lookup: the caller
   * (and their name), what they dialled (a DID), the queue and wait, the trunk, and attributes
   * attached to the call — by the carrier or an IVR in SIP headers the gateway maps
   * (`center.callDataHeaders`), by a desktop ({@link Call.setData}) or a CRM (`POST
   * /api/calls/:id/data`). Kept current; `dataChanged` tells when it changes. Undefined for a
   * call through a server that sends none.
   */
  get data(): CallData | undefined {
    const d = this.dataNow ?? this.session.callData;
    return d && { ...d, attributes: { ...d.attributes } };
  }

  /**
   * Attaches attributes to the call (a CRM case id, a customer number the agent looked up); a
   * `null` value removes one. Kept in the call record — also after the call has ended (during
   * wrap-up). Resolves with the call's data; every desktop on the call gets `dataChanged`.
   * @throws SB_INVALID_ARGUMENT for a bad key or value or too many attributes (see
   *         `CALL_DATA_LIMITS`); SB_INVALID_STATE before the gateway has named the call.
   */
  async setData(attributes: Record<string, string | null>): Promise<CallData> {
    let checked: Record<string, string | null>;
    try {
      checked = parseAttributes(attributes);
    } catch (err) {
      throw new SwitchboardError('SB_INVALID_ARGUMENT', (err as Error).message);
    }
    const id = this.id;
    if (!id) throw new SwitchboardError('SB_INVALID_STATE', 'The gateway has not named this call yet');
    if (!this.opts.attach) throw new SwitchboardError('SB_NOT_CONNECTED');
    const data = await this.opts.attach(id, checked);
    this.adoptData(data);
    return this.data!;
  }

  private dataNow?: CallData;

  private adoptData(data: CallData): void {
    const changed = JSON.stringify(data) !== JSON.stringify(this.dataNow ?? this.session.callData);
    this.dataNow = data;
    if (changed) this.emit('dataChanged', this.data!);
  }

  /**
   * After a queue call: records a wrap-up (disposition) code and notes on its call record and
   * ends after-call work (unless `done` is false). See `Agent.wrapUpCodes` for the codes.
   * @throws SB_INVALID_STATE before the call has ended; SB_INVALID_ARGUMENT for an unknown code.
   */
  async wrapUp(opts: { code?: string; notes?: string; done?: boolean } = {}): Promise<void> {
    if (this.state !== CallState.Ended) throw new SwitchboardError('SB_INVALID_STATE', 'Wrap up a call after it has ended');
    if (!this.opts.wrapUp) throw new SwitchboardError('SB_NOT_CONNECTED');
    await this.opts.wrapUp(opts);
  }

  /** Current state. */
  get state(): CallState {
    return this.machine.state;
  }

  /** Whether the microphone is muted for this call. */
  get muted(): boolean {
    return this.isMuted;
  }

  /** The other party's audio, once connected. */
  get remoteStream(): MediaStream | undefined {
    return this.session.remoteStream;
  }

  /** The microphone audio this call sends (undefined before it is established, and in device mode). */
  get localStream(): MediaStream | undefined {
    return this.session.localStream;
  }

  /** Answers a ringing incoming call. Rejects with `SB_INVALID_STATE` or `SB_MEDIA_DENIED`. */
  async answer(): Promise<void> {
    if (this.state !== CallState.Ringing) throw new SwitchboardError('SB_INVALID_STATE', `Cannot answer a call that is ${this.state}`);
    await this.session.accept();
  }

  /** Rejects a ringing incoming call. */
  async reject(): Promise<void> {
    if (this.state !== CallState.Ringing) throw new SwitchboardError('SB_INVALID_STATE', `Cannot reject a call that is ${this.state}`);
    await this.session.reject();
  }

  /** Hangs up (or cancels an unanswered outgoing call). Does nothing once ended. */
  async hangup(): Promise<void> {
    if (this.state === CallState.Ended) return;
    await this.session.hangup();
  }

  /**
   * Sends DTMF digits (`0-9`, `*`, `#`, `A-D`; `,` pauses 2 s) to the far end as RFC 4733
   * telephone-events, e.g. to navigate an IVR. Digits are queued and played in order.
   * @param opts.durationMs tone length, 40-6000 ms (default 100)
   * @param opts.gapMs pause between tones, at least 30 ms (default 70)
   * @throws SB_INVALID_STATE unless connected; SB_INVALID_ARGUMENT for other characters;
   *         SB_DTMF_FAILED when the call cannot carry digits.
   */
  sendDigits(digits: string, opts: { durationMs?: number; gapMs?: number } = {}): void {
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Digits can be sent only on a connected call');
    if (!/^[0-9A-Da-d*#,]+$/.test(digits)) throw new SwitchboardError('SB_INVALID_ARGUMENT', `"${digits}" is not a DTMF string (0-9, *, #, A-D, comma)`);
    const duration = Math.min(6000, Math.max(40, opts.durationMs ?? 100));
    const gap = Math.max(30, opts.gapMs ?? 70);
    if (!this.session.sendDtmf(digits.toUpperCase(), duration, gap)) throw new SwitchboardError('SB_DTMF_FAILED');
  }

  /** Whether the call is on hold, and by whom. */
  get holdState(): HoldState {
    return { ...this.holdInfo };
  }

  /**
   * Puts the other party on hold: the gateway plays them music on hold and stops the audio both
   * ways. The browser's media session stays up, so {@link Call.resume} is instant.
   * @throws SB_INVALID_STATE unless connected and not already on hold or busy with another
   *         hold/resume; SB_CALL_FAILED if the gateway refuses.
   */
  async hold(): Promise<void> {
    await this.holdRequest(true);
  }

  /** Takes the other party off hold (see {@link Call.hold}). */
  async resume(): Promise<void> {
    await this.holdRequest(false);
  }

  /** True while this agent holds the other party. */
  private get holdingOther(): boolean {
    return this.holdInfo.onHold && this.holdInfo.by === 'local';
  }

  /**
   * Sends one control request to the gateway, one at a time per call; a refusal becomes
   * `failure` when given (else the signaling error as is).
   */
  private async exclusive(message: Record<string, unknown>, failure?: (err: SwitchboardError) => SwitchboardError): Promise<void> {
    if (this.pending) throw new SwitchboardError('SB_INVALID_STATE', 'Another operation is in progress on this call');
    const p = this.session.control(message);
    this.pending = p;
    try {
      await p;
    } catch (err) {
      throw failure ? failure(err as SwitchboardError) : err;
    } finally {
      this.pending = undefined;
    }
  }

  /** `SB_TRANSFER_FAILED` carrying the gateway's status and the cause. */
  private static transferFailed(what: string, err: SwitchboardError): SwitchboardError {
    return new SwitchboardError('SB_TRANSFER_FAILED', `${what}: ${err.message}`, { ...(err.status !== undefined ? { status: err.status } : {}), cause: err });
  }

  private async holdRequest(onHold: boolean): Promise<void> {
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Only a connected call can be held or resumed');
    if (onHold && this.holdInfo.onHold) throw new SwitchboardError('SB_INVALID_STATE', this.holdInfo.by === 'remote' ? 'The other party has put this call on hold' : 'The call is already on hold');
    if (!onHold && !this.holdingOther) throw new SwitchboardError('SB_INVALID_STATE', 'The call is not on hold by this agent');
    await this.exclusive({ type: onHold ? 'hold' : 'resume' });
    this.setHold(onHold ? { onHold: true, by: 'local' } : { onHold: false });
  }

  /**
   * Blind transfer: the other party hears music while `target` (an agent, extension or number)
   * is called; when it answers they are connected and this call ends. If the target fails, the
   * caller comes back to this call and the promise rejects with `SB_TRANSFER_FAILED` (its
   * `status` says why: 404 unknown, 486 busy, 408 no answer…).
   */
  async transfer(target: string): Promise<void> {
    if (typeof target !== 'string' || !target.trim()) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'A transfer needs a target');
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Only a connected call can be transferred');
    await this.exclusive({ type: 'transfer', target: target.trim() }, (err) => Call.transferFailed(`Transfer to ${target} failed`, err));
  }

  /**
   * Attended (consult) transfer, step 1: puts this call on hold (the caller hears music) and
   * calls `target`. Talk privately on the returned call; then {@link Call.completeTransfer},
   * {@link Call.swap} or {@link Call.cancelConsult}.
   */
  async consult(target: string): Promise<Call> {
    if (!this.opts.dial) throw new SwitchboardError('SB_INVALID_STATE', 'This call cannot start a consultation');
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Only a connected call can be consulted on');
    if (!this.holdingOther) await this.hold();
    try {
      return await this.opts.dial(target);
    } catch (err) {
      await this.resume().catch(() => undefined);
      throw err;
    }
  }

  /** Switches the conversation between this call and `other`: the one talking goes on hold. */
  async swap(other: Call): Promise<void> {
    if (this.holdingOther) {
      await other.hold();
      await this.resume();
    } else {
      await this.hold();
      await other.resume();
    }
  }

  /**
   * Attended transfer, final step: connects the other party of this call with the other party
   * of `consult` (the target), and this agent leaves both calls.
   * @throws SB_TRANSFER_FAILED when the gateway cannot join them (both calls stay as they were).
   */
  async completeTransfer(consult: Call): Promise<void> {
    if (this.state !== CallState.Connected || consult.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Both calls must be connected');
    await this.exclusive({ type: 'complete-transfer', with: consult.session.callId }, (err) => Call.transferFailed('The transfer could not be completed', err));
  }

  /** Attended transfer abandoned: ends the consultation and takes this call off hold. */
  async cancelConsult(consult: Call): Promise<void> {
    if (consult.state !== CallState.Ended) await consult.hangup();
    if (this.holdingOther) await this.resume();
  }

  /**
   * Everyone in the call, once it has had more than two parties (a conference): each with its
   * role, mode, mute and hold. Empty for a plain two-party call. Kept current by the gateway;
   * changes are reported by `participantJoined`, `participantLeft` and `participantUpdated`.
   */
  get participants(): Participant[] {
    return this.roster.map((p) => ({ ...p }));
  }

  /**
   * Adds a party to this call — an agent, an extension, a queue (its next free agent) or a number
   * through a trunk. It rings; when it answers, everybody hears everybody. Resolves once it is in
   * the call.
   * @throws SB_INVALID_STATE unless connected; SB_TARGET_NOT_FOUND, SB_BUSY, SB_TARGET_UNAVAILABLE,
   *         SB_NO_ANSWER when the target could not be added (the call goes on as it was);
   *         SB_FORBIDDEN when your rights do not allow it (e.g. a premium number, a full conference).
   */
  async addParticipant(target: string): Promise<void> {
    if (typeof target !== 'string' || !target.trim()) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'A participant needs a target');
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Only a connected call can have participants added');
    await this.exclusive({ type: 'add', target: target.trim() }, (err) => (err.status && err.status !== 491 ? errorFromStatus(err.status, err.message.replace(/^The gateway refused: \d+ /, '')) : err));
  }

  /**
   * Merges a consultation call into this one: the consulted party joins this call (a three-way
   * call with the customer), the consultation call ends, and this call is off hold. The usual
   * agent flow: {@link Call.consult}, talk privately, then merge.
   * @throws SB_INVALID_STATE unless both calls are connected; SB_CALL_FAILED when the gateway cannot.
   */
  async merge(consult: Call): Promise<void> {
    if (this.state !== CallState.Connected || consult.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'Both calls must be connected');
    await this.exclusive({ type: 'merge', with: consult.session.callId });
    this.setHold({ onHold: false });
  }

  /**
   * Removes a party from the call (it is hung up). To leave yourself, {@link Call.hangup}: the
   * others go on while at least two remain (gateway policy `conference.endWhen`).
   * @throws SB_INVALID_STATE for an unknown party or a call that is not connected.
   */
  async removeParticipant(id: string): Promise<void> {
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'The call is not connected');
    await this.exclusive({ type: 'remove', party: id });
  }

  /** Mutes (or unmutes) a party at the gateway: nobody hears it meanwhile. Its own microphone is untouched. */
  async muteParticipant(id: string, muted = true): Promise<void> {
    if (this.state !== CallState.Connected) throw new SwitchboardError('SB_INVALID_STATE', 'The call is not connected');
    await this.exclusive({ type: 'mute-party', party: id, muted });
  }

  /** @internal Sends a control request (supervision mode changes). */
  _control(message: Record<string, unknown>): Promise<void> {
    return this.exclusive(message);
  }

  /** The gateway's roster replaces ours; differences become events. */
  private setRoster(list: unknown[], self: string): void {
    const next: Participant[] = [];
    for (const x of list) {
      if (!x || typeof x !== 'object') continue;
      const p = x as Record<string, unknown>;
      if (typeof p.id !== 'string' || typeof p.name !== 'string') continue;
      next.push({
        id: p.id,
        name: p.name,
        role: (['caller', 'callee', 'participant', 'supervisor'].includes(p.role as string) ? p.role : 'participant') as Participant['role'],
        mode: (['conference', 'monitor', 'whisper', 'barge'].includes(p.mode as string) ? p.mode : 'conference') as ParticipantMode,
        muted: p.muted === true,
        serverMuted: p.serverMuted === true,
        onHold: p.onHold === true,
        self: p.id === self,
      });
    }
    const before = new Map(this.roster.map((p) => [p.id, p]));
    this.roster = next;
    for (const p of next) {
      const old = before.get(p.id);
      if (!old) this.emit('participantJoined', { ...p });
      else if (old.muted !== p.muted || old.serverMuted !== p.serverMuted || old.onHold !== p.onHold || old.mode !== p.mode || old.role !== p.role) this.emit('participantUpdated', { ...p });
      before.delete(p.id);
    }
    for (const gone of before.values()) this.emit('participantLeft', { ...gone });
  }

  /** @internal The connection dropped (the softphone is reconnecting). */
  _connectionLost(): void {
    if (this.state !== CallState.Ended) this.emit('reconnecting');
  }

  /**
   * @internal Reconnected: tell the gateway this call is here now; end it if the gateway no
   * longer has it (`SB_CALL_LOST`); restart ICE if the media path broke meanwhile.
   */
  async _reattach(): Promise<void> {
    if (this.state === CallState.Ended) return;
    const r = await this.session.reattach();
    if (r === 'gone') {
      await this.session.abandon(new SwitchboardError('SB_CALL_LOST'));
      return;
    }
    const ice = this.session.iceConnectionState;
    if (ice === 'disconnected' || ice === 'failed') await this.session.restartIce().catch(() => undefined);
    this.emit('reconnected');
  }

  /** @internal The softphone gave up reconnecting: the call cannot be controlled any more. */
  async _connectionGone(error: SwitchboardError): Promise<void> {
    if (this.state === CallState.Ended) return;
    this.emit('disconnected', error);
    await this.session.abandon(new SwitchboardError('SB_CALL_LOST', `${ERROR_CATALOG.SB_CALL_LOST.description} (${error.message})`, { cause: error })).catch(() => undefined);
    // No transport left to tell the gateway: end it here (its grace period ends it there).
    this.finish({ by: 'error', error: new SwitchboardError('SB_CALL_LOST', undefined, { cause: error }) });
  }

  private setHold(next: HoldState): void {
    if (next.onHold === this.holdInfo.onHold && next.by === this.holdInfo.by) return;
    this.holdInfo = next;
    this.emit('holdChanged', { ...next });
  }

  /** Mutes the microphone for this call. */
  mute(): void {
    this.setMuted(true);
  }

  /** Unmutes the microphone. */
  unmute(): void {
    this.setMuted(false);
  }

  private setMuted(muted: boolean): void {
    if (this.state === CallState.Ended) throw new SwitchboardError('SB_INVALID_STATE', 'The call has ended');
    if (muted === this.isMuted) return;
    this.isMuted = muted;
    this.session.setMuted(muted);
    // Tell the gateway too (supervisors see it); muting locally never waits for the network.
    if (this.state === CallState.Connected) this.session.control({ type: 'mute', muted }).catch(() => undefined);
    this.emit('muteChanged', muted);
  }

  private playRemoteAudio(): void {
    if (this.audio || !this.opts.autoPlay || typeof Audio === 'undefined' || !this.remoteStream) return;
    this.audio = new Audio();
    this.audio.autoplay = true;
    const sink = this.opts.outputDevice?.();
    if (sink) void this._setOutput(sink).catch(() => undefined);
    this.audio.srcObject = this.remoteStream;
    this.audio.play().catch(() => {
      // Autoplay can be blocked until the user interacts with the page; the next click resumes it.
    });
  }

  /** @internal Plays this call's audio on output `deviceId` (`HTMLMediaElement.setSinkId`). */
  async _setOutput(deviceId: string): Promise<void> {
    const el = this.audio as (HTMLAudioElement & { setSinkId?(id: string): Promise<void> }) | undefined;
    if (el?.setSinkId) await el.setSinkId(deviceId);
  }

  /** @internal Captures the microphone again (another device chosen) and sends it on this call. */
  async _useAudioInput(): Promise<void> {
    if (this.state === CallState.Ended) return;
    await this.session.useAudioInput?.();
  }

  private qualityTimer?: ReturnType<typeof setInterval>;
  private lastQuality?: QualitySample;

  /** Samples the call's quality every `quality.intervalMs` while it is up (see quality.ts). */
  private startQuality(): void {
    const every = this.opts.quality?.intervalMs ?? 2000;
    if (this.qualityTimer || every <= 0 || !this.session.getStats) return;
    const tracker = new QualityTracker(this.opts.quality?.thresholds);
    let busy = false;
    this.qualityTimer = setInterval(() => {
      if (busy || this.state !== CallState.Connected) return;
      busy = true;
      void this.session
        .getStats!()
        .then((report) => {
          if (!report || this.state !== CallState.Connected) return;
          const r = tracker.update(report, Date.now(), this.isMuted || this.holdInfo.onHold);
          if (!r) return;
          this.lastQuality = r.sample;
          for (const w of r.started) this.emit('warning', w, r.sample);
          for (const w of r.cleared) this.emit('warningCleared', w, r.sample);
          this.emit('quality', r.sample);
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, every);
  }

  /** The latest quality sample of the call (see the `quality` event); undefined before the first. */
  get quality(): QualitySample | undefined {
    return this.lastQuality && { ...this.lastQuality, warnings: [...this.lastQuality.warnings] };
  }

  private finish(end: SessionEnd): void {
    if (this.qualityTimer) clearInterval(this.qualityTimer);
    if (this.state === CallState.Ended) return;
    this.endInfo = { by: end.by, ...(end.error ? { error: end.error } : {}), ...(end.answeredElsewhere ? { answeredElsewhere: true } : {}) };
    if (this.audio) {
      this.audio.srcObject = null;
      this.audio = undefined;
    }
    this.machine.to(CallState.Ended);
    this.emit('ended', this.endInfo);
  }
}
