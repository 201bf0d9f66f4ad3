/**
 * INVITE helpers for the B2BUA: the UAS side ({@link IncomingInvite}, RFC 3261 §13.3) and the
 * UAC side ({@link OutgoingInvite}, §13.2, CANCEL per §9.1).
 */
import { Emitter } from '../util/emitter.js';
import { log } from '../util/log.js';
import type { SipCore } from './core.js';
import { Dialog, DIALOG_METHODS } from './dialog.js';
import { authorizationFor } from './digest.js';
import { createResponse, randomToken, SipRequest, type SipResponse } from './message.js';
import type { InviteServerTransaction } from './transaction/server-invite.js';
import type { Source, Target } from './transport/types.js';
import { formatNameAddr } from './uri.js';
import { parseMinSE, uacHeaders, uacOutcome, uasDecision } from './session-timer.js';

/** Events of an incoming INVITE before it is answered. */
export type IncomingInviteEvents = {
  /** The caller sent CANCEL; the core already answered 487. */
  cancelled: [];
};

/** An INVITE received from a peer (UAS side), awaiting our answer. */
export class IncomingInvite extends Emitter<IncomingInviteEvents> {
  /** Our To tag for every response and the dialog. */
  readonly toTag = randomToken(6);
  private done = false;

  constructor(
    private readonly core: SipCore,
    readonly request: SipRequest,
    readonly tx: InviteServerTransaction,
    readonly source: Source,
    /** The authenticated user who sent it. */
    readonly identity: string,
  ) {
    super();
    tx.user = {
      onCancel: () => {
        if (this.done) return;
        this.done = true;
        this.respond(487);
        this.emit('cancelled');
      },
    };
  }

  /** Headers added to every provisional and final 2xx response (e.g. the gateway's call id). */
  readonly responseHeaders: Array<[string, string]> = [];

  /** The SDP offer. */
  get offer(): string {
    return this.request.body.toString('utf8');
  }

  /** True once a final response was sent. */
  get answered(): boolean {
    return this.done;
  }

  private respond(status: number, reason?: string, body?: string, headers: Array<[string, string]> = []): SipResponse {
    const res = createResponse(this.request, status, reason, this.toTag);
    // §12.1.1: Record-Route is copied into responses that create a dialog.
    if (status > 100 && status < 300) for (const rr of this.request.getAll('record-route')) res.add('record-route', rr);
    if (status > 100 && status < 300) res.add('contact', this.core.contactFor(this.source.transport));
    if (status >= 200 && status < 300) res.add('allow', DIALOG_METHODS);
    if (status > 100 && status < 300) for (const [k, v] of this.responseHeaders) res.add(k, v);
    for (const [k, v] of headers) res.add(k, v);
    res.add('server', this.core.opts.userAgent);
    if (body !== undefined) {
      res.body = Buffer.from(body, 'utf8');
      res.add('content-type', 'application/sdp');
    }
    this.tx.respond(res);
    return res;
  }

  /** Sends a provisional response (180 Ringing by default; 183 with early-media SDP). */
  progress(status = 180, body?: string): void {
    if (!this.done) this.respond(status, undefined, body);
  }

  /** Answers 200 OK with `answer` and returns the confirmed dialog (§13.3.1.4). */
  accept(answer: string): Dialog {
    if (this.done) throw new Error('INVITE already answered');
    this.done = true;
    const timers = this.core.opts.sessionTimers;
    const decision = timers ? uasDecision(this.request, timers) : undefined;
    this.respond(200, undefined, answer, decision?.kind === 'timer' ? decision.headers : []);
    const req = this.request;
    const from = req.get('from')!;
    const to = req.get('to')!;
    const contact = req.contacts[0];
    const dialog = new Dialog(
      {
        callId: req.callId,
        localTag: this.toTag,
        remoteTag: req.fromTag ?? '',
        localUri: `${to};tag=${this.toTag}`,
        remoteUri: from,
        localSeq: Math.floor(Math.random() * 10_000),
        remoteSeq: req.cseq.seq,
        remoteTarget: contact ? formatNameAddr({ uri: contact.uri, params: {} }).slice(1, -1) : req.from.uri.host,
        routeSet: req.getAll('record-route'),
        target: { transport: this.source.transport, host: this.source.address, port: this.source.port, flowId: this.source.flowId },
        localContact: this.core.contactFor(this.source.transport),
        owner: this.identity,
      },
      this.core.txl,
      (d) => this.core.removeDialog(d),
    );
    dialog.pendingAck = this.tx;
    this.tx.user = {
      onAckTimeout: () => {
        log.warn('sip.invite', `no ACK for 200 OK on ${req.callId}; ending the call`);
        dialog.bye().catch(() => undefined);
        dialog.end('ack-timeout');
      },
    };
    this.core.addDialog(dialog);
    dialog.localSdp = answer;
    // RFC 4028: as UAS, refresher=uas means we refresh.
    if (timers && decision?.kind === 'timer') dialog.startSessionTimer(this.core.opts.clock, timers, decision.interval, decision.refresher === 'uas' ? 'local' : 'remote', req);
    return dialog;
  }

  /** Rejects with a final non-2xx response. */
  reject(status: number, reason?: string, headers: Array<[string, string]> = []): void {
    if (this.done) return;
    this.done = true;
    this.respond(status, reason, undefined, headers);
  }
}

/** What to call and how. */
export interface InviteOptions {
  /** Where to send the INVITE. */
  target: Target;
  /** Request-URI (the registered Contact, or the trunk's URI). */
  requestUri: string;
  /** Caller shown to the callee. */
  from: { user: string; displayName?: string };
  /** Callee's AOR user. */
  to: { user: string };
  /** SDP offer. */
  offer: string;
  headers?: Array<[string, string]>;
  /** Host part of From and To (a trunk's SIP domain); our advertised host when absent. */
  domain?: string;
  /** Answers 401/407 challenges with these (trunks, RFC 3261 §22.2, RFC 8760). */
  credentials?: { username: string; password: string };
  /** The user whose device this is (a registration's AOR): may recover the dialog on a new flow. */
  owner?: string;
}

/** Events of an outgoing INVITE. */
export type OutgoingInviteEvents = {
  /** A provisional response other than 100 (180 Ringing, 183 Session Progress). */
  progress: [res: SipResponse];
  /** 2xx: the dialog is confirmed (we sent the ACK). */
  accepted: [res: SipResponse, dialog: Dialog];
  /** Final failure: the callee's status, 408 on timeout, 503 on transport error, 487 after cancel(). */
  failed: [status: number, reason: string];
};

/** An INVITE we sent (UAC side). */
export class OutgoingInvite extends Emitter<OutgoingInviteEvents> {
  /** The INVITE in flight (replaced by an authenticated copy after a 401/407). */
  request: SipRequest;
  private authAttempts = 0;
  private provisional = false;
  private cancelWanted = false;
  private cancelSent = false;
  private cancelReason: string | undefined;
  private settled = false;
  private dialog?: Dialog;

  constructor(
    private readonly core: SipCore,
    private readonly opts: InviteOptions,
  ) {
    super();
    const host = opts.domain ?? core.sender.viaFor(opts.target.transport).host;
    const req = new SipRequest('INVITE', opts.requestUri);
    req.add('max-forwards', 70);
    req.add('from', formatNameAddr({ ...(opts.from.displayName ? { displayName: opts.from.displayName } : {}), uri: { scheme: 'sip', user: opts.from.user, host, params: {} }, params: { tag: randomToken(6) } }));
    req.add('to', formatNameAddr({ uri: { scheme: 'sip', user: opts.to.user, host, params: {} }, params: {} }));
    req.add('call-id', `${randomToken(12)}@${host}`);
    req.add('cseq', '1 INVITE');
    req.add('contact', core.contactFor(opts.target.transport));
    req.add('allow', DIALOG_METHODS);
    req.add('user-agent', core.opts.userAgent);
    // RFC 4028 §7.1: we support session timers and ask for our interval (the UAS may pick the refresher).
    if (core.opts.sessionTimers) for (const [k, v] of uacHeaders(core.opts.sessionTimers)) req.add(k, v);
    for (const [k, v] of opts.headers ?? []) req.add(k, v);
    req.add('content-type', 'application/sdp');
    req.body = Buffer.from(opts.offer, 'utf8');
    this.request = req;
  }

  /** Sends the INVITE. Call after attaching listeners. */
  start(): this {
    this.send();
    return this;
  }

  private send(): void {
    this.core.txl.request(this.request, this.opts.target, {
      onResponse: (res) => this.onResponse(res),
      onTimeout: () => this.fail(408, 'Request Timeout'),
      onTransportError: (err) => this.fail(503, `Transport Error: ${err.message}`),
    });
  }

  /**
   * §22.2: re-sends the INVITE with credentials for a 401/407 challenge — same Call-ID and From
   * tag, CSeq + 1, a new branch. One retry, or a second when the first nonce was only stale.
   * Returns false when the challenge cannot (or should no longer) be answered.
   */
  private retryWithCredentials(res: SipResponse): boolean {
    const creds = this.opts.credentials;
    if (!creds || this.cancelWanted) return false;
    const prev = this.request;
    const auth = authorizationFor(res, { ...creds, method: 'INVITE', uri: prev.uri }, this.authAttempts);
    if (!auth) return false;
    this.authAttempts++;
    const req = new SipRequest('INVITE', prev.uri);
    for (const [k, v] of prev.headers) {
      if (k === 'via' || k === 'cseq' || k === 'authorization' || k === 'proxy-authorization') continue;
      req.add(k, v);
    }
    req.set('cseq', `${prev.cseq.seq + 1} INVITE`);
    req.add(auth[0], auth[1]);
    req.body = prev.body;
    this.request = req;
    this.provisional = false;
    log.info('sip.invite', `${req.callId}: answering ${res.status} challenge as ${creds.username}`);
    this.send();
    return true;
  }

  private onResponse(res: SipResponse): void {
    if (res.status < 200) {
      this.provisional = true;
      if (this.cancelWanted) this.sendCancel();
      else if (res.status > 100) this.emit('progress', res);
      return;
    }
    if (res.status < 300) {
      if (this.dialog) {
        // Retransmitted 2xx (RFC 6026 Accepted state): the same ACK again.
        if (this.dialog.ack) this.core.txl.sendStateless(this.dialog.ack, this.opts.target, true);
        return;
      }
      const dialog = this.makeDialog(res);
      this.dialog = dialog;
      const ack = dialog.createRequest('ACK', this.request.cseq.seq);
      dialog.ack = ack;
      this.core.txl.sendStateless(ack, this.opts.target);
      this.core.addDialog(dialog);
      dialog.localSdp = this.opts.offer;
      const timers = this.core.opts.sessionTimers;
      const outcome = timers ? uacOutcome(res) : undefined;
      if (timers && outcome) dialog.startSessionTimer(this.core.opts.clock, timers, outcome.interval, outcome.side, res);
      if (this.cancelWanted || this.settled) {
        // §9.1: the callee answered as we cancelled — end the call it created.
        dialog.bye().catch(() => undefined);
        return;
      }
      this.settled = true;
      this.emit('accepted', res, dialog);
      return;
    }
    if ((res.status === 401 || res.status === 407) && this.retryWithCredentials(res)) return;
    if (res.status === 422 && this.retryWithMinSE(res)) return;
    this.fail(res.status, res.reason);
  }

  /** RFC 4028 §7.4: a 422 names the callee's Min-SE; the INVITE is sent again once, asking for that. */
  private retried422 = false;
  private retryWithMinSE(res: SipResponse): boolean {
    const cfg = this.core.opts.sessionTimers;
    const minSE = parseMinSE(res);
    if (!cfg || this.retried422 || minSE === undefined || this.cancelWanted) return false;
    this.retried422 = true;
    const prev = this.request;
    const req = new SipRequest('INVITE', prev.uri);
    for (const [k, v] of prev.headers) {
      if (k === 'via' || k === 'cseq' || k === 'session-expires' || k === 'min-se') continue;
      req.add(k, v);
    }
    req.set('cseq', `${prev.cseq.seq + 1} INVITE`);
    req.add('session-expires', String(Math.max(minSE, cfg.minSE)));
    req.add('min-se', String(Math.max(minSE, cfg.minSE)));
    req.body = prev.body;
    this.request = req;
    this.provisional = false;
    log.info('sip.invite', `${req.callId}: 422, asking again with Session-Expires ${Math.max(minSE, cfg.minSE)}`);
    this.send();
    return true;
  }

  /** §12.1.2: the UAC dialog from a 2xx. */
  private makeDialog(res: SipResponse): Dialog {
    const contact = res.contacts[0];
    const req = this.request;
    return new Dialog(
      {
        callId: req.callId,
        localTag: req.fromTag ?? '',
        remoteTag: res.toTag ?? '',
        localUri: req.get('from')!,
        remoteUri: res.get('to')!,
        localSeq: req.cseq.seq,
        remoteSeq: 0,
        remoteTarget: contact ? formatNameAddr({ uri: contact.uri, params: {} }).slice(1, -1) : req.uri,
        routeSet: [...res.getAll('record-route')].reverse(),
        target: this.opts.target,
        localContact: this.core.contactFor(this.opts.target.transport),
        ...(this.opts.owner ? { owner: this.opts.owner } : {}),
      },
      this.core.txl,
      (d) => this.core.removeDialog(d),
    );
  }

  private fail(status: number, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.emit('failed', status, reason);
  }

  /**
   * Abandons the call attempt: reports `failed` 487 at once and sends CANCEL as soon as the
   * callee has sent a provisional response (§9.1 forbids it before). `reason` goes into the
   * CANCEL's Reason header (RFC 3326), e.g. `SIP;cause=200;text="Call completed elsewhere"`.
   */
  cancel(reason?: string): void {
    if (this.settled) return;
    this.cancelWanted = true;
    this.cancelReason = reason;
    this.fail(487, 'Request Terminated');
    if (this.provisional) this.sendCancel();
  }

  private sendCancel(): void {
    if (this.cancelSent) return;
    this.cancelSent = true;
    const inv = this.request;
    const cancel = new SipRequest('CANCEL', inv.uri);
    cancel.add('via', inv.get('via')!);
    for (const r of inv.getAll('route')) cancel.add('route', r);
    cancel.add('max-forwards', 70);
    cancel.add('from', inv.get('from')!);
    cancel.add('to', inv.get('to')!);
    cancel.add('call-id', inv.callId);
    cancel.add('cseq', `${inv.cseq.seq} CANCEL`);
    if (this.cancelReason) cancel.add('reason', this.cancelReason);
    this.core.txl.request(cancel, this.opts.target, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined }, { keepVia: true });
  }
}
