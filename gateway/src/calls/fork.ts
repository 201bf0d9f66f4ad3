/**
 * Parallel forking inside the B2BUA (RFC 3261 §16.6–16.7, done by a UAC here rather than a
 * proxy): one {@link Attempt} reaches a user on every registration at once — browser tabs, a desk
 * phone, a DECT base — each branch with its own media endpoint and INVITE. The first 2xx wins;
 * the other branches get CANCEL with `Reason: SIP;cause=200;text="Call completed elsewhere"`
 * (RFC 3326) so their screens say "answered elsewhere" rather than "missed"; an answer that races
 * the win is ACKed and hung up. When every branch fails, the best final response is reported
 * (§16.7 step 6). A trunk attempt is a fork of one branch and behaves as a single INVITE.
 */
import type { SipCore } from '../sip/core.js';
import type { Dialog } from '../sip/dialog.js';
import type { InviteOptions, OutgoingInvite } from '../sip/invite.js';
import type { SipResponse } from '../sip/message.js';
import type { MediaEngine, OfferOptions } from '../media/types.js';
import type { CodecName } from '../media/sdp.js';
import type { Trunk } from '../trunks/trunk.js';
import { Emitter } from '../util/emitter.js';
import type { Call } from './call.js';

/** RFC 3326 Reason of the CANCEL that stops the branches that lost to an answer. */
export const COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

/** One destination of an attempt: a user's registration, or a trunk. */
export interface Branch {
  label: string;
  webrtc: boolean;
  /** Codecs to offer it (empty: the call's). */
  codecs: CodecName[];
  options: Omit<InviteOptions, 'offer'>;
  /**
   * How this device picks up when its user answers from the desktop (device mode, desk.ts):
   * `header` — it rings now; on the desktop's answer its INVITE is cancelled and sent again with
   * {@link answerHeaders} (`Call-Info: …;answer-after=0`), which it answers by itself; `device` —
   * it answers every call by itself, so it is called only on the desktop's answer; `none` — it
   * rings until its handset is lifted. Unset: an ordinary branch.
   */
  autoAnswer?: 'header' | 'device' | 'none';
  /** The auto-answer headers for this device (its profile's). */
  answerHeaders?: Array<[string, string]>;
}

/**
 * One way to reach a target, tried as a whole: a user (every registration rung in parallel) or
 * one trunk (a single branch; trunks are tried one after another for failover).
 */
export interface Attempt {
  label: string;
  trunk?: Trunk;
  /** The user it reaches (every registration of theirs): shown ringing on busy lamps meanwhile. */
  user?: string;
  branches: Branch[];
}

/** The branch that answered, with its endpoint (now the caller's to keep or close). */
export interface Answered {
  branch: Branch;
  endpointId: string;
}

/** Events of a {@link Fork}, like an {@link OutgoingInvite}'s. */
export type ForkEvents = {
  /** A provisional response (180/183) from a branch that has not lost. */
  progress: [res: SipResponse, from: Answered];
  /** The first 2xx: the others are being cancelled. */
  accepted: [res: SipResponse, dialog: Dialog, from: Answered];
  /** Every branch failed (the best response, §16.7), or cancel() was called (487). */
  failed: [status: number, reason: string];
};

interface Leg {
  branch: Branch;
  endpointId: string;
  offer: string;
  /** The branch's INVITE now (a click-to-answer replaces the ringing one). */
  invite?: OutgoingInvite;
  /** Every INVITE sent on this branch (the first that answers wins; the others are cancelled). */
  invites: OutgoingInvite[];
  done: boolean;
}

/** RFC 3261 §16.7 step 6, simplified: a 6xx; else the lowest class; in a class, Busy Here first, else the first. */
function better(a: { status: number; reason: string } | undefined, b: { status: number; reason: string }): { status: number; reason: string } {
  if (!a) return b;
  const rank = (s: number) => (s >= 600 ? 0 : s === 486 ? 1 : s >= 400 && s < 500 ? 2 : s >= 500 ? 3 : 4);
  return rank(b.status) < rank(a.status) ? b : a;
}

/** INVITEs to every branch of one attempt, as one. */
export class Fork extends Emitter<ForkEvents> {
  private legs: Leg[] = [];
  private settled = false;
  private winner?: Leg;
  private best?: { status: number; reason: string };

  constructor(
    private readonly ctx: { core: SipCore; media: MediaEngine },
    private readonly call: Call,
    readonly attempt: Attempt,
    private readonly headers: Array<[string, string]>,
  ) {
    super();
  }

  /**
   * Creates each branch's endpoint and offer (`codecs` unless the branch names its own; RFC 4733
   * events on `opts.telephoneEvent`, the caller's type, when given). `opts.peer`, the caller's
   * endpoint and offer, is passed on for a single branch only (the media engine may then let the
   * two peers negotiate with each other; several branches each get their own offer). A branch
   * whose media cannot be set up is left out; when none can be, the first error is thrown (the
   * endpoints made so far are released first).
   */
  async prepare(codecs: readonly CodecName[], opts: OfferOptions = {}): Promise<void> {
    const own: OfferOptions = { telephoneEvent: opts.telephoneEvent };
    const single = this.attempt.branches.length === 1;
    const made = await Promise.allSettled(this.attempt.branches.map(async (branch): Promise<Leg> => {
      const endpointId = await this.call.createEndpoint(branch.webrtc ? 'webrtc' : 'rtp');
      try {
        return { branch, endpointId, offer: await this.ctx.media.offer(endpointId, branch.codecs.length ? branch.codecs : codecs, single ? opts : own), invites: [], done: false };
      } catch (err) {
        await this.call.closeEndpoint(endpointId);
        throw err;
      }
    }));
    this.legs = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
    if (!this.legs.length) throw (made.find((m) => m.status === 'rejected') as PromiseRejectedResult).reason;
    if (this.legs.length < made.length) this.call.log.warn('b2bua', `${this.attempt.label}: ${made.length - this.legs.length} of ${made.length} registrations left out (no media for them)`);
  }

  /** The endpoint of the only branch, for a single-branch attempt (a trunk, a user with one registration). */
  get single(): Answered | undefined {
    return this.legs.length === 1 ? { branch: this.legs[0]!.branch, endpointId: this.legs[0]!.endpointId } : undefined;
  }

  /**
   * Sends the INVITEs (after {@link prepare}; attach listeners first) — not to devices that
   * answer every call by themselves (`autoAnswer: 'device'`): they are called on {@link answerNow}.
   */
  start(): void {
    if (this.attempt.user && !this.settled) this.call.ringing(this.attempt.user, true);
    this.call.forks.add(this);
    for (const leg of this.legs) if (leg.branch.autoAnswer !== 'device') this.send(leg, []);
  }

  /**
   * Click-to-answer (device mode): the user answered on their desktop, so their devices pick up
   * by themselves — a ringing `header` device gets CANCEL and a new INVITE with its auto-answer
   * headers, a `device` one its first INVITE (with them too). Returns how many were asked; 0
   * when none can (they ring on until a handset is lifted).
   */
  answerNow(): number {
    if (this.settled) return 0;
    let asked = 0;
    for (const leg of this.legs) {
      const how = leg.branch.autoAnswer;
      if (leg.done || !how || how === 'none' || (how === 'device' && leg.invite)) continue;
      const ringing = leg.invite;
      delete leg.invite; // its 487 is not this branch failing
      ringing?.cancel();
      this.send(leg, leg.branch.answerHeaders ?? []);
      asked++;
    }
    return asked;
  }

  private send(leg: Leg, extra: Array<[string, string]>): void {
    const invite = this.ctx.core.invite({ ...leg.branch.options, offer: leg.offer, headers: [...(leg.branch.options.headers ?? []), ...this.headers, ...extra] });
    leg.invite = invite;
    leg.invites.push(invite);
    const from: Answered = { branch: leg.branch, endpointId: leg.endpointId };
    invite.on('progress', (res) => {
      if (!this.settled && leg.invite === invite) this.emit('progress', res, from);
    });
    invite.on('accepted', (res, dialog) => {
      leg.done = true;
      if (this.settled) {
        // Lost the race (another branch answered, or we gave up): hang up what it created —
        // and its endpoint, unless it is the winner's (an earlier INVITE of this branch won).
        dialog.bye().catch(() => undefined);
        if (this.winner !== leg) void this.call.closeEndpoint(leg.endpointId);
        return;
      }
      // The user's lamp stays "ringing" until the party joins the call (Call.joined), so it
      // never goes dark between the answer and the bridge.
      this.settled = true;
      this.winner = leg;
      this.call.forks.delete(this);
      for (const other of leg.invites) if (other !== invite) other.cancel();
      this.stopOthers(leg, COMPLETED_ELSEWHERE);
      this.emit('accepted', res, dialog, from);
    });
    invite.on('failed', (status, reason) => {
      if (leg.invite !== invite || this.winner === leg) return; // replaced (click-to-answer), or the branch won already
      leg.done = true;
      void this.call.closeEndpoint(leg.endpointId);
      if (this.settled) return;
      this.best = better(this.best, { status, reason });
      // §16.7 step 5: a 6xx ends the search (the callee declined everywhere).
      if (status >= 600) this.stopOthers(leg);
      else if (this.legs.some((l) => !l.done)) return;
      this.settle();
      this.emit('failed', this.best.status, this.best.reason);
    });
    invite.start();
  }

  /** Decided (answered, failed or cancelled): the user's devices no longer ring for it. */
  private settle(): void {
    this.settled = true;
    this.call.forks.delete(this);
    if (this.attempt.user) this.call.ringing(this.attempt.user, false);
  }

  private stopOthers(winner: Leg | undefined, reason?: string): void {
    for (const l of this.legs) {
      if (l === winner || l.done) continue;
      l.done = true;
      for (const invite of l.invites) invite.cancel(reason);
      void this.call.closeEndpoint(l.endpointId);
    }
  }

  /** The user declined from their desktop: every branch stops, `failed` 486 Busy Here at once. */
  decline(): void {
    if (this.settled) return;
    this.settle();
    this.stopOthers(undefined);
    this.emit('failed', 486, 'Busy Here');
  }

  /** Stops every branch: `failed` 487 at once, CANCEL to each (an answer racing it is hung up). */
  cancel(): void {
    if (this.settled) return;
    this.settle();
    this.stopOthers(undefined);
    this.emit('failed', 487, 'Request Terminated');
  }
}
