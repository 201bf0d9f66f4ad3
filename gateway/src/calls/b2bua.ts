/**
 * The back-to-back user agent: every INVITE becomes a {@link Call} with two legs joined by a
 * bridge in the media engine. SDP is never proxied end to end: each leg negotiates with the
 * gateway. The callee is offered the G.711 codecs the caller offered, and the caller is answered
 * with the codec the callee chose, so packets relay without transcoding.
 */
import { CALL_DATA_HEADER, CALL_DATA_LIMITS, encodeCallData, type CallData, type ControlMessage, type GatewayEvent } from '@switchboard/protocol';
import { log } from '../util/log.js';
import { systemClock, type Clock } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import type { MessageIdentity, MessageReply, SipCore, SipCoreDelegate } from '../sip/core.js';
import type { Dialog } from '../sip/dialog.js';
import type { IncomingInvite } from '../sip/invite.js';
import type { TrunkManager } from '../trunks/manager.js';
import type { SipRequest } from '../sip/message.js';
import type { InviteServerTransaction } from '../sip/transaction/server-invite.js';
import type { ServerTransaction } from '../sip/transaction/layer.js';
import { randomToken } from '../sip/message.js';
import type { MediaEngine } from '../media/types.js';
import { commonCodecs, parseAudio, SdpError, type AudioDescription, type CodecName } from '../media/sdp.js';
import { Call, CallEndedError, CallOperationError, CallState, CONTROL_TYPE, isBrowserLeg, otherSide, type Leg } from './call.js';
import type { Route, Router } from './router.js';
import { Queueing } from './queueing.js';
import { legHeaders, partyOf } from './ringing.js';
import { Fork, type Attempt } from './fork.js';
import { Transfers } from './transfers.js';
import type { CallingPolicy } from './policy.js';
import { Conference, type ConferenceOptions } from './conference.js';
import { Supervision, type SupervisionOptions } from './supervision.js';
import { DeskPhones, type DeskOptions } from './desk.js';

/** How long a feature code's tone plays before the gateway hangs up. */
export const FEATURE_TONE_MS = 1500;

/** What a feature code did, for the tone and the log (see {@link B2bua.featureCode}). */
export interface FeatureCodeResult {
  ok: boolean;
  /** What happened or why not, e.g. "alice: not-ready (break)". */
  text: string;
}

/** How long a trunk may stay silent after our INVITE before the next trunk is tried. */
const SETUP_TIMEOUT_MS = 3000;

/** Options of the B2BUA. */
export interface B2buaOptions {
  /** How long a browser's calls wait for it to reconnect after its WebSocket closed (0: end at once). */
  reconnectGraceMs: number;
  clock: Clock;
  /** Every this long, each connected SIP leg gets an in-dialog OPTIONS (0: never). */
  probeIntervalMs?: number;
  /** Calling rights for numbers that leave through a trunk (toll fraud). */
  policy?: CallingPolicy;
  /** Conferences: the most parties per call, and when a call whose parties leave ends. */
  conference?: ConferenceOptions;
  /** Supervision: desk-phone feature codes, and whether the agent is told. */
  supervision?: SupervisionOptions;
  /** A user's role (`agent`, `supervisor`, `admin`): only supervisors and admins supervise. */
  roleOf?: (user: string) => string | undefined;
  /** SIP headers of an incoming INVITE copied into the call's attributes: header name → key. */
  callDataHeaders?: Record<string, string>;
  /** Device mode: auto-answer headers and device profiles. */
  desk?: DeskOptions;
}

/** Defaults of {@link B2buaOptions.desk}. */
export const DESK_DEFAULTS: DeskOptions = {
  autoAnswerHeaders: ['Call-Info: <sip:{host}>;answer-after=0', 'Alert-Info: <http://{host}/>;info=alert-autoanswer'],
  profiles: [],
  dialRingMs: 30_000,
};

/** Defaults of {@link B2buaOptions.conference} and {@link B2buaOptions.supervision}. */
export const CONFERENCE_DEFAULTS: ConferenceOptions = { maxParties: 10, endWhen: 'fewer-than-two' };
export const SUPERVISION_DEFAULTS: SupervisionOptions = { featureCodes: { monitor: '*51', whisper: '*52', barge: '*53' }, notifyAgent: false };

/** Events of the B2BUA. */
export type B2buaEvents = {
  callCreated: [call: Call];
  /** Emitted synchronously as the call ends, before its legs and media are released. */
  callEnded: [call: Call];
  /** A transfer completed: `from` left the call and `to` took that leg. */
  transferred: [call: Call, from: string, to: string];
  /** A party left a call that goes on without it (a conference). */
  partyLeft: [call: Call, party: string];
};

/** The B2BUA. */
export class B2bua extends Emitter<B2buaEvents> implements SipCoreDelegate {
  private readonly calls = new Map<string, Call>();
  private readonly infoChains = new WeakMap<Dialog, Promise<void>>();
  /** Rate limit for the "no media port" warning. */
  private noPortLogged = { at: 0, suppressed: 0 };
  /** Dialogs with an offer/answer exchange in progress (a second offer meanwhile gets 491/500). */
  private readonly negotiating = new WeakSet<Dialog>();
  /** Calls to queues: answered into music, offered to agents (the ACD decides, above). */
  readonly queueing: Queueing;
  /** Blind and attended transfers, from the SDK and from SIP devices (REFER). */
  readonly transfers: Transfers;
  /** Conferences: participants added, consultations merged, parties leaving. */
  readonly conference: Conference;
  /** Supervisors joining agents' calls (monitor, whisper, barge). */
  readonly supervision: Supervision;
  /** Device mode: users whose audio is on a SIP device, their calls driven from the desktop. */
  readonly desk: DeskPhones;
  /** Tells one user's desktops an event (the contact-center layer sets it; device mode uses it). */
  push?: (user: string, event: GatewayEvent) => void;
  /** An available agent of a queue (the contact-center layer sets it), for adding a queue to a conference. */
  agentFor?: (queue: string) => string | undefined;
  /**
   * Runs `dialled` as a feature code for `user` when it is one (the contact-center layer sets it:
   * agent state from a desk phone); undefined when it is not a feature code, and the call is
   * routed as usual.
   */
  featureCode?: (user: string, dialled: string) => FeatureCodeResult | undefined;

  constructor(
    private readonly core: SipCore,
    private readonly media: MediaEngine,
    private readonly router: Router,
    private readonly trunks?: TrunkManager,
    private readonly opts: B2buaOptions = { reconnectGraceMs: 30_000, clock: systemClock },
  ) {
    super();
    core.delegate = this;
    if (opts.probeIntervalMs && opts.probeIntervalMs > 0) {
      this.probeTimer = setInterval(() => this.probeLegs(), opts.probeIntervalMs);
      this.probeTimer.unref();
    }
    const ctx = { core, media, router, attemptsFor: (r: Route, f: { user: string; displayName?: string }, c: CodecName[]) => this.attemptsFor(r, f, c), watch: (c: Call, d: Dialog, l: Leg) => this.watch(c, d, l) };
    this.queueing = new Queueing(ctx);
    this.transfers = new Transfers({
      ...ctx,
      calls: () => this.calls.values(),
      transferred: (c, from, to) => this.emit('transferred', c, from, to),
      enqueue: (c, q) => {
        if (!this.queueing.delegate) return false;
        this.queueing.delegate.enqueue(c, q);
        return true;
      },
      musicFor: (q) => this.queueing.delegate?.musicFor?.(q),
      mayCall: (user, number, call) => mayCall(user, number, call),
    });
    const mayCall = (user: string, number: string, call: Call) => {
      const policy = this.opts.policy;
      if (!policy) return undefined;
      const refusal = policy.check(user, number, call.id);
      if (!refusal) call.on('stateChanged', (s) => s === CallState.Ended && policy.ended(user, call.id));
      return refusal;
    };
    const tell = (c: Call, l: Leg, m: ControlMessage) => this.tell(c, l, m);
    this.conference = new Conference({
      ...ctx,
      calls: () => this.calls.values(),
      mayCall,
      agentFor: (q) => this.agentFor?.(q),
      tell,
      supervisorLeft: (c, l) => this.supervision.left(c, l),
      left: (c, l) => this.emit('partyLeft', c, l.party),
      opts: opts.conference ?? CONFERENCE_DEFAULTS,
    });
    this.supervision = new Supervision({
      media,
      router,
      calls: () => this.calls.values(),
      roleOf: (u) => this.opts.roleOf?.(u),
      watch: (c, d, l) => this.watch(c, d, l),
      tell,
      conference: this.conference,
      opts: opts.supervision ?? SUPERVISION_DEFAULTS,
    });
    this.desk = new DeskPhones({
      ...ctx,
      call: (id) => this.calls.get(id),
      track: (c) => this.track(c),
      push: (u, e) => this.push?.(u, e),
      operate: (c, l, m) => this.operate(c, l, m),
      digit: (c, l, d) => {
        for (const to of this.hearers(c, l)) this.deliverInfoDigit(c, to, d);
      },
      leave: (c, l, reason) => this.conference.gone(c, l, { status: 200, reason, byGateway: true }),
      mayCall,
      offer: (c, target, outcome, ringMs) => void this.queueing.offer(c, target, [], outcome, ringMs),
      host: core.opts.advertisedHost,
    }, opts.desk ?? DESK_DEFAULTS);
    // A media worker died: the calls whose audio it carried cannot go on; end them with the reason.
    media.on('lost', (ids, reason) => {
      const lost = new Set(ids);
      for (const call of [...this.calls.values()]) {
        if (call.parties.some((p) => p.endpointId && lost.has(p.endpointId))) {
          call.log.warn('b2bua', `its media is gone (${reason}); ending it`);
          call.hangup({ by: 'gateway', status: 500, reason: 'Media Engine Failure' });
        }
      }
    });
    // No media from a party that should be sending (a crashed phone, a caller gone without BYE):
    // the call ends with BYE both ways and "Media Timeout" in its record.
    media.on('timeout', (endpointId, silentMs) => {
      for (const call of this.calls.values()) {
        const leg = call.partyByEndpoint(endpointId);
        if (!leg) continue;
        call.log.warn('b2bua', `no media from ${leg.party} for ${Math.round(silentMs / 1000)} s; it is gone`);
        this.conference.gone(call, leg, { status: 408, reason: 'Media Timeout' });
        return;
      }
    });
    media.on('dtmf', (endpointId, digit) => {
      for (const call of this.calls.values()) {
        const from = call.partyByEndpoint(endpointId);
        if (!from) continue;
        // A supervisor's keys switch its mode; they are nobody else's business.
        if (from.role === 'supervisor') return this.supervision.digit(call, from, digit);
        for (const to of this.hearers(call, from)) this.deliverDigit(call, to, digit);
        return;
      }
    });
  }

  /** Handles out-of-dialog MESSAGE commands (set by the contact-center layer above). */
  commands?: (req: SipRequest, identity: MessageIdentity, reply: MessageReply) => void;

  onMessage(req: SipRequest, identity: MessageIdentity, reply: MessageReply): void {
    if (!this.commands) return reply(405, 'No Command Handler');
    this.commands(req, identity, reply);
  }

  /** Calls in progress. */
  get active(): Call[] {
    return [...this.calls.values()];
  }

  /** The call in progress with this id. */
  call(id: string): Call | undefined {
    return this.calls.get(id);
  }

  /**
   * Gives a live call its new attribute set (merged and checked by the caller) and tells its
   * browser legs (a `data` control message). `changed` names the keys for the timeline.
   */
  attachData(call: Call, attributes: Record<string, string>, changed: string[]): CallData {
    call.attributes = attributes;
    call.note('data', changed.join(','));
    const data = call.data();
    for (const leg of call.parties) if (leg.joined && leg.dialog) this.tell(call, leg, { type: 'data', data });
    return data;
  }

  onInvite(invite: IncomingInvite): void {
    this.handle(invite).catch((err: Error) => {
      log.error('b2bua', `call ${invite.request.callId} failed`, err);
      invite.reject(500, 'Internal Error');
    });
  }

  /**
   * A step of a call's setup failed (no media port, an engine error, a dead worker): the caller
   * gets 503 (a port shortage, with Retry-After so a carrier tries elsewhere) or 500, and the call
   * ends — which releases every endpoint and dialog it took (see {@link Call.hangup}).
   */
  private setupFailed(call: Call, invite: IncomingInvite, err: unknown): void {
    if (err instanceof CallEndedError || call.state === CallState.Ended) return;
    const message = (err as Error)?.message ?? String(err);
    // A port shortage in the worker, the OS, or rtpengine ("Ran out of ports").
    const noPort = /no free RTP port|EMFILE|ENFILE|Ran out of ports/.test(message);
    // The rtpengine engine with every rtpengine down or not answering: try again later.
    const noEngine = /no rtpengine available|rtpengine \S+ did not answer/.test(message);
    const status = noPort || noEngine ? 503 : 500;
    const reason = noPort ? 'No Media Port Available' : noEngine ? 'Media Engine Unavailable' : 'Media Setup Failed';
    if (noPort || noEngine) {
      // Under overload (or with the engine down) this happens hundreds of times a second: one
      // line a second, with a count.
      const now = Date.now();
      if (now - this.noPortLogged.at >= 1000) {
        call.log.warn('b2bua', `${message}${this.noPortLogged.suppressed ? ` (and ${this.noPortLogged.suppressed} more calls since the last report)` : ''}`);
        this.noPortLogged = { at: now, suppressed: 0 };
      } else this.noPortLogged.suppressed++;
    } else call.log.error('b2bua', `setup failed`, err);
    invite.reject(status, reason, status === 503 ? [['retry-after', '5']] : []);
    call.hangup({ by: 'gateway', status, reason });
  }

  private async handle(invite: IncomingInvite): Promise<void> {
    const inviteAt = performance.now();
    let offer: AudioDescription;
    try {
      offer = parseAudio(invite.offer);
    } catch (err) {
      if (err instanceof SdpError) return invite.reject(488, err.message);
      throw err;
    }
    const codecs = commonCodecs(offer);
    if (!codecs.length) return invite.reject(488, 'No Common Codec (PCMU or PCMA required)');

    // A supervisor joining an agent's call (header from the SDK, or a feature code dialled).
    const supervise = this.supervision.request(invite);
    if (supervise) return this.supervision.start(invite, supervise, offer, codecs);

    // A feature code from one of the gateway's own devices (an agent's state from a desk phone).
    if (!invite.identity.startsWith('trunk:') && this.featureCode) {
      const dialled = invite.request.requestUri.user ?? invite.request.to.uri.user ?? '';
      const done = this.featureCode(invite.identity, dialled);
      if (done) return this.answerFeatureCode(invite, offer, codecs[0]!, dialled, done);
    }

    // Who is calling, and what did they dial? A trunk call is routed by its DID.
    const fromTrunk = invite.identity.startsWith('trunk:') ? this.trunks?.byName(invite.identity.slice(6)) : undefined;
    let dialled = invite.request.requestUri.user ?? invite.request.to.uri.user ?? '';
    let callerParty = invite.identity;
    let did: string | undefined;
    if (fromTrunk) {
      callerParty = invite.request.from.uri.user ?? 'anonymous';
      // A PBX sends to our registered Contact (user = trunk user): the DID is then in To.
      const candidates = [invite.request.requestUri.user, invite.request.to.uri.user].filter((x): x is string => !!x);
      const match = candidates.map((did) => ({ did, target: fromTrunk.didTarget(did) })).find((m) => m.target !== undefined);
      if (!match) {
        log.warn('b2bua', `trunk ${fromTrunk.name}: call from ${callerParty} to unknown DID ${candidates.join(' / ')}`);
        return invite.reject(404, 'Unknown DID');
      }
      fromTrunk.callsIn++;
      did = match.did;
      dialled = match.target!;
      log.info('b2bua', `trunk ${fromTrunk.name}: DID ${match.did} → ${dialled}`);
    }
    const route = this.router.resolve(dialled);
    if (route.kind === 'unknown' || (route.kind === 'external' && fromTrunk)) {
      log.info('b2bua', `${invite.identity} dialled unknown target "${dialled}"`);
      return invite.reject(404, 'No Such User Or Extension');
    }
    const call = new Call(randomToken(8), callerParty, partyOf(route, dialled), this.media);
    call.timings.inviteAt = inviteAt;
    call.caller.user = !fromTrunk;
    call.callee.user = route.kind === 'user';
    if (fromTrunk) call.trunk = fromTrunk.name;
    this.dataFromInvite(call, invite, did ?? dialled);
    this.track(call);
    // A trunk's channels are finite: an inbound call beyond them is refused, so the carrier
    // routes it elsewhere.
    if (fromTrunk && !call.seat(fromTrunk)) {
      call.hangup({ by: 'gateway', status: 503, reason: 'Trunk At Capacity' });
      return invite.reject(503, 'Trunk At Capacity');
    }
    // Calling rights (toll fraud): numbers out through a trunk are checked against the caller's
    // rights; a refusal is answered 403 and leaves a record.
    if (route.kind === 'external' && this.opts.policy) {
      const refusal = this.opts.policy.check(callerParty, route.number, call.id);
      if (refusal) {
        call.hangup({ by: 'gateway', status: refusal.status, reason: refusal.reason });
        return invite.reject(refusal.status, refusal.reason);
      }
      const policy = this.opts.policy;
      call.on('stateChanged', (s) => s === CallState.Ended && policy.ended(callerParty, call.id));
    }
    // The caller's desktop learns the call's id and data from the first response (not a trunk's caller).
    if (!fromTrunk) invite.responseHeaders.push(['x-switchboard-call-id', call.id], [CALL_DATA_HEADER.toLowerCase(), encodeCallData(call.data())]);
    invite.progress(100);
    invite.on('cancelled', () => call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' }));
    try {
      await this.setup(call, invite, offer, codecs, route);
    } catch (err) {
      this.setupFailed(call, invite, err);
    }
  }

  /** Lists a new call among the active ones until it ends, and announces it (records, desktops). */
  private track(call: Call): Call {
    this.calls.set(call.id, call);
    call.on('stateChanged', (s) => {
      if (s === CallState.Ended) {
        this.calls.delete(call.id);
        this.emit('callEnded', call);
      }
    });
    this.desk.watch(call);
    this.emit('callCreated', call);
    return call;
  }

  /**
   * The call's data from its INVITE: what was dialled, the caller's display name, and the
   * headers `callDataHeaders` names (cut to the protocol's limits; control characters dropped).
   */
  private dataFromInvite(call: Call, invite: IncomingInvite, dialed: string): void {
    call.dialed = dialed;
    const name = invite.request.from.displayName;
    if (name) call.callerName = name;
    for (const [header, key] of Object.entries(this.opts.callDataHeaders ?? {})) {
      if (Object.keys(call.attributes).length >= CALL_DATA_LIMITS.maxAttributes) break;
      const value = invite.request.get(header.toLowerCase());
      if (value) call.attributes[key] = value.replace(/[\x00-\x1f\x7f]/g, '').slice(0, CALL_DATA_LIMITS.maxValueLength);
    }
  }

  /** Sets a routed call up: echo, queue, or a callee rung attempt by attempt (trunk failover). */
  private async setup(call: Call, invite: IncomingInvite, offer: AudioDescription, codecs: CodecName[], route: Route): Promise<void> {
    if (route.kind === 'echo') return this.answerEcho(call, invite, offer, codecs[0]!);
    if (route.kind === 'queue') return this.queueing.answer(call, invite, offer.webrtc, codecs[0]!, route.queue);

    const displayName = invite.request.from.displayName;
    const planned = this.attemptsFor(route, { user: call.caller.party, ...(displayName ? { displayName } : {}) }, codecs);
    if ('status' in planned) {
      call.hangup({ by: 'gateway', status: planned.status, reason: planned.reason });
      return invite.reject(planned.status, planned.reason);
    }
    const attempts = planned;

    call.caller.endpointId = await call.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');

    const tryAttempt = async (i: number): Promise<void> => {
      const a = attempts[i]!;
      const t0 = performance.now();
      const previous = i > 0 ? attempts[i - 1]!.trunk : undefined;
      if (previous) call.unseat(previous.name);
      if (a.trunk && !call.seat(a.trunk)) {
        // Its channels filled up since the attempts were planned: the next trunk, or 503.
        if (i + 1 < attempts.length) return tryAttempt(i + 1);
        invite.reject(503, 'All Trunks Busy', [['retry-after', '10']]);
        return call.hangup({ by: 'gateway', status: 503, reason: 'All Trunks Busy' });
      }
      if (call.callee.endpointId) await call.closeEndpoint(call.callee.endpointId);
      delete call.callee.endpointId;
      const out = new Fork({ core: this.core, media: this.media }, call, a, legHeaders(call, a));
      // The caller's telephone-event type for the callee too: one number on both legs. The
      // caller is answered only when the callee answers: the media engine may let them negotiate
      // with each other (rtpengine's direct mode).
      await out.prepare(codecs, { telephoneEvent: offer.telephoneEvent, peer: { endpoint: call.caller.endpointId!, offer: invite.offer } });
      call.timings.calleeOfferMs = performance.now() - t0;
      if (call.state === CallState.Ended) return out.cancel();
      // One branch (a trunk, a user on one device): its endpoint is the callee's from now on, so
      // early media can be bridged. Several ring in parallel: the one that answers becomes it.
      const single = out.single;
      if (single) call.callee.endpointId = single.endpointId;
      let answeredAtAll = false;
      const fail = (status: number, reason: string) => {
        invite.reject(status, reason);
        call.hangup({ by: 'callee', status, reason });
      };
      const next = () => tryAttempt(i + 1).catch((err: unknown) => this.setupFailed(call, invite, err));
      // A trunk that does not answer at all within the setup timeout is skipped (UDP to a dead
      // PBX would otherwise hold the caller for Timer B, 32 s).
      const setupTimer = a.trunk && i + 1 < attempts.length
        ? setTimeout(() => {
          if (!answeredAtAll) {
            call.log.warn('b2bua', `${a.label} did not answer the INVITE in ${SETUP_TIMEOUT_MS} ms; failing over`);
            a.trunk!.reportFailure();
            out.removeAllListeners();
            out.cancel();
            void next();
          }
        }, SETUP_TIMEOUT_MS)
        : undefined;
      out.on('progress', (res) => {
        answeredAtAll = true;
        clearTimeout(setupTimer);
        if (res.status === 183 && res.body.length && !call.earlyMedia && single) {
          // Early media (ringback or an announcement from the PBX): bridge now and pass it on.
          call.setState(CallState.Ringing);
          call.earlyMedia = this.startEarlyMedia(call, invite, res.body.toString('utf8'));
          call.earlyMedia.catch((err: Error) => call.log.warn('b2bua', `early media refused: ${err.message}`));
        } else if (res.status === 180 || res.status === 183) {
          call.setState(CallState.Ringing);
          if (!call.earlyMedia) invite.progress(180);
        }
      });
      out.on('failed', (status, reason) => {
        answeredAtAll = true;
        clearTimeout(setupTimer);
        if (call.state === CallState.Ended) return;
        // Failover on what says "this trunk cannot take calls now" (408, 503, transport errors).
        if (a.trunk && !call.earlyMedia && (status === 408 || status === 503 || status === 500) && i + 1 < attempts.length) {
          call.log.warn('b2bua', `${a.label} failed ${status} ${reason}; trying ${attempts[i + 1]!.label}`);
          a.trunk.reportFailure();
          void next();
          return;
        }
        // Authentication challenges from the callee are the gateway's problem, not the caller's.
        const forward = status === 401 || status === 407 ? 502 : status;
        fail(forward, reason);
      });
      out.on('accepted', (res, calleeDialog, from) => {
        answeredAtAll = true;
        clearTimeout(setupTimer);
        call.callee.endpointId = from.endpointId;
        try {
          call.ownDialog(calleeDialog); // ended meanwhile: BYE'd here
        } catch {
          return;
        }
        if (a.trunk) {
          a.trunk.callsOut++;
          call.trunk = a.trunk.name;
        }
        call.callee.dialog = calleeDialog;
        this.connect(call, invite, offer, res.body.toString('utf8'), calleeDialog).catch((err: unknown) => this.setupFailed(call, invite, err));
      });
      out.start();
    };
    await tryAttempt(0);
  }

  /**
   * The ways to reach a routed target, in order: a user on every registration at once (parallel
   * ringing, freshest first), or every live trunk one after another (failover).
   */
  private attemptsFor(route: Route, from: { user: string; displayName?: string }, codecs: CodecName[]): Attempt[] | { status: number; reason: string } {
    if (route.kind === 'external') {
      const trunks = this.trunks?.candidates() ?? [];
      if (!trunks.length) return { status: 503, reason: this.trunks?.trunks.some((t) => t.health === 'up') ? 'All Trunks Busy' : 'No Trunk Available' };
      return trunks.map((t) => {
        const number = t.normalize(route.number);
        const label = `trunk ${t.name}`;
        return {
          label,
          trunk: t,
          branches: [{
            label,
            webrtc: false,
            codecs: codecs.filter((c) => (t.config.codecs ?? codecs).includes(c)),
            options: {
              target: t.target,
              requestUri: t.requestUri(number),
              from: { user: t.config.callerId ?? t.config.username, ...(from.displayName ? { displayName: from.displayName } : {}) },
              to: { user: number },
              domain: t.domain,
              ...(t.credentials ? { credentials: t.credentials } : {}),
            },
          }],
        };
      });
    }
    if (route.kind !== 'user') return { status: 404, reason: 'No Such User Or Extension' };
    if (!route.bindings.length) return { status: 480, reason: 'User Not Registered' };
    // Device mode: the user's SIP devices ring (each as its profile says), not their desktop.
    const desk = this.desk.active(route.username);
    const bindings = desk ? route.bindings.filter((b) => !b.webrtc) : route.bindings;
    if (!bindings.length) return { status: 480, reason: 'Desk Phone Not Registered' };
    return [{
      label: route.username,
      user: route.username,
      branches: bindings.map((binding) => {
        const contactUri = binding.contact.uri;
        const profile = desk ? this.desk.profile(binding) : undefined;
        return {
          ...(profile ? { autoAnswer: profile.autoAnswer, answerHeaders: profile.headers } : {}),
          label: `${route.username} at ${binding.target.transport} ${binding.target.host}:${binding.target.port}`,
          webrtc: binding.webrtc,
          codecs,
          options: {
            owner: route.username,
            target: binding.target,
            requestUri: `sip:${contactUri.user ?? route.username}@${contactUri.host}${contactUri.port ? ':' + contactUri.port : ''}${contactUri.params.transport ? ';transport=' + contactUri.params.transport : ''}`,
            from,
            to: { user: route.username },
          },
        };
      }),
    }];
  }

  /** A 183 with SDP: negotiate both legs, bridge, and send the caller a 183 with our answer. */
  private async startEarlyMedia(call: Call, invite: IncomingInvite, calleeSdp: string): Promise<string> {
    const codec = await this.media.acceptAnswer(call.callee.endpointId!, calleeSdp);
    call.codec = codec;
    const callerAnswer = await this.media.answer(call.caller.endpointId!, invite.offer, codec);
    call.joined(call.caller);
    call.joined(call.callee);
    await call.applyMedia();
    invite.progress(183, callerAnswer);
    call.log.info('b2bua', `early media from the callee passed to the caller`);
    return callerAnswer;
  }

  /** Callee answered: finish negotiation with both legs, answer the caller, bridge media. */
  private async connect(call: Call, invite: IncomingInvite, _offer: AudioDescription, calleeAnswer: string, calleeDialog: Dialog): Promise<void> {
    this.watch(call, calleeDialog, call.callee);
    const t0 = performance.now();
    const early = call.earlyMedia ? await call.earlyMedia.catch(() => undefined) : undefined;
    let callerAnswer: string;
    if (early) {
      // Already bridged during early media; the final answer may move the far end's address.
      await this.media.acceptAnswer(call.callee.endpointId!, calleeAnswer);
      callerAnswer = early;
    } else {
      const codec = await this.media.acceptAnswer(call.callee.endpointId!, calleeAnswer);
      call.codec = codec;
      callerAnswer = await this.media.answer(call.caller.endpointId!, invite.offer, codec);
    }
    call.timings.callerAnswerMs = performance.now() - t0;
    if (call.state === CallState.Ended || invite.answered) {
      call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
      return;
    }
    const tb = performance.now();
    if (!early) {
      call.joined(call.caller);
      call.joined(call.callee);
      await call.applyMedia();
    }
    call.timings.bridgeMs = performance.now() - tb;
    call.caller.dialog = invite.accept(callerAnswer);
    this.watch(call, call.caller.dialog, call.caller);
    call.setState(CallState.Connected);
    const total = call.timings.inviteAt === undefined ? '' : `; INVITE to 200 OK ${(performance.now() - call.timings.inviteAt).toFixed(1)} ms`;
    call.log.info('b2bua', `media: callee offer ${call.timings.calleeOfferMs?.toFixed(1)} ms, caller answer after callee 200 ${call.timings.callerAnswerMs?.toFixed(1)} ms, bridge ${call.timings.bridgeMs.toFixed(1)} ms${total}`);
  }

  /**
   * A feature code's call: answered, the confirmation tone (or the reorder tone when refused)
   * played for {@link FEATURE_TONE_MS}, then BYE. It leaves a record like any call.
   */
  private async answerFeatureCode(invite: IncomingInvite, offer: AudioDescription, codec: CodecName, dialled: string, done: FeatureCodeResult): Promise<void> {
    const call = this.track(new Call(randomToken(8), invite.identity, dialled, this.media));
    call.caller.user = true;
    call.dialed = dialled;
    call.log.info('b2bua', `feature code ${dialled} from ${invite.identity}: ${done.ok ? 'done' : 'refused'} — ${done.text}`);
    invite.on('cancelled', () => call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' }));
    try {
      call.caller.endpointId = await call.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');
      const answer = await this.media.answer(call.caller.endpointId, invite.offer, codec);
      call.caller.music = done.ok ? 'tone:confirm' : 'tone:reorder';
      call.joined(call.caller);
      await call.applyMedia();
      if (invite.answered) return call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
      call.caller.dialog = invite.accept(answer);
      this.watch(call, call.caller.dialog, call.caller);
      call.setState(CallState.Connected);
      const timer = setTimeout(() => call.hangup({ by: 'gateway', status: 200, reason: done.ok ? 'Feature Code Done' : 'Feature Code Refused' }), FEATURE_TONE_MS);
      call.on('stateChanged', (st) => st === CallState.Ended && clearTimeout(timer));
    } catch (err) {
      this.setupFailed(call, invite, err);
    }
  }

  private async answerEcho(call: Call, invite: IncomingInvite, offer: AudioDescription, codec: CodecName): Promise<void> {
    call.caller.endpointId = await call.createEndpoint(offer.webrtc ? 'webrtc' : 'rtp');
    const answer = await this.media.answer(call.caller.endpointId, invite.offer, codec);
    call.echo = true;
    call.joined(call.caller);
    await call.applyMedia();
    if (invite.answered) return call.hangup({ by: 'caller', status: 487, reason: 'Caller Cancelled' });
    call.caller.dialog = invite.accept(answer);
    this.watch(call, call.caller.dialog, call.caller);
    call.setState(CallState.Connected);
  }

  /**
   * Follows one party's dialog: its end takes the party out of the call (which ends the call when
   * fewer than two talking parties remain — see Conference.gone), and its mid-call requests are
   * answered for that party.
   */
  private watch(call: Call, dialog: Dialog, leg: Leg): void {
    // RFC 4028: no refresh came in time (or ours failed) — the party is gone.
    dialog.on('sessionExpired', () => {
      if (leg.dialog === dialog) this.conference.gone(call, leg, { status: 408, reason: 'Session Timer Expired' });
    });
    // The answer to a re-INVITE refresh we sent (plain RTP peers; a moved address is followed).
    dialog.onRefreshAnswer = (sdp) => {
      const ep = leg.endpointId;
      if (ep && !isBrowserLeg(leg)) this.media.acceptAnswer(ep, sdp).catch((err: Error) => call.log.warn('b2bua', `refresh answer refused: ${err.message}`));
    };
    dialog.on('terminated', (why) => {
      // A leg replaced by a transfer, or released on purpose, ends without ending anything.
      if (why === 'bye-sent' || leg.dialog !== dialog) return;
      this.conference.gone(call, leg, { status: 200, reason: why, byGateway: why !== 'bye-received' });
    });
    dialog.on('request', (req, tx) => {
      if (req.method === 'INVITE') {
        this.reinvite(call, dialog, leg, req, tx as InviteServerTransaction).catch((err: Error) => {
          call.log.error('b2bua', `re-INVITE failed`, err);
          this.core.respond(tx, 500, 'Internal Error', [], dialog.init.localTag);
        });
      } else if (req.method === 'INFO' && (req.get('content-type') ?? '').toLowerCase().startsWith(CONTROL_TYPE)) {
        this.control(call, dialog, leg, req, tx);
      } else if (req.method === 'INFO' && /^application\/(dtmf-relay|dtmf)\b/i.test(req.get('content-type') ?? '')) {
        // SIP INFO DTMF from a device (application/dtmf-relay "Signal=5", or application/dtmf "5").
        const body = req.body.toString('utf8');
        const m = /signal\s*=\s*([0-9*#A-Da-d])/i.exec(body) ?? /^\s*([0-9*#A-Da-d])\s*$/.exec(body);
        if (!m) return this.core.respond(tx, 400, 'Bad DTMF Body', [], dialog.init.localTag);
        this.core.respond(tx, 200, undefined, [], dialog.init.localTag);
        const digit = m[1]!.toUpperCase();
        if (leg.role === 'supervisor') return this.supervision.digit(call, leg, digit);
        for (const to of this.hearers(call, leg)) this.deliverInfoDigit(call, to, digit);
      } else if (req.method === 'REFER') {
        this.transfers.refer(call, dialog, leg, req, tx);
      } else if (req.method === 'UPDATE') {
        this.update(call, dialog, leg, req, tx).catch((err: Error) => {
          call.log.error('b2bua', `UPDATE failed`, err);
          this.core.respond(tx, 500, 'Internal Error', [], dialog.init.localTag);
        });
      } else {
        this.core.respond(tx, 200, undefined, [], dialog.init.localTag);
      }
    });
  }

  /** The parties that hear `from` now (its digits go to them). */
  private hearers(call: Call, from: Leg): Leg[] {
    // Two parties: the other one, whatever the hold state (as a phone line would).
    if (!call.conferenced && (from.role === 'caller' || from.role === 'callee')) return [call.principal(otherSide(from.role))];
    const members = call.members();
    return call.parties.filter((p) => p !== from && p.endpointId && members.some((m) => m.endpoint === p.endpointId && m.hears.includes(from.endpointId!)));
  }

  /**
   * Tells a party a control message: a browser leg by INFO, a device driven from a desktop
   * (device mode) through the desktop; other parties (phones, trunks) have no use for it.
   */
  private tell(call: Call, leg: Leg, message: ControlMessage): void {
    if (this.desk.drives(leg)) this.desk.tell(call, leg, message as unknown as Record<string, unknown>);
    else if (leg.dialog && isBrowserLeg(leg)) void this.sendControl(leg.dialog, message);
  }

  /** Sends a control message (docs/protocol.md) to a browser leg. */
  private sendControl(dialog: Dialog, message: ControlMessage): Promise<unknown> {
    // In order per dialog (a roster after a hold notice arrives after it).
    const prev = this.infoChains.get(dialog) ?? Promise.resolve();
    const next = prev.then(() => dialog.request('INFO', { body: Buffer.from(JSON.stringify(message)), contentType: CONTROL_TYPE })).catch(() => undefined);
    this.infoChains.set(dialog, next.then(() => undefined));
    return next;
  }

  /**
   * A control request from a browser leg (docs/protocol.md §4: hold, resume, transfer, mute, and
   * the conference and supervision requests), answered after it took effect.
   */
  private control(call: Call, dialog: Dialog, leg: Leg, req: SipRequest, tx: ServerTransaction): void {
    const tag = dialog.init.localTag;
    let msg: unknown;
    try {
      msg = JSON.parse(req.body.toString('utf8'));
    } catch {
      return this.core.respond(tx, 400, 'Bad Control Message', [], tag);
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return this.core.respond(tx, 400, 'Bad Control Message', [], tag);
    // A completed transfer is answered before the agent's legs get their BYE.
    let answered = false;
    const answer = () => {
      if (!answered) this.core.respond(tx, 200, undefined, [], tag);
      answered = true;
    };
    this.operate(call, leg, msg as Record<string, unknown>, answer).then(answer, (err: Error) => {
      if (!answered) this.core.respond(tx, err instanceof CallOperationError ? err.status : 500, err.message, [], tag);
      answered = true;
    });
  }

  /**
   * Runs an in-call control request of `leg` (docs/protocol.md §4) — from its browser's INFO, or
   * from its user's desktop in device mode; settles when it took effect, or rejects with a
   * {@link CallOperationError} whose status and reason become the answer. `beforeRelease` runs
   * before a completed transfer releases the agent's legs.
   */
  operate(call: Call, leg: Leg, msg: Record<string, unknown>, beforeRelease: () => void = () => undefined): Promise<void> {
    const refuse = (status: number, reason: string) => Promise.reject(new CallOperationError(status, reason));
    const text = (k: string) => (typeof msg[k] === 'string' ? (msg[k] as string).trim() : '');
    switch (msg.type) {
      case 'transfer': {
        const target = text('target');
        if (!target) return refuse(400, 'Transfer Needs A Target');
        return this.transfers.blind(call, leg, target);
      }
      case 'complete-transfer': {
        const other = text('with');
        if (!other) return refuse(400, 'Complete-Transfer Needs The Consult Call');
        return this.transfers.complete(call, leg, other, beforeRelease);
      }
      case 'ping':
        // A browser back on a new connection checks its call is still here (SipCore already moved
        // the dialog to the connection this came on).
        return Promise.resolve();
      case 'mute': {
        const muted = msg.muted;
        if (typeof muted !== 'boolean') return refuse(400, 'Mute Needs A Boolean');
        leg.muted = muted;
        call.log.info('b2bua', `${leg.party} ${muted ? 'muted' : 'unmuted'}`);
        this.conference.rosterChanged(call);
        return Promise.resolve();
      }
      case 'hold':
      case 'resume':
        return this.setHold(call, leg, msg.type === 'hold');
      case 'add': {
        const target = text('target');
        if (!target) return refuse(400, 'Add Needs A Target');
        return this.conference.add(call, leg, target);
      }
      case 'merge': {
        const other = text('with');
        if (!other) return refuse(400, 'Merge Needs The Consult Call');
        return this.conference.merge(call, leg, other);
      }
      case 'remove':
        return this.conference.remove(call, leg, text('party'));
      case 'mute-party': {
        if (typeof msg.muted !== 'boolean') return refuse(400, 'Mute Needs A Boolean');
        return this.conference.muteParty(call, leg, text('party'), msg.muted);
      }
      case 'supervise-mode':
        return this.supervision.setMode(call, leg, text('mode'));
      default:
        return refuse(488, 'Unknown Control Request');
    }
  }

  /**
   * Hold is one truth per party, here: a party that holds hears nothing and is heard by nobody;
   * whoever is left alone hears music on hold (hearing.ts). In a two-party call that is the
   * classic hold — the other party hears music — and a party held by the other cannot hold back
   * (491). The held party's SDK (if a browser) is told by INFO; a SIP device just hears the
   * music. Operations on one call are serialized.
   */
  setHold(call: Call, leg: Leg, on: boolean): Promise<void> {
    if (call.transferring) return Promise.reject(new CallOperationError(491, 'Transfer In Progress'));
    return call.serialize(async () => {
      if (call.state !== CallState.Connected || !leg.joined || !call.parties.includes(leg)) throw new CallOperationError(491, 'Call Not Connected');
      if (call.transferring) throw new CallOperationError(491, 'Transfer In Progress');
      if (leg.holding === on) return;
      const others = call.talkers.filter((p) => p !== leg);
      if (on && others.length === 1 && others[0]!.holding) throw new CallOperationError(491, 'Held By The Other Party');
      leg.holding = on;
      await call.applyMedia();
      // The holder's phone may go quiet while it holds (many send no RTP on hold): not a timeout.
      if (leg.endpointId) await this.media.expectMedia(leg.endpointId, !on);
      call.note(on ? 'hold' : 'resume', leg.party);
      call.log.info('b2bua', `${leg.party} ${on ? 'holds' : 'resumes'}`);
      // The party held in a two-party call is told (its softphone shows "on hold by the other party").
      if (others.length === 1 && others[0]!.dialog) this.tell(call, others[0]!, { type: 'hold', onHold: on });
      this.conference.rosterChanged(call);
    });
  }

  /**
   * A digit from one party (detected RFC 4733), for the party `to`. A browser gets it as SIP
   * INFO `application/dtmf-relay` — the de facto standard every SIP-over-WebSocket client reads
   * (JsSIP raises `newDTMF`, our SDK `dtmf`): browsers cannot surface received RFC 4733 events to
   * the page. A device that negotiated no telephone-event gets the same INFO; to RTP parties
   * that did, the media engine already forwarded the event packets. INFOs are chained per dialog
   * so digits arrive in the order pressed.
   */
  private deliverDigit(call: Call, to: Leg, digit: string): void {
    if (!to.endpointId || !to.dialog) return;
    const dialog = to.dialog;
    const endpointId = to.endpointId;
    const browser = isBrowserLeg(to);
    const prev = this.infoChains.get(dialog) ?? Promise.resolve();
    const next = prev.then(async () => {
      if (!browser && (await this.media.hasTelephoneEvent(endpointId))) return;
      await dialog.request('INFO', { body: Buffer.from(`Signal=${digit}\r\nDuration=160\r\n`), contentType: 'application/dtmf-relay' });
    }).catch(() => undefined);
    this.infoChains.set(dialog, next);
  }

  /** A SIP INFO digit for the party `to`: a browser gets an event, a plain RTP leg RFC 4733. */
  private deliverInfoDigit(call: Call, to: Leg, digit: string): void {
    if (to.endpointId && !isBrowserLeg(to)) {
      this.media.sendDigit(to.endpointId, digit).then(
        (ok) => ok || call.log.info('b2bua', `${to.party} negotiated no telephone-event; digit ${digit} dropped`),
        (err: Error) => call.log.warn('b2bua', `digit ${digit} not sent: ${err.message}`),
      );
      return;
    }
    this.deliverDigit(call, to, digit);
  }

  /**
   * A re-INVITE on one leg (RFC 3261 §14.2, RFC 3264 §8): a session refresh, a new address, an
   * ICE restart, a codec re-offer or a direction change (hold). The leg's endpoint answers it on
   * its own — the other leg is not renegotiated, because the bridge relays whatever arrives;
   * hold is mapped onto the gateway's own hold (the other party hears music). A re-INVITE
   * without an offer gets our offer in the 200 OK and its answer in the ACK (§14.2).
   */
  private async reinvite(call: Call, dialog: Dialog, leg: Leg, req: SipRequest, tx: InviteServerTransaction): Promise<void> {
    const tag = dialog.init.localTag;
    // §14.2: a second re-INVITE while one is in progress gets 500 with Retry-After 0-10 s.
    if (dialog.inviteInProgress || this.negotiating.has(dialog)) return this.core.respond(tx, 500, 'Re-INVITE In Progress', [['retry-after', String(Math.floor(Math.random() * 11))]], tag);
    const endpointId = leg.endpointId;
    if (!endpointId || call.state === CallState.Ended) return this.core.respond(tx, 491, undefined, [], tag);
    this.negotiating.add(dialog);
    try {
      if (!req.body.length) {
        const offer = await this.media.reoffer(endpointId);
        dialog.localSdp = offer;
        dialog.acceptInvite(tx, offer, [['server', this.core.opts.userAgent], ...dialog.sessionRefreshHeaders(req)], (ack) => {
          if (!ack.body.length) return;
          const answer = ack.body.toString('utf8');
          this.media.acceptAnswer(endpointId, answer).then(
            () => void this.applyDirection(call, leg, answer),
            (err: Error) => call.log.warn('b2bua', `the answer in the ACK from ${leg.party} was refused: ${err.message}`),
          );
        });
        call.log.info('b2bua', `offerless re-INVITE from ${leg.party} answered with an offer`);
        return;
      }
      const offer = req.body.toString('utf8');
      let answer: string;
      try {
        answer = await this.media.reanswer(endpointId, offer);
      } catch (err) {
        call.log.info('b2bua', `re-INVITE from ${leg.party} refused: ${(err as Error).message}`);
        return this.core.respond(tx, 488, 'Not Acceptable Here', [], tag);
      }
      // Hold/resume takes effect before the answer goes out: what the client sees after its
      // 200 OK is the state it asked for.
      await this.applyDirection(call, leg, offer);
      dialog.localSdp = answer;
      dialog.acceptInvite(tx, answer, [['server', this.core.opts.userAgent], ...dialog.sessionRefreshHeaders(req)]);
      call.log.info('b2bua', `re-INVITE from ${leg.party} answered`);
    } finally {
      this.negotiating.delete(dialog);
    }
  }

  /**
   * UPDATE (RFC 3311) on one leg: with an offer it is renegotiated like a re-INVITE and answered
   * in the 200 (JsSIP's `hold({ useUpdate: true })`); without one it is a session refresh
   * (RFC 4028). An offer while another negotiation of the leg is in progress gets 491 (§5.2).
   */
  private async update(call: Call, dialog: Dialog, leg: Leg, req: SipRequest, tx: ServerTransaction): Promise<void> {
    const tag = dialog.init.localTag;
    // A session refresh (RFC 4028 §10): no body, just the timer restarted.
    if (!req.body.length) return this.core.respond(tx, 200, undefined, dialog.sessionRefreshHeaders(req), tag);
    if (!(req.get('content-type') ?? '').toLowerCase().startsWith('application/sdp')) return this.core.respond(tx, 415, undefined, [['accept', 'application/sdp']], tag);
    const endpointId = leg.endpointId;
    if (!endpointId || call.state === CallState.Ended) return this.core.respond(tx, 491, undefined, [], tag);
    if (dialog.inviteInProgress || this.negotiating.has(dialog)) return this.core.respond(tx, 491, 'Negotiation In Progress', [], tag);
    this.negotiating.add(dialog);
    try {
      const offer = req.body.toString('utf8');
      let answer: string;
      try {
        answer = await this.media.reanswer(endpointId, offer);
      } catch (err) {
        call.log.info('b2bua', `UPDATE from ${leg.party} refused: ${(err as Error).message}`);
        return this.core.respond(tx, 488, 'Not Acceptable Here', [], tag);
      }
      await this.applyDirection(call, leg, offer);
      dialog.localSdp = answer;
      this.core.respond(tx, 200, undefined, [['contact', dialog.init.localContact], ...dialog.sessionRefreshHeaders(req)], tag, { contentType: 'application/sdp', data: answer });
      call.log.info('b2bua', `UPDATE from ${leg.party} answered`);
    } finally {
      this.negotiating.delete(dialog);
    }
  }

  /**
   * RFC 3264 §8.4 hold from any client: an offer (or answer) of sendonly/inactive from `side`
   * holds the other party — who then hears music on hold — and sendrecv/recvonly resumes.
   */
  private async applyDirection(call: Call, leg: Leg, sdp: string): Promise<void> {
    let direction: string;
    try {
      direction = parseAudio(sdp).direction;
    } catch {
      return;
    }
    const wantsHold = direction === 'sendonly' || direction === 'inactive';
    if (wantsHold !== leg.holding && call.state === CallState.Connected) {
      await this.setHold(call, leg, wantsHold).catch((err: Error) => call.log.info('b2bua', `hold from ${leg.party} not applied: ${err.message}`));
    }
  }

  /**
   * A connection closed. A browser's WebSocket can drop and come back (Wi-Fi trouble, a laptop
   * changing networks, a gateway behind a load balancer): its calls stay up — media keeps flowing
   * over UDP — for the reconnect grace period, and the browser takes them back when it returns
   * (SipCore's flow recovery, {@link onDialogRecovered}). After the grace period the call ends
   * with `480 Connection Lost` in its record and a BYE to the other party. SIP devices on TCP/TLS
   * may reconnect too (RFC 3261 §18.2.2), so only WebSocket flows count.
   */
  flowClosed(flowId: string): void {
    for (const call of [...this.calls.values()]) {
      for (const leg of [...call.parties]) {
        const dialog = leg.dialog;
        const target = dialog?.init.target;
        if (!dialog || !target || target.flowId !== flowId || (target.transport !== 'WS' && target.transport !== 'WSS')) continue;
        if (leg.detached) continue;
        const graceMs = this.opts.reconnectGraceMs;
        const lost = () => {
          leg.detached = undefined;
          if (dialog.init.target.flowId !== flowId || call.state === CallState.Ended || leg.dialog !== dialog) return; // recovered, or over
          call.log.info('b2bua', `${leg.party} did not reconnect within ${graceMs / 1000} s; it is gone`);
          delete leg.dialog; // no BYE into a closed connection; the dialog ends here
          dialog.end('transport-error');
          this.conference.gone(call, leg, { status: 480, reason: 'Connection Lost' });
        };
        if (graceMs <= 0) {
          lost();
          continue;
        }
        call.note('connection-lost', leg.party);
        call.log.info('b2bua', `${leg.party}'s connection closed; keeping the call ${graceMs / 1000} s for a reconnect`);
        leg.detached = this.opts.clock.setTimeout(lost, graceMs);
      }
    }
  }

  /** A browser came back on a new connection (SipCore flow recovery): its leg is attached again. */
  onDialogRecovered(dialog: Dialog): void {
    for (const call of this.calls.values()) {
      const leg = call.parties.find((p) => p.dialog === dialog);
      if (!leg) continue;
      if (leg.detached) {
        this.opts.clock.clearTimeout(leg.detached);
        leg.detached = undefined;
        call.note('reconnected', leg.party);
        call.log.info('b2bua', `${leg.party} reconnected; the call continues on the new connection`);
      }
      return;
    }
  }

  private probeTimer?: NodeJS.Timeout;

  /**
   * Keep-alive of long calls' far ends: an in-dialog OPTIONS to every connected SIP leg (WebSocket
   * legs have their own pings, and a grace period when they drop). 481 (the dialog is gone there)
   * or no answer at all (408, a dead connection) ends the call; any other answer — 200, 405,
   * 501 — proves the peer is alive. Covers peers without session timers or media (inactive).
   */
  private probeLegs(): void {
    for (const call of this.calls.values()) {
      if (call.state !== CallState.Connected) continue;
      for (const leg of call.parties) {
        const dialog = leg.dialog;
        const t = dialog?.init.target;
        if (!dialog || !t || t.transport === 'WS' || t.transport === 'WSS') continue;
        void dialog.request('OPTIONS').then((res) => {
          const gone = res.status === 481 || res.status === 408 || ('local' in res && res.local);
          if (!gone || call.state === CallState.Ended || leg.dialog !== dialog) return;
          call.log.warn('b2bua', `${leg.party} did not answer a keep-alive OPTIONS (${res.status} ${res.reason}); it is gone`);
          this.conference.gone(call, leg, { status: 408, reason: 'Peer Unreachable' });
        });
      }
    }
  }

  /** Ends every call (shutdown). */
  close(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    for (const c of this.calls.values()) c.hangup({ by: 'gateway', status: 503, reason: 'Gateway shutting down' });
  }
}
