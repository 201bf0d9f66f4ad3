/**
 * Transfers inside the gateway's bridges (docs/calls.md): blind transfer (the other party hears
 * music while the target rings; a failed target brings them back), attended transfer (two of an
 * agent's calls joined, the agent leaves both), and the same from SIP devices with REFER
 * (RFC 3515), with or without Replaces (RFC 3891).
 */
import type { Dialog } from '../sip/dialog.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/layer.js';
import { parseNameAddr } from '../sip/uri.js';
import { Call, CallOperationError, CallState, otherSide, type Leg, type Side } from './call.js';
import { joinLeg, partyOf, ring, type LegContext } from './ringing.js';

/** How long a transfer target may ring before the call returns to the agent. */
const TRANSFER_RING_MS = 20_000;

/** What transfers need from the B2BUA beyond the legs: the calls, and a way to announce a hop. */
export interface TransferContext extends LegContext {
  calls(): Iterable<Call>;
  transferred(call: Call, from: string, to: string): void;
  /** Puts a call (its caller side waiting on music) into a queue; false when queues are not running. */
  enqueue(call: Call, queue: string): boolean;
  /** The queue's own music, if any. */
  musicFor(queue: string): string | undefined;
  /** Calling rights: may `user` send this call to external `number`? A refusal when not. */
  mayCall?(user: string, number: string, call: Call): { status: number; reason: string } | undefined;
}

/** Transfers of the B2BUA's calls. */
export class Transfers {
  constructor(private readonly ctx: TransferContext) {}

  /**
   * Attended transfer, completed: the agent on `side` of `call` also has a consultation call
   * (SIP Call-ID `consultCallId`) with the target. The kept party of `call` and the target are
   * bridged, the target's leg moves into `call`, and both of the agent's legs end. Only a party
   * of both calls may join them.
   */
  async complete(call: Call, leg: Leg, consultCallId: string, beforeRelease: () => void): Promise<void> {
    const fail = (status: number, reason: string) => new CallOperationError(status, reason);
    const side = principalSide(leg);
    const consult = [...this.ctx.calls()].find((c) => c !== call && c.parties.some((l) => l.dialog?.init.callId === consultCallId));
    if (!consult) throw fail(481, 'No Such Consultation Call');
    const agentLeg2 = consult.parties.find((l) => l.dialog?.init.callId === consultCallId)!;
    const agentSide2 = principalSide(agentLeg2);
    const kept = call.principal(otherSide(side));
    const target = consult.principal(otherSide(agentSide2));
    if (agentLeg2.party.toLowerCase() !== leg.party.toLowerCase()) throw fail(403, 'Not Your Consultation Call');
    if (call.state !== CallState.Connected || consult.state !== CallState.Connected || !kept.endpointId || !target.endpointId || !target.dialog) throw fail(491, 'Both Calls Must Be Connected');
    if (call.transferring || consult.transferring) throw fail(491, 'Transfer In Progress');
    // The target's leg moves into this call, in the agent's place (and into its ownership); the
    // media engine moves its endpoint from the consultation's bridge into this one.
    const targetDialog = target.dialog;
    const targetEndpoint = target.endpointId;
    call.adopt({ endpointId: targetEndpoint, dialog: targetDialog }, consult);
    targetDialog.removeAllListeners();
    delete target.dialog;
    delete target.endpointId;
    const old = { dialog: leg.dialog, endpointId: leg.endpointId, party: leg.party };
    call.replaceParty(leg, { party: target.party, endpointId: targetEndpoint, dialog: targetDialog, user: target.user, joined: true });
    // Either party may have been on hold (music stops, they hear each other).
    kept.holding = false;
    this.ctx.watch(call, targetDialog, leg);
    await call.applyMedia();
    call.addTransfer({ by: old.party, to: leg.party, result: 'completed (attended)' });
    this.ctx.transferred(call, old.party, leg.party);
    call.log.info('b2bua', `attended transfer by ${old.party}: ${kept.party} now with ${leg.party}`);
    beforeRelease();
    consult.hangup({ by: 'gateway', status: 200, reason: 'Transferred' });
    if (old.dialog) call.releaseDialog(old.dialog);
    old.dialog?.bye('SIP;cause=200;text="Call transferred"').catch(() => undefined);
    if (old.endpointId) await call.closeEndpoint(old.endpointId);
  }

  /**
   * REFER from a SIP device (RFC 3515), answered 202 with progress as NOTIFY `message/sipfrag`
   * (100 Trying, then the outcome). A plain Refer-To is a blind transfer of the other party to
   * that target. A Refer-To carrying `Replaces` (RFC 3891 §3, the device's attended transfer)
   * names the device's other call — its consultation with the target: the two calls are joined
   * exactly as the SDK's `completeTransfer` does, and the device leaves both.
   */
  refer(call: Call, dialog: Dialog, leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    const tag = dialog.init.localTag;
    const referTo = req.get('refer-to');
    let target: string | undefined;
    let replaces: { callId: string; tags: string[] } | undefined;
    try {
      const na = referTo ? parseNameAddr(referTo) : undefined;
      target = na?.uri.user;
      const header = na?.uri.headers?.split('&').find((h) => /^replaces=/i.test(h));
      if (header) {
        // Replaces = callid *(";" (to-tag / from-tag / early-only)), URI-escaped in the header part.
        const [callId, ...params] = decodeURIComponent(header.slice(header.indexOf('=') + 1)).split(';');
        const tags = params.map((p) => /^(?:to|from)-tag=(.+)$/i.exec(p.trim())?.[1]).filter((t): t is string => !!t);
        if (!callId || tags.length !== 2) return this.ctx.core.respond(tx, 400, 'Bad Replaces In Refer-To', [], tag);
        replaces = { callId, tags };
      }
    } catch {
      target = undefined;
    }
    if (!target && !replaces) return this.ctx.core.respond(tx, 400, 'Bad Refer-To', [], tag);
    this.ctx.core.respond(tx, 202, undefined, [], tag);
    const notify = (frag: string, terminated: boolean) =>
      dialog.request('NOTIFY', {
        body: Buffer.from(`${frag}\r\n`),
        contentType: 'message/sipfrag;version=2.0',
        headers: [['event', 'refer'], ['subscription-state', terminated ? 'terminated;reason=noresource' : 'active;expires=60']],
      });
    notify('SIP/2.0 100 Trying', false).catch(() => undefined);
    const failed = (err: Error) => {
      const status = err instanceof CallOperationError ? err.status : 500;
      notify(`SIP/2.0 ${status} ${err.message.replace(/[\r\n]/g, ' ')}`, true).catch(() => undefined);
    };
    if (replaces) {
      const r = replaces;
      // The replaced dialog must be the device's own leg of its other call: same Call-ID, and
      // the same two tags (either order: RFC 3891 names them from the recipient's side).
      const consult = [...this.ctx.calls()].find((c) => c !== call && c.parties.some((l) => l.dialog?.init.callId === r.callId));
      const other = consult?.parties.find((l) => l.dialog?.init.callId === r.callId);
      const tagsMatch = !!other?.dialog && [other.dialog.init.localTag, other.dialog.init.remoteTag].sort().join(' ') === [...r.tags].sort().join(' ');
      if (!tagsMatch) return failed(new CallOperationError(481, 'Replaced Dialog Does Not Exist'));
      // The NOTIFY goes out before the device's legs get their BYEs.
      this.complete(call, leg, r.callId, () => void notify('SIP/2.0 200 OK', true).catch(() => undefined)).catch(failed);
      return;
    }
    this.blind(call, leg, target!, () => notify('SIP/2.0 200 OK', true)).catch(failed);
  }

  /**
   * Blind transfer requested by `side`: the other party (kept) hears music on hold while the
   * target is called; when the target answers, kept ↔ target are bridged and the requester's leg
   * ends with BYE. If the target fails (unknown, busy, no answer in {@link TRANSFER_RING_MS}),
   * the kept party comes back to the requester and the error is returned — the call is never
   * dropped by a failed transfer.
   */
  blind(call: Call, leg: Leg, target: string, beforeRelease?: () => Promise<unknown>): Promise<void> {
    const fail = (status: number, reason: string) => new CallOperationError(status, reason);
    const run = async () => {
      const side = principalSide(leg);
      const kept = call.principal(otherSide(side));
      const requester = leg;
      if (call.state !== CallState.Connected || !kept.endpointId || !requester.dialog) throw fail(491, 'Call Not Connected');
      const route = this.ctx.router.resolve(target);
      if (route.kind === 'queue') return this.toQueue(call, requester, route.queue, beforeRelease);
      // A transfer out through a trunk is the requester's call to that number: their rights apply.
      const refusal = route.kind === 'external' ? this.ctx.mayCall?.(requester.party, route.number, call) : undefined;
      if (refusal) {
        call.addTransfer({ by: requester.party, to: target, result: `${refusal.status} ${refusal.reason}` });
        throw fail(refusal.status, refusal.reason);
      }
      const codec = call.codec ?? 'PCMU';
      const planned = this.ctx.attemptsFor(route, { user: kept.party }, [codec]);
      if ('status' in planned) {
        call.addTransfer({ by: requester.party, to: target, result: `${planned.status} ${planned.reason}` });
        throw fail(planned.status, planned.reason);
      }
      // The requester steps out (holds): the kept party hears music while the target rings.
      const wasHolding = requester.holding;
      const release = async () => {
        if (!wasHolding && call.state === CallState.Connected && call.parties.includes(requester)) {
          requester.holding = false;
          await call.applyMedia();
        }
      };
      if (!wasHolding) {
        requester.holding = true;
        await call.applyMedia();
      }
      call.log.info('b2bua', `${requester.party} transfers ${kept.party} to ${target}`);
      try {
        const r = await ring(this.ctx, call, planned, codec, { ringMs: TRANSFER_RING_MS, noAnswerReason: 'Transfer Target Did Not Answer' }).result;
        if (r.ok) {
          // The target answered: it takes the requester's place; the requester is released.
          const old = await joinLeg(this.ctx, call, requester, r, partyOf(route, target), route.kind === 'user');
          await beforeRelease?.().catch(() => undefined);
          if (old.dialog) call.releaseDialog(old.dialog);
          old.dialog?.bye('SIP;cause=200;text="Call transferred"').catch(() => undefined);
          if (old.endpointId) await call.closeEndpoint(old.endpointId);
          call.addTransfer({ by: old.party, to: requester.party, result: 'completed' });
          this.ctx.transferred(call, old.party, requester.party);
          call.log.info('b2bua', `transferred to ${requester.party}`);
          return;
        }
        // The target failed: the kept party returns to the requester.
        call.addTransfer({ by: requester.party, to: target, result: `${r.status} ${r.reason}` });
        call.log.info('b2bua', `transfer to ${target} failed (${r.status} ${r.reason}); back to ${requester.party}`);
        await release();
        throw fail(r.status === 486 || r.status === 404 || r.status === 480 ? r.status : 480, `Transfer Failed: ${r.status} ${r.reason}`);
      } catch (err) {
        // Whatever broke (a media error, a dead leg), the kept party is not left on hold.
        if (!(err instanceof CallOperationError)) {
          call.log.error('b2bua', `transfer failed`, err);
          await release().catch(() => undefined);
        }
        throw err;
      }
    };
    if (call.transferring) return Promise.reject(fail(491, 'Transfer In Progress'));
    call.transferring = true;
    return call.serialize(run).finally(() => {
      call.transferring = false;
    });
  }

  /**
   * Blind transfer into a queue: the kept party hears music and waits in the queue like any
   * caller (keeping the time the call first arrived, so it is not sent to the back of the line);
   * the requester's leg ends at once. The waiting party becomes the call's caller side, which is
   * the side queue offers bridge to the answering agent.
   */
  private async toQueue(call: Call, requester: Leg, queue: string, beforeRelease?: () => Promise<unknown>): Promise<void> {
    const kept = call.principal(otherSide(principalSide(requester)));
    const old = { dialog: requester.dialog, endpointId: requester.endpointId, party: requester.party };
    // The waiting party becomes the caller (queue offers ring an agent into the callee slot).
    if (kept.role === 'callee') {
      kept.role = 'caller';
      requester.role = 'callee';
    }
    kept.music = this.ctx.musicFor(queue) ?? '';
    kept.holding = false;
    call.replaceParty(requester, { party: queue, joined: false });
    await call.applyMedia();
    call.queue = queue;
    call.setState(CallState.Queued);
    call.addTransfer({ by: old.party, to: queue, result: 'queued' });
    call.note('queued', queue);
    call.log.info('b2bua', `${old.party} transfers ${call.caller.party} into queue ${queue}`);
    this.ctx.transferred(call, old.party, queue);
    await beforeRelease?.().catch(() => undefined);
    if (old.dialog) call.releaseDialog(old.dialog);
    old.dialog?.bye('SIP;cause=200;text="Call transferred"').catch(() => undefined);
    if (old.endpointId) await call.closeEndpoint(old.endpointId);
    if (!this.ctx.enqueue(call, queue)) call.hangup({ by: 'gateway', status: 503, reason: 'Queues Not Running' });
  }
}

/** The principal slot a leg holds; transfers are between the two principals of a call. */
export function principalSide(leg: Leg): Side {
  if (leg.role === 'caller' || leg.role === 'callee') return leg.role;
  throw new CallOperationError(488, 'Only The Call\'s Principal Parties Can Transfer');
}
