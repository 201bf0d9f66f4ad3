/**
 * The back-to-back user agent: every INVITE becomes a {@link Call} with two legs joined by a
 * bridge in the media engine. SDP is never proxied end to end: each leg negotiates with the
 * gateway. The callee is offered the G.711 codecs the caller offered, and the caller is answered
 * with the codec the callee chose, so packets relay without transcoding.
 */
import { log } from '../util/log.js';
import { Emitter } from '../util/emitter.js';
import type { SipCore, SipCoreDelegate } from '../sip/core.js';
import type { Dialog } from '../sip/dialog.js';
import type { IncomingInvite } from '../sip/invite.js';
import type { SipRequest } from '../sip/message.js';
import type { InviteServerTransaction } from '../sip/transaction/server-invite.js';
import { randomToken } from '../sip/message.js';
import type { MediaEngine } from '../media/types.js';
import { commonCodecs, parseAudio, SdpError, type AudioDescription, type CodecName } from '../media/sdp.js';
import { Call, CallState } from './call.js';
import type { Router } from './router.js';

/** Events of the B2BUA. */
export type B2buaEvents = {
  callCreated: [call: Call];
  callEnded: [call: Call];
};

/** The B2BUA. */
export class B2bua extends Emitter<B2buaEvents> implements SipCoreDelegate {
  private readonly calls = new Map<string, Call>();

  constructor(
    private readonly core: SipCore,
    private readonly media: MediaEngine,
    private readonly router: Router,
  ) {
    super();
    core.delegate = this;
  }

  /** Calls in progress. */
  get active(): Call[] {
    return [...this.calls.values()];
  }

  onInvite(invite: IncomingInvite): void {
    this.handle(invite).catch((err: Error) => {
      log.error('b2bua', `call ${invite.request.callId} failed`, err);
      invite.reject(500, 'Internal Error');
    });
  }

  private async handle(invite: IncomingInvite): Promise<void> {
    let offer: AudioDescription;
    try {
      offer = parseAudio(invite.offer);
    } catch (err) {
      if (err instanceof SdpError) return invite.reject(488, err.message);
      throw err;
    }
    const codecs = commonCodecs(offer);
    if (!codecs.length) return invite.reject(488, 'No Common Codec (PCMU or PCMA required)');
    const dialled = invite.request.requestUri.user ?? invite.request.to.uri.user ?? '';
    const route = this.router.resolve(dialled);
    if (route.kind === 'unknown') {
      log.info('b2bua', `${invite.identity} dialled unknown target "${dialled}"`);
      return invite.reject(404, 'No Such User Or Extension');
    }
    const call = new Call(randomToken(8), invite.identity, route.kind === 'echo' ? 'echo' : route.username, this.media);
    this.calls.set(call.id, call);
    call.on('stateChanged', (s) => {
      if (s === CallState.Ended) {
        this.calls.delete(call.id);
        this.emit('callEnded', call);
      }
    });
    this.emit('callCreated', call);
    invite.progress(100);

    if (route.kind === 'echo') return this.answerEcho(call, invite, offer, codecs[0]!);
    if (!route.bindings.length) {
      call.hangup({ by: 'gateway', status: 480, reason: 'User Not Registered' });
      return invite.reject(480, 'User Not Registered');
    }
    const binding = route.bindings[0]!;

    const t0 = performance.now();
    call.caller.endpointId = await this.media.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');
    call.callee.endpointId = await this.media.createEndpoint(binding.webrtc ? 'webrtc' : 'rtp');
    const calleeOffer = await this.media.offer(call.callee.endpointId, codecs);
    call.timings.calleeOfferMs = performance.now() - t0;
    const contactUri = binding.contact.uri;
    const out = this.core.invite({
      target: binding.target,
      requestUri: `sip:${contactUri.user ?? route.username}@${contactUri.host}${contactUri.port ? ':' + contactUri.port : ''}${contactUri.params.transport ? ';transport=' + contactUri.params.transport : ''}`,
      from: { user: invite.identity, ...(invite.request.from.displayName ? { displayName: invite.request.from.displayName } : {}) },
      to: { user: route.username },
      offer: calleeOffer,
    });

    invite.on('cancelled', () => {
      out.cancel();
      call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
    });
    out.on('progress', (res) => {
      if (res.status === 180 || res.status === 183) {
        call.setState(CallState.Ringing);
        invite.progress(180);
      }
    });
    out.on('failed', (status, reason) => {
      // Authentication challenges from the callee are the gateway's problem, not the caller's.
      const forward = status === 401 || status === 407 ? 502 : status;
      invite.reject(forward, reason);
      call.hangup({ by: 'callee', status: forward, reason });
    });
    out.on('accepted', (res, calleeDialog) => {
      call.callee.dialog = calleeDialog;
      this.connect(call, invite, offer, res.body.toString('utf8'), calleeDialog).catch((err: Error) => {
        log.error('b2bua', `call ${call.id}: bridging failed`, err);
        invite.reject(500, 'Media Setup Failed');
        call.hangup({ by: 'gateway', status: 500, reason: err.message });
      });
    });
    out.start();
  }

  /** Callee answered: finish negotiation with both legs, answer the caller, bridge media. */
  private async connect(call: Call, invite: IncomingInvite, _offer: AudioDescription, calleeAnswer: string, calleeDialog: Dialog): Promise<void> {
    this.watch(call, calleeDialog, 'callee');
    const t0 = performance.now();
    const codec = await this.media.acceptAnswer(call.callee.endpointId!, calleeAnswer);
    const callerAnswer = await this.media.answer(call.caller.endpointId!, invite.offer, codec);
    call.timings.callerAnswerMs = performance.now() - t0;
    if (call.state === CallState.Ended || invite.answered) {
      call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
      return;
    }
    await this.media.connect(call.caller.endpointId!, call.callee.endpointId!);
    call.caller.dialog = invite.accept(callerAnswer);
    this.watch(call, call.caller.dialog, 'caller');
    call.setState(CallState.Connected);
    log.info('b2bua', `call ${call.id} media: callee offer ${call.timings.calleeOfferMs?.toFixed(1)} ms, caller answer after callee 200 ${call.timings.callerAnswerMs?.toFixed(1)} ms`);
  }

  private async answerEcho(call: Call, invite: IncomingInvite, offer: AudioDescription, codec: CodecName): Promise<void> {
    call.caller.endpointId = await this.media.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');
    const answer = await this.media.answer(call.caller.endpointId, invite.offer, codec);
    await this.media.echo(call.caller.endpointId);
    if (invite.answered) return call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
    call.caller.dialog = invite.accept(answer);
    this.watch(call, call.caller.dialog, 'caller');
    call.setState(CallState.Connected);
  }

  /** Ends the call when either dialog ends; answers mid-call requests on each leg. */
  private watch(call: Call, dialog: Dialog, side: 'caller' | 'callee'): void {
    dialog.on('terminated', (why) => {
      if (why === 'bye-sent') return;
      call.hangup({ by: why === 'bye-received' ? side : 'gateway', status: 200, reason: why });
    });
    dialog.on('request', (req, tx) => {
      if (req.method === 'INVITE') {
        this.reinvite(call, dialog, side, req, tx as InviteServerTransaction).catch((err: Error) => {
          log.error('b2bua', `call ${call.id}: re-INVITE failed`, err);
          this.core.respond(tx, 500, 'Internal Error', [], dialog.init.localTag);
        });
      } else if (req.method === 'UPDATE') {
        this.core.respond(tx, 501, undefined, [], dialog.init.localTag);
      } else {
        this.core.respond(tx, 200, undefined, [], dialog.init.localTag);
      }
    });
  }

  /**
   * A re-INVITE on one leg (RFC 3261 §14.2, RFC 3264 §8): a session refresh, a new address or a
   * direction change. The leg's endpoint answers it on its own — the other leg is not
   * renegotiated, because the bridge relays whatever arrives. Hold with music is issue 6.
   */
  private async reinvite(call: Call, dialog: Dialog, side: 'caller' | 'callee', req: SipRequest, tx: InviteServerTransaction): Promise<void> {
    const tag = dialog.init.localTag;
    // §14.2: a second re-INVITE while one is in progress gets 500 with Retry-After 0-10 s.
    if (dialog.inviteInProgress) return this.core.respond(tx, 500, 'Re-INVITE In Progress', [['retry-after', String(Math.floor(Math.random() * 11))]], tag);
    if (!req.body.length) return this.core.respond(tx, 488, 'Offerless Re-INVITE Not Supported', [], tag);
    const endpointId = (side === 'caller' ? call.caller : call.callee).endpointId;
    if (!endpointId || call.state !== CallState.Connected) return this.core.respond(tx, 491, undefined, [], tag);
    let answer: string;
    try {
      answer = await this.media.reanswer(endpointId, req.body.toString('utf8'));
    } catch (err) {
      log.info('b2bua', `call ${call.id}: re-INVITE from the ${side} refused: ${(err as Error).message}`);
      return this.core.respond(tx, 488, 'Not Acceptable Here', [], tag);
    }
    dialog.acceptInvite(tx, answer, [['server', this.core.opts.userAgent]]);
    log.info('b2bua', `call ${call.id}: re-INVITE from the ${side} answered`);
  }

  /** Ends every call (shutdown). */
  close(): void {
    for (const c of this.calls.values()) c.hangup({ by: 'gateway', status: 503, reason: 'Gateway shutting down' });
  }
}
