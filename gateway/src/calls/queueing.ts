/**
 * The call side of queues: a call to a queue is answered by the gateway (the caller hears music
 * on their own leg), then offered to one agent after another by the ACD above. An offer is an
 * INVITE to the agent's device; when it is answered the agent's leg becomes the call's callee
 * and the bridge starts relaying. The ACD decides who; this file only rings and bridges.
 */
import type { IncomingInvite } from '../sip/invite.js';
import type { CodecName } from '../media/sdp.js';
import { Call, CallState } from './call.js';
import { joinLeg, partyOf, ring, type LegContext, type Ringing } from './ringing.js';

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
    call.caller.endpointId = await call.createEndpoint(webrtc ? 'webrtc' : 'rtp');
    const answer = await media.answer(call.caller.endpointId, invite.offer, codec);
    call.codec = codec;
    // Music while waiting: the caller is alone in the bridge with the queue's music.
    call.caller.music = this.delegate.musicFor?.(queue) ?? '';
    call.joined(call.caller);
    await call.applyMedia();
    if (invite.answered || call.state === CallState.Ended) return call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
    call.caller.dialog = invite.accept(answer);
    this.ctx.watch(call, call.caller.dialog, call.caller);
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
    let cancelled = false;
    const report = (o: OfferOutcome) => {
      if (!cancelled) onOutcome(o);
    };
    const route = this.ctx.router.resolve(target);
    const codec = call.codec ?? 'PCMU';
    const planned = this.ctx.attemptsFor(route, { user: call.caller.party }, [codec]);
    if ('status' in planned) {
      queueMicrotask(() => report({ answered: false, status: planned.status, reason: planned.reason }));
      return { cancel: () => void (cancelled = true) };
    }
    const ringing: Ringing = ring(this.ctx, call, planned, codec, { headers, ...(ringMs ? { ringMs } : {}) });
    const run = async () => {
      const r = await ringing.result;
      if (!r.ok) return report({ answered: false, status: r.status, reason: r.reason });
      const party = partyOf(route, target);
      await joinLeg(this.ctx, call, call.callee, r, party, route.kind === 'user');
      call.setState(CallState.Connected);
      call.log.info('queue', `${call.caller.party} connected to ${party}`);
      report({ answered: true });
    };
    run().catch((err: Error) => {
      call.log.error('queue', `offer to ${target} failed`, err);
      report({ answered: false, status: 500, reason: err.message });
    });
    return {
      cancel: () => {
        cancelled = true;
        ringing.cancel();
      },
    };
  }
}
