/**
 * Ringing a new leg for a call that is already up — a queue offer, an overflow, a blind transfer —
 * and joining it to the party who waits on music. One loop for all three: each planned attempt
 * is a {@link Fork} (a user's registrations rung at once, or one trunk); a trunk answering
 * 408/503 fails over to the next trunk; the ring timeout and a cancel end the ringing (an answer
 * racing them is hung up).
 */
import type { SipCore } from '../sip/core.js';
import type { Dialog } from '../sip/dialog.js';
import type { MediaEngine } from '../media/types.js';
import type { CodecName } from '../media/sdp.js';
import { Fork, type Attempt, type Branch } from './fork.js';

export type { Attempt, Branch } from './fork.js';
import { CallEndedError, CallState, type Call, type Leg } from './call.js';
import type { Route, Router } from './router.js';
import { CALL_DATA_HEADER, encodeCallData } from '@switchboard/protocol';

/**
 * Headers of an INVITE for `call` to `attempt`: `extra`, and for the gateway's own users (not
 * trunks) `X-Switchboard-Call-Id` — the call's id in the records, so a desktop can link its call
 * to the record or a CRM — and `X-Switchboard-Call-Data`, the call's data (`call.data` in the SDK).
 * Neither goes out to a trunk: the carrier has no business with them.
 */
export function legHeaders(call: Call, attempt: Attempt, extra: Array<[string, string]> = []): Array<[string, string]> {
  return attempt.trunk ? extra : [...extra, ['x-switchboard-call-id', call.id], [CALL_DATA_HEADER.toLowerCase(), encodeCallData(call.data())]];
}

/** What ringing and joining need from the B2BUA. */
export interface LegContext {
  core: SipCore;
  media: MediaEngine;
  router: Router;
  /** The attempts for a route, or why there are none (404 for routes that are no user or number). */
  attemptsFor(route: Route, from: { user: string; displayName?: string }, codecs: CodecName[]): Attempt[] | { status: number; reason: string };
  watch(call: Call, dialog: Dialog, leg: Leg): void;
}

/** How ringing ended: answered (endpoint, dialog, SDP answer, the attempt that won) or not. */
export type RingResult =
  | { ok: true; endpointId: string; dialog: Dialog; answer: string; attempt: Attempt; branch: Branch }
  | { ok: false; status: number; reason: string };

/** Ringing in progress. */
export interface Ringing {
  result: Promise<RingResult>;
  /** Stops ringing; the result becomes 487 (an answer that races it is hung up). */
  cancel(): void;
}

/**
 * Rings `attempts` in order with a `codec` offer, for `call` (which owns every endpoint and the
 * answered dialog, so nothing outlives the call whatever happens). `ringMs` bounds each attempt's
 * ringing (then 408 `noAnswerReason`, and no failover: the callee did not answer, the trunk did).
 * The call ending meanwhile gives up with 487.
 */
export function ring(
  ctx: Pick<LegContext, 'core' | 'media'>,
  call: Call,
  attempts: readonly Attempt[],
  codec: CodecName,
  opts: { headers?: Array<[string, string]>; ringMs?: number; noAnswerReason?: string } = {},
): Ringing {
  let cancelled = false;
  let current: Fork | undefined;
  const gaveUp = () => cancelled || call.state === CallState.Ended;
  const terminated: RingResult = { ok: false, status: 487, reason: 'Request Terminated' };
  const run = async (): Promise<RingResult> => {
    let last: RingResult = { ok: false, status: 480, reason: 'Temporarily Unavailable' };
    for (const a of attempts) {
      if (gaveUp()) return terminated;
      const fork = new Fork(ctx, call, a, legHeaders(call, a, opts.headers));
      try {
        await fork.prepare([codec]);
      } catch (err) {
        if (err instanceof CallEndedError) return terminated;
        throw err;
      }
      if (gaveUp()) {
        fork.cancel();
        return terminated;
      }
      current = fork;
      const r = await new Promise<{ body: string; dialog: Dialog; endpointId: string; branch: Branch } | { status: number; reason: string; timedOut?: boolean }>((resolve) => {
        const timer = opts.ringMs
          ? setTimeout(() => {
            // Resolve first: cancel() reports the INVITEs failed (487) at once.
            resolve({ status: 408, reason: opts.noAnswerReason ?? 'No Answer', timedOut: true });
            fork.cancel();
          }, opts.ringMs)
          : undefined;
        fork.on('accepted', (res, dialog, from) => {
          clearTimeout(timer);
          resolve({ body: res.body.toString('utf8'), dialog, ...from });
        });
        fork.on('failed', (status, reason) => {
          clearTimeout(timer);
          resolve({ status, reason });
        });
        fork.start();
      });
      if ('status' in r) {
        if (gaveUp()) return terminated;
        last = { ok: false, status: r.status, reason: r.reason };
        if (a.trunk && !r.timedOut && (r.status === 408 || r.status === 503)) continue;
        return last;
      }
      // Answered: the user's lamp shows ringing until the party joins (or this gives up here).
      const release = async () => {
        if (a.user) call.ringing(a.user, false);
        await call.closeEndpoint(r.endpointId);
      };
      if (cancelled) {
        r.dialog.bye().catch(() => undefined);
        await release();
        return terminated;
      }
      try {
        call.ownDialog(r.dialog); // the call ended meanwhile: BYE'd there
      } catch {
        await release();
        return terminated;
      }
      return { ok: true, endpointId: r.endpointId, dialog: r.dialog, answer: r.body, attempt: a, branch: r.branch };
    }
    return last;
  };
  return {
    result: run(),
    cancel: () => {
      cancelled = true;
      current?.cancel();
    },
  };
}

/**
 * Joins an answered ring to the call in a principal's place: `leg` (the agent who transferred,
 * or the empty callee slot of a queued call) becomes the new party, whoever waited on music
 * stops waiting, and the bridge is rebuilt. Returns what the slot held before. If joining fails,
 * the answered leg is released (BYE, endpoint closed) before the error goes up.
 */
export async function joinLeg(ctx: Pick<LegContext, 'media' | 'watch'>, call: Call, leg: Leg, r: Extract<RingResult, { ok: true }>, party: string, user: boolean): Promise<{ party: string; endpointId?: string | undefined; dialog?: Dialog | undefined }> {
  try {
    await ctx.media.acceptAnswer(r.endpointId, r.answer);
  } catch (err) {
    call.ringing(party, false);
    call.releaseDialog(r.dialog);
    r.dialog.bye().catch(() => undefined);
    await call.closeEndpoint(r.endpointId);
    throw err;
  }
  const old = { party: leg.party, endpointId: leg.endpointId, dialog: leg.dialog };
  call.replaceParty(leg, { party, endpointId: r.endpointId, dialog: r.dialog, user, joined: true });
  // The party waiting on music (a queue's, or hold while the target rang) hears the new one.
  for (const p of call.parties) {
    delete p.music;
    if (p !== leg) p.holding = false;
  }
  if (r.attempt.trunk) {
    r.attempt.trunk.callsOut++;
    call.trunk = r.attempt.trunk.name;
    call.seat(r.attempt.trunk);
  }
  ctx.watch(call, r.dialog, leg);
  await call.applyMedia();
  return old;
}

/** Who a route reaches, as a party name for calls and records. */
export function partyOf(route: Route, dialled: string): string {
  switch (route.kind) {
    case 'echo':
      return 'echo';
    case 'user':
      return route.username;
    case 'external':
      return route.number;
    case 'queue':
      return route.queue;
    default:
      return dialled;
  }
}
