/**
 * Conferences (docs/conference.md): a call grows beyond its two principals — an agent adds a
 * participant (an agent, an extension, a queue's next free agent, a number through a trunk) or
 * merges a consultation call into it — and shrinks as parties leave or are removed. The bridge
 * is rebuilt from the parties after each change (Call.applyMedia); nothing is renegotiated.
 *
 * Who leaves when is decided here too (`gone`): a party whose dialog ended, whose media timed out
 * or whose browser did not come back leaves; the call goes on while at least two talking parties
 * remain (or, with `endWhen: 'no-agent'`, while one of them is an agent), and otherwise ends.
 * Supervisors never count: a call does not live on for a supervisor alone.
 */
import type { ControlMessage } from '@switchboard/protocol';
import { Call, CallOperationError, CallState, type Leg } from './call.js';
import { partyOf, ring, type LegContext } from './ringing.js';

/** How long an added participant may ring. */
const ADD_RING_MS = 30_000;

/** Conference settings (config `conference`). */
export interface ConferenceOptions {
  /** Most parties in one call, supervisors included. */
  maxParties: number;
  /**
   * When a call whose parties leave ends: `fewer-than-two` talking parties remain (the default —
   * a customer and a consultee keep talking after the agent drops), or `no-agent` (no user of the
   * gateway remains among them).
   */
  endWhen: 'fewer-than-two' | 'no-agent';
}

/** What conferences need from the B2BUA. */
export interface ConferenceContext extends LegContext {
  calls(): Iterable<Call>;
  /** Calling rights: may `user` bring in external `number`? A refusal when not. */
  mayCall?(user: string, number: string, call: Call): { status: number; reason: string } | undefined;
  /** An available agent of `queue` (the ACD's choice), when a queue is added. */
  agentFor?(queue: string): string | undefined;
  /**
   * Tells a party a control message (docs/protocol.md §4): a browser leg by INFO (in order per
   * dialog), a device driven from a desktop through the desktop; nothing for other parties.
   */
  tell(call: Call, leg: Leg, message: ControlMessage): void;
  /** A supervisor left (its agent may be told). */
  supervisorLeft?(call: Call, leg: Leg): void;
  /** A party left a call that goes on (its agent's work on the call is over). */
  left?(call: Call, leg: Leg): void;
  opts: ConferenceOptions;
}

/** A party as the SDK's roster shows it. */
export interface RosterEntry {
  id: string;
  name: string;
  role: Leg['role'];
  mode: Leg['mode'];
  /** Muted: by its own softphone, or at the gateway by an agent (`serverMuted`). */
  muted: boolean;
  serverMuted: boolean;
  onHold: boolean;
}

/** Conference operations on the B2BUA's calls. */
export class Conference {
  private readonly pendingRoster = new Set<Call>();
  /** Participants ringing per call (counted against maxParties). */
  private readonly ringing = new WeakMap<Call, number>();

  constructor(private readonly ctx: ConferenceContext) {}

  /** Checks that `by` may change the call's parties: a user talking in it. */
  private mayManage(call: Call, by: Leg): void {
    if (call.state !== CallState.Connected) throw new CallOperationError(491, 'Call Not Connected');
    if (!by.user || !(by.mode === 'conference' || by.mode === 'barge') || !by.joined) throw new CallOperationError(403, 'Only An Agent In The Call May Do That');
  }

  /**
   * Adds `target` to the call: it is rung (with the agent as the caller shown), and joins when it
   * answers — everybody hears everybody. Resolves once it is in the call; rejects with the
   * target's failure (404, 486, 408…) and the call goes on as it was.
   */
  async add(call: Call, by: Leg, target: string): Promise<void> {
    this.mayManage(call, by);
    const pending = this.ringing.get(call) ?? 0;
    if (call.parties.filter((p) => p.joined).length + pending >= this.ctx.opts.maxParties) throw new CallOperationError(403, `Conference Full (${this.ctx.opts.maxParties} Parties)`);
    let route = this.ctx.router.resolve(target);
    if (route.kind === 'queue') {
      // A queue: its next free agent, chosen as the ACD would.
      const agent = this.ctx.agentFor?.(route.queue);
      if (!agent) throw new CallOperationError(480, `No Agent Available In ${route.queue}`);
      route = this.ctx.router.resolve(agent);
    }
    if (route.kind === 'echo') throw new CallOperationError(404, 'Cannot Add The Echo Test');
    if (call.parties.some((p) => p.joined && route.kind === 'user' && p.party.toLowerCase() === route.username.toLowerCase())) throw new CallOperationError(486, `${target} Is Already In The Call`);
    const refusal = route.kind === 'external' ? this.ctx.mayCall?.(by.party, route.number, call) : undefined;
    if (refusal) throw new CallOperationError(refusal.status, refusal.reason);
    const codec = call.codec ?? 'PCMU';
    const planned = this.ctx.attemptsFor(route, { user: by.party }, [codec]);
    if ('status' in planned) throw new CallOperationError(planned.status, planned.reason);
    call.log.info('conference', `${by.party} adds ${target}`);
    this.ringing.set(call, pending + 1);
    let r;
    try {
      r = await ring(this.ctx, call, planned, codec, { ringMs: ADD_RING_MS, noAnswerReason: 'No Answer', headers: [['x-switchboard-conference', call.id]] }).result;
    } finally {
      this.ringing.set(call, (this.ringing.get(call) ?? 1) - 1);
    }
    if (!r.ok) {
      call.note('add-failed', `${target}: ${r.status} ${r.reason}`);
      throw new CallOperationError(r.status === 486 || r.status === 404 || r.status === 480 || r.status === 403 ? r.status : 480, `Add Failed: ${r.status} ${r.reason}`);
    }
    const leg = call.newLeg(partyOf(route, target), 'participant');
    leg.user = route.kind === 'user';
    try {
      await this.ctx.media.acceptAnswer(r.endpointId, r.answer);
    } catch (err) {
      call.ringing(leg.party, false);
      call.releaseDialog(r.dialog);
      r.dialog.bye().catch(() => undefined);
      await call.closeEndpoint(r.endpointId);
      throw err;
    }
    if (call.state !== CallState.Connected) {
      // The call ended while it rang: the answered leg goes too.
      call.ringing(leg.party, false);
      r.dialog.bye().catch(() => undefined);
      await call.closeEndpoint(r.endpointId);
      throw new CallOperationError(481, 'Call Ended');
    }
    leg.endpointId = r.endpointId;
    leg.dialog = r.dialog;
    if (r.attempt.trunk) {
      r.attempt.trunk.callsOut++;
      call.seat(r.attempt.trunk);
    }
    this.ctx.watch(call, r.dialog, leg);
    call.joined(leg, by.party);
    await call.applyMedia();
    call.note('joined', `${leg.party} (added by ${by.party})`);
    call.log.info('conference', `${leg.party} joined (${call.talkers.length} talking)`);
    this.rosterChanged(call);
  }

  /**
   * Merges the agent's consultation call (SIP Call-ID `consultCallId`) into this call: the
   * consulted party joins as a participant, the agent's consultation leg ends, and the agent is
   * off hold — a three-way call. Only a party of both calls may merge them.
   */
  async merge(call: Call, by: Leg, consultCallId: string): Promise<void> {
    this.mayManage(call, by);
    const consult = [...this.ctx.calls()].find((c) => c !== call && c.parties.some((l) => l.dialog?.init.callId === consultCallId));
    if (!consult) throw new CallOperationError(481, 'No Such Consultation Call');
    const agent2 = consult.parties.find((l) => l.dialog?.init.callId === consultCallId)!;
    if (agent2.party.toLowerCase() !== by.party.toLowerCase()) throw new CallOperationError(403, 'Not Your Consultation Call');
    if (consult.state !== CallState.Connected) throw new CallOperationError(491, 'Both Calls Must Be Connected');
    if (call.transferring || consult.transferring) throw new CallOperationError(491, 'Transfer In Progress');
    const movers = consult.parties.filter((p) => p !== agent2 && p.joined && p.endpointId && p.dialog && p.role !== 'supervisor');
    if (!movers.length) throw new CallOperationError(491, 'Nobody To Merge');
    if (call.parties.filter((p) => p.joined).length + movers.length > this.ctx.opts.maxParties) throw new CallOperationError(403, `Conference Full (${this.ctx.opts.maxParties} Parties)`);
    for (const m of movers) {
      const dialog = m.dialog!;
      const endpointId = m.endpointId!;
      // Its endpoint and dialog change calls (the engine moves the endpoint between bridges).
      call.adopt({ endpointId, dialog }, consult);
      dialog.removeAllListeners();
      delete m.dialog;
      delete m.endpointId;
      const leg = call.newLeg(m.party, 'participant');
      if (m.user !== undefined) leg.user = m.user;
      leg.endpointId = endpointId;
      leg.dialog = dialog;
      this.ctx.watch(call, dialog, leg);
      call.joined(leg, by.party);
      call.note('joined', `${leg.party} (merged by ${by.party})`);
    }
    // The agent held the customer while consulting: everyone talks now.
    for (const p of call.parties) p.holding = false;
    await call.applyMedia();
    if (by.endpointId) await this.ctx.media.expectMedia(by.endpointId, true);
    call.log.info('conference', `${by.party} merged ${movers.map((m) => m.party).join(', ')} in (${call.talkers.length} talking)`);
    consult.hangup({ by: 'gateway', status: 200, reason: 'Merged' });
    this.rosterChanged(call);
  }

  /** Removes a party from the call (BYE); the call goes on if enough parties remain. */
  async remove(call: Call, by: Leg, partyId: string): Promise<void> {
    this.mayManage(call, by);
    const target = call.party(partyId);
    if (!target || !target.joined || !this.visible(target, by)) throw new CallOperationError(404, 'No Such Party');
    if (target === by) throw new CallOperationError(400, 'Hang Up To Leave The Call');
    call.log.info('conference', `${by.party} removes ${target.party}`);
    this.gone(call, target, { status: 200, reason: `Removed by ${by.party}`, byGateway: true });
  }

  /** Mutes or unmutes a party at the gateway: nobody hears it while muted (its own microphone is untouched). */
  async muteParty(call: Call, by: Leg, partyId: string, muted: boolean): Promise<void> {
    this.mayManage(call, by);
    const target = call.party(partyId);
    if (!target || !target.joined || !this.visible(target, by)) throw new CallOperationError(404, 'No Such Party');
    if (target.serverMuted === muted) return;
    target.serverMuted = muted;
    call.note(muted ? 'party-muted' : 'party-unmuted', `${target.party} by ${by.party}`);
    await call.applyMedia();
    this.rosterChanged(call);
  }

  /**
   * A party is gone (its BYE, a media timeout, a lost connection, a removal). It leaves, and the
   * call goes on if at least two talking parties remain (`endWhen`); otherwise the call ends with
   * `end` — attributed to the party's side when it was a principal that hung up.
   */
  gone(call: Call, leg: Leg, end: { status: number; reason: string; byGateway?: boolean }): void {
    if (call.state === CallState.Ended || !call.parties.includes(leg)) return;
    const principal = leg.role === 'caller' || leg.role === 'callee';
    if (leg.role !== 'supervisor') {
      const remaining = call.talkers.filter((p) => p !== leg && p.role !== 'supervisor');
      const goesOn = call.state === CallState.Connected && leg.joined && remaining.length >= 2 && (this.ctx.opts.endWhen !== 'no-agent' || remaining.some((p) => p.user));
      if (!goesOn) {
        call.hangup({ by: principal && !end.byGateway ? (leg.role as 'caller' | 'callee') : 'gateway', status: end.status, reason: end.reason });
        return;
      }
    }
    if (principal) {
      // A participant takes the principal's place (two-party operations work on what remains).
      const heir = call.parties.find((p) => p.role === 'participant' && p.joined);
      if (heir) {
        heir.role = leg.role;
        leg.role = 'participant';
      }
    }
    call.left(leg);
    const dialog = leg.dialog;
    delete leg.dialog;
    if (dialog) {
      call.releaseDialog(dialog);
      dialog.bye(end.byGateway ? `SIP;cause=200;text="${end.reason.replace(/"/g, "'")}"` : undefined).catch(() => undefined);
    }
    if (leg.endpointId) void call.closeEndpoint(leg.endpointId);
    delete leg.endpointId;
    call.note('left', `${leg.party}: ${end.status} ${end.reason}`);
    call.log.info('conference', `${leg.party} left (${end.status} ${end.reason}); ${call.talkers.length} talking`);
    if (leg.role === 'supervisor') this.ctx.supervisorLeft?.(call, leg);
    else this.ctx.left?.(call, leg);
    call.applyMedia().catch((err: Error) => call.log.warn('conference', `bridge not updated: ${err.message}`));
    this.rosterChanged(call);
  }

  /**
   * Whether `viewer` may see `p` in the roster: silent monitors and whisperers are shown only to
   * supervisors (the customer never learns of them; the agent is told separately if configured).
   */
  private visible(p: Leg, viewer: Leg): boolean {
    if (p.role !== 'supervisor' || p.mode === 'barge') return true;
    return viewer.role === 'supervisor';
  }

  /** The roster as `viewer` sees it. */
  roster(call: Call, viewer: Leg): RosterEntry[] {
    return call.parties
      .filter((p) => p.joined && this.visible(p, viewer))
      .map((p) => ({ id: p.id, name: p.party, role: p.role, mode: p.mode, muted: p.muted || p.serverMuted, serverMuted: p.serverMuted, onHold: p.holding }));
  }

  /**
   * The parties changed: once a call has been a conference, every browser in it gets the roster
   * (docs/protocol.md §4, `participants`), coalesced to one message per burst of changes.
   */
  rosterChanged(call: Call): void {
    if (!call.conferenced || this.pendingRoster.has(call)) return;
    this.pendingRoster.add(call);
    setImmediate(() => {
      this.pendingRoster.delete(call);
      if (call.state === CallState.Ended) return;
      for (const leg of call.parties) {
        if (!leg.joined || !leg.dialog) continue;
        this.ctx.tell(call, leg, { type: 'participants', self: leg.id, participants: this.roster(call, leg) });
      }
    });
  }
}
