/**
 * The call side of queues: a call to a queue is answered by the gateway (the caller hears music
 * on their own leg), then offered to one agent after another by the ACD above. An offer is an
 * INVITE to the agent's device; when it is answered the agent's leg becomes the call's callee
 * and the bridge starts relaying. The ACD decides who; this file only rings and bridges.
 */
import { log } from '../util/log.js';
import type { SipCore } from '../sip/core.js';
import type { Dialog } from '../sip/dialog.js';
import type { IncomingInvite, OutgoingInvite } from '../sip/invite.js';
import type { MediaEngine } from '../media/types.js';
import type { CodecName } from '../media/sdp.js';
import { Call, CallState, type Side } from './call.js';
import type { Route, Router } from './router.js';

/** One way to reach a target (built by the B2BUA). */
export interface Attempt {
  label: string;
  webrtc: boolean;
  codecs: CodecName[];
  trunk?: { name: string; callsOut: number };
  options: Omit<import('../sip/invite.js').InviteOptions, 'offer'>;
}

/** What the queueing side needs from the B2BUA. */
export interface LegContext {
  core: SipCore;
  media: MediaEngine;
  router: Router;
  attemptsFor(route: Route, from: { user: string; displayName?: string }, codecs: CodecName[]): Attempt[] | { status: number; reason: string };
  watch(call: Call, dialog: Dialog, side: Side): void;
}

/** Told when a caller has been answered into a queue (the contact-center layer implements it). */
export interface QueueDelegate {
  enqueue(call: Call, queue: string): void;
  /** The queue's own music (a WAV file), if it has one. */
  musicFor?(queue: string): string | undefined;
}

/** How an offer went. */
export type OfferOutcome = { answered: true } | { answered: false; status: number; reason: string };

/** An offer in progress. */
export interface OfferHandle {
  /** Stops ringing; no outcome is reported after this. */
  cancel(): void;
}

/** Queue legs: answer into the queue, offer to a target, bridge on answer. */
export class Queueing {
  delegate?: QueueDelegate;

  constructor(private readonly ctx: LegContext) {}

  /** Answers the caller, starts the music and hands the call to the queue delegate. */
  async answer(call: Call, invite: IncomingInvite, webrtc: boolean, codec: CodecName, queue: string): Promise<void> {
    const { media } = this.ctx;
    if (!this.delegate) {
      call.hangup({ by: 'gateway', status: 503, reason: 'Queues Not Running' });
      return invite.reject(503, 'Queues Not Running');
    }
    call.queue = queue;
    call.caller.endpointId = await media.createEndpoint(webrtc ? 'webrtc' : 'rtp');
    const answer = await media.answer(call.caller.endpointId, invite.offer, codec);
    call.codec = codec;
    // Music while waiting: the caller's endpoint is "held" with nobody on the other side.
    await media.hold(call.caller.endpointId, this.delegate.musicFor?.(queue));
    if (invite.answered || call.state === CallState.Ended) return call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
    call.caller.dialog = invite.accept(answer);
    this.ctx.watch(call, call.caller.dialog, 'caller');
    call.setState(CallState.Queued);
    call.note('queued', queue);
    this.delegate.enqueue(call, queue);
  }

  /**
   * Rings `target` (an agent, an extension or a number) for a call waiting on music. When it
   * answers, it becomes the call's callee and the bridge relays; `onOutcome` reports either
   * way unless the offer was cancelled first. `ringMs` bounds the ringing (the ACD has its own
   * timer and passes none).
   */
  offer(call: Call, target: string, headers: Array<[string, string]>, onOutcome: (o: OfferOutcome) => void, ringMs?: number): OfferHandle {
    const { core, media, router } = this.ctx;
    let cancelled = false;
    let out: OutgoingInvite | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const report = (o: OfferOutcome) => {
      clearTimeout(timer);
      if (!cancelled) onOutcome(o);
    };
    const route = router.resolve(target);
    const codec = call.codec ?? 'PCMU';
    const planned = route.kind === 'user' || route.kind === 'external' ? this.ctx.attemptsFor(route, { user: call.caller.party }, [codec]) : { status: 404, reason: 'No Such User Or Extension' };
    if ('status' in planned) {
      queueMicrotask(() => report({ answered: false, status: planned.status, reason: planned.reason }));
      return { cancel: () => void (cancelled = true) };
    }
    const party = route.kind === 'user' ? route.username : route.kind === 'external' ? route.number : target;
    const run = async () => {
      let last: OfferOutcome = { answered: false, status: 480, reason: 'Temporarily Unavailable' };
      for (const a of planned) {
        const ep = await media.createEndpoint(a.webrtc ? 'webrtc' : 'rtp');
        const sdp = await media.offer(ep, [codec]);
        if (cancelled || call.state === CallState.Ended) return void media.closeEndpoint(ep).catch(() => undefined);
        const invite = core.invite({ ...a.options, offer: sdp, headers });
        out = invite;
        const result = await new Promise<{ body: string; dialog: Dialog } | { status: number; reason: string }>((resolve) => {
          invite.on('accepted', (res, dialog) => resolve({ body: res.body.toString('utf8'), dialog }));
          invite.on('failed', (status, reason) => resolve({ status, reason }));
          invite.start();
        });
        if ('status' in result) {
          await media.closeEndpoint(ep).catch(() => undefined);
          last = { answered: false, status: result.status, reason: result.reason };
          if (!cancelled && a.trunk && (result.status === 408 || result.status === 503)) continue;
          return report(last);
        }
        if (cancelled || (call.state as CallState) === CallState.Ended) {
          // Answered as we gave up (the ACD's ring timer, the caller hung up): end that leg.
          result.dialog.bye().catch(() => undefined);
          return void media.closeEndpoint(ep).catch(() => undefined);
        }
        await media.acceptAnswer(ep, result.body);
        await media.connect(call.caller.endpointId!, ep);
        await media.resume(call.caller.endpointId!);
        call.callee.party = party;
        call.callee.endpointId = ep;
        call.callee.dialog = result.dialog;
        if (a.trunk) {
          a.trunk.callsOut++;
          call.trunk = a.trunk.name;
        }
        this.ctx.watch(call, result.dialog, 'callee');
        call.setState(CallState.Connected);
        log.info('queue', `call ${call.id}: ${call.caller.party} connected to ${party}`);
        return report({ answered: true });
      }
      report(last);
    };
    if (ringMs) {
      timer = setTimeout(() => {
        out?.cancel();
        report({ answered: false, status: 408, reason: 'No Answer' });
        cancelled = true;
      }, ringMs);
    }
    run().catch((err: Error) => {
      log.error('queue', `call ${call.id}: offer to ${target} failed`, err);
      report({ answered: false, status: 500, reason: err.message });
    });
    return {
      cancel: () => {
        cancelled = true;
        clearTimeout(timer);
        out?.cancel();
      },
    };
  }
}
