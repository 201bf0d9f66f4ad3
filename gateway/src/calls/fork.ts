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
import type { MediaEngine } from '../media/types.js';
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
  invite?: OutgoingInvite;
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
   * Creates each branch's endpoint and offer (`codecs` unless the branch names its own). A branch
   * whose media cannot be set up is left out; when none can be, the first error is thrown (the
   * endpoints made so far are released first).
   */
  async prepare(codecs: readonly CodecName[]): Promise<void> {
    const made = await Promise.allSettled(this.attempt.branches.map(async (branch): Promise<Leg> => {
      const endpointId = await this.call.createEndpoint(branch.webrtc ? 'webrtc' : 'rtp');
      try {
        return { branch, endpointId, offer: await this.ctx.media.offer(endpointId, branch.codecs.length ? branch.codecs : codecs), done: false };
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

  /** Sends the INVITEs (after {@link prepare}; attach listeners first). */
  start(): void {
    if (this.attempt.user && !this.settled) this.call.ringing(this.attempt.user, true);
    for (const leg of this.legs) {
      const invite = this.ctx.core.invite({ ...leg.branch.options, offer: leg.offer, headers: [...(leg.branch.options.headers ?? []), ...this.headers] });
      leg.invite = invite;
      const from: Answered = { branch: leg.branch, endpointId: leg.endpointId };
      invite.on('progress', (res) => {
        if (!this.settled) this.emit('progress', res, from);
      });
      invite.on('accepted', (res, dialog) => {
        leg.done = true;
        if (this.settled) {
          // Lost the race (another branch answered, or we gave up): hang up what it created.
          dialog.bye().catch(() => undefined);
          void this.call.closeEndpoint(leg.endpointId);
          return;
        }
        // The user's lamp stays "ringing" until the party joins the call (Call.joined), so it
        // never goes dark between the answer and the bridge.
        this.settled = true;
        this.stopOthers(leg, COMPLETED_ELSEWHERE);
        this.emit('accepted', res, dialog, from);
      });
      invite.on('failed', (status, reason) => {
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
  }

  /** Decided (answered, failed or cancelled): the user's devices no longer ring for it. */
  private settle(): void {
    this.settled = true;
    if (this.attempt.user) this.call.ringing(this.attempt.user, false);
  }

  private stopOthers(winner: Leg | undefined, reason?: string): void {
    for (const l of this.legs) {
      if (l === winner || l.done) continue;
      l.done = true;
      l.invite?.cancel(reason);
      void this.call.closeEndpoint(l.endpointId);
    }
  }

  /** Stops every branch: `failed` 487 at once, CANCEL to each (an answer racing it is hung up). */
  cancel(): void {
    if (this.settled) return;
    this.settle();
    this.stopOthers(undefined);
    this.emit('failed', 487, 'Request Terminated');
  }
}
