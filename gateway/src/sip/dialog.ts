/**
 * Dialogs (RFC 3261 §12): identity, CSeq spaces, route set, and in-dialog requests.
 *
 * Deliberate deviation: in-dialog requests are sent back along the flow the dialog was created on
 * (the connection or source address of the peer), not re-resolved from the remote target URI.
 * Browsers on WebSocket (RFC 7118 §5) and phones behind NAT can only be reached that way; it is
 * what session border controllers do, and it matches RFC 5626's flow reuse.
 */
import { Emitter } from '../util/emitter.js';
import { log } from '../util/log.js';
import { createResponse, SipRequest, type SipResponse } from './message.js';
import type { InviteServerTransaction } from './transaction/server-invite.js';
import type { ServerTransaction, TransactionLayer } from './transaction/layer.js';
import type { Target } from './transport/types.js';
import type { Clock } from '../util/clock.js';
import { allowsUpdate, SessionTimer, uacHeaders, uacOutcome, uasDecision, type RefresherSide, type SessionTimerConfig } from './session-timer.js';

/** Methods accepted inside a dialog: the Allow of our INVITEs and their 2xx answers (RFC 3311 UPDATE too). */
export const DIALOG_METHODS = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE';

/** Dialog state (§12). */
export enum DialogState {
  /** Established and usable. */
  Confirmed = 'Confirmed',
  /** BYE sent or received. */
  Terminated = 'Terminated',
}

/** Events of a dialog. */
export type DialogEvents = {
  /** An in-dialog request other than ACK and BYE (re-INVITE, INFO, …); the listener must respond. */
  request: [req: SipRequest, tx: ServerTransaction];
  /** The dialog ended: the peer sent BYE, we sent one, or the ACK never came. */
  terminated: [why: 'bye-received' | 'bye-sent' | 'ack-timeout' | 'transport-error'];
  /** The session timer ran out (RFC 4028): no refresh came, or ours failed. The owner ends the session. */
  sessionExpired: [why: string];
};

/** Values that identify and address a dialog. */
export interface DialogInit {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From/To header value (with our tag). */
  localUri: string;
  /** Their From/To header value (with their tag). */
  remoteUri: string;
  localSeq: number;
  remoteSeq: number;
  /** Remote target: the Contact URI of the peer (§12.1.1, §12.1.2). */
  remoteTarget: string;
  /** Route set, in the order Route headers must be written. */
  routeSet: string[];
  /** Where in-dialog requests go (moved by {@link Dialog.retarget} when the peer's flow is recovered). */
  target: Target;
  /** Our Contact header value. */
  localContact: string;
  /**
   * The authenticated user on the far end (who sent the INVITE, or whose registration we called):
   * only that user's new connection may take the dialog over (flow recovery, docs/protocol.md).
   */
  owner?: string;
}

/** A SIP dialog. */
export class Dialog extends Emitter<DialogEvents> {
  state = DialogState.Confirmed;
  readonly id: string;
  private localSeq: number;
  private remoteSeq: number;
  /** The INVITE server transaction awaiting our 2xx's ACK (UAS side). */
  pendingAck?: InviteServerTransaction;
  /** The ACK we sent for the 2xx (UAC side), re-sent when the 2xx is retransmitted (§13.2.2.4). */
  ack?: SipRequest;
  /** Told of the ACK for a re-INVITE we answered (it carries the answer to an offer in our 2xx). */
  private onAck?: ((ack: SipRequest) => void) | undefined;
  /** The session timer (RFC 4028), when one was negotiated. */
  sessionTimer?: SessionTimer;
  private timerConfig?: SessionTimerConfig;
  private timerClock?: Clock;
  /** Whether the peer accepts UPDATE (its Allow): the refresh method then, else re-INVITE. */
  peerAllowsUpdate = false;
  /** Our current session description on this dialog (a re-INVITE refresh offers it again). */
  localSdp?: string;
  /** Told of the peer's SDP answer to a re-INVITE refresh we sent. */
  onRefreshAnswer?: (sdp: string) => void;

  constructor(
    readonly init: DialogInit,
    private readonly txl: TransactionLayer,
    private readonly onEnd: (d: Dialog) => void,
  ) {
    super();
    this.id = dialogId(init.callId, init.localTag, init.remoteTag);
    this.localSeq = init.localSeq;
    this.remoteSeq = init.remoteSeq;
  }

  /** Builds an in-dialog request (§12.2.1.1). ACK reuses the INVITE's CSeq number. */
  createRequest(method: string, cseq?: number): SipRequest {
    const i = this.init;
    // §12.2.1.1: with a loose-routing first hop (;lr) the Request-URI is the remote target and
    // the route set is copied as is; with a strict router it becomes the Request-URI, and the
    // remote target goes last in the Route set.
    const firstUri = i.routeSet[0] !== undefined ? routeUri(i.routeSet[0]) : undefined;
    const strict = firstUri !== undefined && !/;\s*lr(?:[;=]|$)/i.test(firstUri);
    const req = new SipRequest(method, strict ? firstUri! : i.remoteTarget);
    const routes = strict ? [...i.routeSet.slice(1), `<${i.remoteTarget}>`] : i.routeSet;
    for (const r of routes) req.add('route', r);
    req.add('max-forwards', 70);
    req.add('from', i.localUri);
    req.add('to', i.remoteUri);
    req.add('call-id', i.callId);
    const seq = cseq ?? ++this.localSeq;
    req.add('cseq', `${seq} ${method}`);
    if (method === 'INVITE' || method === 'UPDATE' || method === 'SUBSCRIBE' || method === 'REFER' || method === 'NOTIFY') {
      req.add('contact', i.localContact);
    }
    return req;
  }

  /** Sends an in-dialog non-INVITE request; resolves with the final response (408/503 on failure). */
  request(method: string, opts: { body?: Buffer; contentType?: string; headers?: Array<[string, string]> } = {}): Promise<SipResponse | { status: number; reason: string; local?: boolean }> {
    const req = this.createRequest(method);
    for (const [k, v] of opts.headers ?? []) req.add(k, v);
    if (opts.body) {
      req.body = opts.body;
      req.add('content-type', opts.contentType ?? 'application/sdp');
    }
    return new Promise((resolve) => {
      this.txl.request(req, this.init.target, {
        onResponse: (res) => {
          if (res.status >= 200) resolve(res);
        },
        onTimeout: () => resolve({ status: 408, reason: 'Request Timeout' }),
        // `local`: we could not send it at all (a closed connection), not the peer's 503.
        onTransportError: (err) => resolve({ status: 503, reason: err.message, local: true }),
      });
    });
  }

  /**
   * Sends in-dialog requests along another flow from now on: the peer came back on a new
   * connection (a browser whose WebSocket dropped and reconnected; RFC 5626 §5.2 flow recovery).
   */
  retarget(target: Target): void {
    log.info('sip.dialog', `${this.init.callId}: now reached over ${target.transport} flow ${target.flowId ?? `${target.host}:${target.port}`} (was ${this.init.target.flowId ?? '?'})`);
    this.init.target = target;
  }

  /**
   * Starts the session timer negotiated for this dialog (RFC 4028): `side` says who refreshes.
   * Learns from `peerMessage` (their INVITE or 2xx) whether the peer allows UPDATE.
   */
  startSessionTimer(clock: Clock, cfg: SessionTimerConfig, interval: number, side: RefresherSide, peerMessage: SipRequest | SipResponse): void {
    this.timerClock = clock;
    this.timerConfig = cfg;
    this.peerAllowsUpdate = allowsUpdate(peerMessage);
    this.sessionTimer?.stop();
    this.sessionTimer = new SessionTimer(clock, interval, side, () => this.refreshSession(), (why) => {
      log.warn('sip.dialog', `${this.init.callId}: session timer expired (${why})`);
      if (this.state !== DialogState.Terminated) this.emit('sessionExpired', why);
    });
  }

  /**
   * Headers for our 2xx to an in-dialog INVITE/UPDATE (RFC 4028 §9): a refresh restarts the timer
   * and may renegotiate the interval and the refresher. Empty when the dialog has no timer and the
   * request asks for none.
   */
  sessionRefreshHeaders(req: SipRequest): Array<[string, string]> {
    if (!this.timerConfig || !this.timerClock) return [];
    const d = uasDecision(req, this.timerConfig);
    if (d.kind !== 'timer') {
      this.sessionTimer?.refreshed();
      return [];
    }
    // In this transaction the peer is the UAC: refresher=uac means the peer refreshes.
    const side: RefresherSide = d.refresher === 'uac' ? 'remote' : 'local';
    if (this.sessionTimer) this.sessionTimer.refreshed(d.interval, side);
    else this.startSessionTimer(this.timerClock, this.timerConfig, d.interval, side, req);
    return d.headers;
  }

  /**
   * Sends a session refresh (RFC 4028 §10): UPDATE without a body when the peer allows it, else a
   * re-INVITE offering our current description again. False when the peer is gone (408, 481, a
   * transport error); other refusals keep the session (a peer that cannot refresh is not dead).
   */
  async refreshSession(): Promise<boolean> {
    if (this.state === DialogState.Terminated || !this.timerConfig) return false;
    const interval = this.sessionTimer?.interval ?? this.timerConfig.expires;
    const headers = uacHeaders(this.timerConfig, interval, 'uac');
    const useInvite = !this.peerAllowsUpdate && this.localSdp !== undefined;
    const res = useInvite ? await this.reinvite(this.localSdp!, headers) : await this.request('UPDATE', { headers });
    if (res.status === 408 || res.status === 481 || ('local' in res && res.local)) return false;
    if (res.status >= 200 && res.status < 300 && 'get' in res) {
      const o = uacOutcome(res);
      if (o) this.sessionTimer?.refreshed(o.interval, o.side);
    }
    return true;
  }

  /** A re-INVITE from us carrying `sdp`; the 2xx is ACKed here and its answer handed to {@link onRefreshAnswer}. */
  private reinvite(sdp: string, headers: Array<[string, string]>): Promise<SipResponse | { status: number; reason: string; local?: boolean }> {
    const req = this.createRequest('INVITE');
    for (const [k, v] of headers) req.add(k, v);
    req.add('allow', DIALOG_METHODS);
    req.add('content-type', 'application/sdp');
    req.body = Buffer.from(sdp, 'utf8');
    return new Promise((resolve) => {
      this.txl.request(req, this.init.target, {
        onResponse: (res) => {
          if (res.status < 200) return;
          if (res.status < 300) {
            const ack = this.createRequest('ACK', req.cseq.seq);
            this.txl.sendStateless(ack, this.init.target);
            if (res.body.length) this.onRefreshAnswer?.(res.body.toString('utf8'));
          }
          resolve(res);
        },
        onTimeout: () => resolve({ status: 408, reason: 'Request Timeout' }),
        onTransportError: (err) => resolve({ status: 503, reason: err.message, local: true }),
      });
    });
  }

  /** Ends the dialog with a BYE (§15.1.1); idempotent. */
  async bye(reasonHeader?: string): Promise<void> {
    if (this.state === DialogState.Terminated) return;
    this.end('bye-sent');
    const res = await this.request('BYE', reasonHeader ? { headers: [['reason', reasonHeader]] } : {});
    if (res.status >= 300) log.info('sip.dialog', `BYE for ${this.init.callId} answered ${res.status} ${res.reason}`);
  }

  /**
   * Answers a re-INVITE with 200 OK and an SDP answer, then waits for its ACK (§14.2,
   * §13.3.1.4: with no ACK after 64·T1 the session is ended with a BYE).
   */
  acceptInvite(tx: InviteServerTransaction, sdp: string, headers: Array<[string, string]> = [], onAck?: (ack: SipRequest) => void): void {
    const res = createResponse(tx.request, 200);
    res.add('contact', this.init.localContact);
    for (const [k, v] of headers) res.add(k, v);
    res.add('content-type', 'application/sdp');
    res.body = Buffer.from(sdp, 'utf8');
    this.pendingAck = tx;
    this.onAck = onAck;
    tx.user = {
      onAckTimeout: () => {
        log.warn('sip.dialog', `no ACK for the re-INVITE 200 OK on ${this.init.callId}; ending the session`);
        this.bye().catch(() => undefined);
      },
    };
    tx.respond(res);
  }

  /** True while a re-INVITE we answered waits for its ACK (a second one gets 500, §14.2). */
  get inviteInProgress(): boolean {
    return !!this.pendingAck;
  }

  /** Called by the core with an in-dialog request. */
  receive(req: SipRequest, tx: ServerTransaction | undefined): void {
    if (req.method === 'ACK') {
      // §13.3.1.4: the ACK for our 2xx stops its retransmission.
      if (this.pendingAck && req.cseq.seq === this.pendingAck.request.cseq.seq) {
        this.pendingAck.ackReceived();
        this.pendingAck = undefined;
        const onAck = this.onAck;
        this.onAck = undefined;
        onAck?.(req);
      }
      return;
    }
    if (!tx) return;
    // §12.2.2: a lower CSeq than the last one is out of order: 500.
    if (req.cseq.seq < this.remoteSeq) {
      tx.respond(createResponse(req, 500, 'CSeq Out of Order'));
      return;
    }
    this.remoteSeq = req.cseq.seq;
    if (req.method === 'BYE') {
      tx.respond(createResponse(req, 200));
      this.end('bye-received');
      return;
    }
    if (this.state === DialogState.Terminated) {
      tx.respond(createResponse(req, 481));
      return;
    }
    this.emit('request', req, tx);
  }

  /** Marks the dialog terminated and reports it once. */
  end(why: DialogEvents['terminated'][0]): void {
    if (this.state === DialogState.Terminated) return;
    this.state = DialogState.Terminated;
    this.pendingAck = undefined;
    this.sessionTimer?.stop();
    this.onEnd(this);
    this.emit('terminated', why);
  }
}

/** The URI of a Route/Record-Route value (`<uri>;params` or a bare URI). */
function routeUri(value: string): string {
  const m = /<([^>]*)>/.exec(value);
  return (m ? m[1]! : value.split(';')[0]!).trim();
}

/** The dialog map key. */
export function dialogId(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}
