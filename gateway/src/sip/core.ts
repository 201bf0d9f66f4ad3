/**
 * The SIP core (RFC 3261 §8, §10, §12–§15): the transaction user that answers OPTIONS, runs
 * the registrar, authenticates requests, keeps dialogs, and turns INVITEs into
 * {@link IncomingInvite}/{@link OutgoingInvite} objects for the B2BUA above it.
 */
import { Notifier, NOTIFIER_DEFAULTS, type NotifierOptions } from './notifier.js';
import type { Clock } from '../util/clock.js';
import { log } from '../util/log.js';
import { Dialog, dialogId } from './dialog.js';
import { DigestServer, type CredentialLookup, type DigestAlgorithm } from './digest.js';
import { IncomingInvite, OutgoingInvite, type InviteOptions } from './invite.js';
import { createResponse, randomToken, SipRequest, type SipResponse } from './message.js';
import { Registrar } from './registrar.js';
import { uasDecision, type SessionTimerConfig } from './session-timer.js';
import { formatNameAddr } from './uri.js';
import type { ServerTransaction, TransactionLayer, TransactionUser } from './transaction/layer.js';
import type { MessageSender, Source, Target, TransportName } from './transport/types.js';

/** Methods the core accepts (Allow header, RFC 3261 §20.5). */
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'INFO', 'REFER', 'NOTIFY', 'MESSAGE', 'UPDATE', 'SUBSCRIBE'];
/** Methods we recognise but do not accept outside a dialog: 405, not 501 (§8.2.1). */
const KNOWN_METHODS = new Set([...ALLOWED_METHODS, 'SUBSCRIBE', 'NOTIFY', 'REFER', 'UPDATE', 'PRACK', 'MESSAGE', 'PUBLISH']);

/** Options for {@link SipCore}. */
export interface SipCoreOptions {
  clock: Clock;
  realm: string;
  digestAlgorithms: DigestAlgorithm[];
  /**
   * Challenge algorithms for SIP-over-WebSocket clients. JsSIP and sip.js do only MD5 (and JsSIP
   * aborts when any SHA-256 challenge is present), so browsers get MD5 by default; their
   * connection is already checked (Origin, usually TLS).
   */
  webSocketDigestAlgorithms?: DigestAlgorithm[];
  /** Looks up a SIP user's password. */
  credentials: CredentialLookup;
  /** Host to put in Contact. */
  advertisedHost: string;
  registrar: { minExpires: number; maxExpires: number; defaultExpires: number; maxContacts?: number; contactLimitPolicy?: 'replace-oldest' | 'reject' };
  /** Event subscriptions (RFC 6665): lifetimes and limits; defaults when absent. */
  subscriptions?: Partial<NotifierOptions>;
  userAgent: string;
  /**
   * Identifies requests from trusted peers (PBX trunks) that are not challenged; returns the
   * identity to use (e.g. `trunk:pbx1`).
   */
  trustedSource?: (req: SipRequest, source: Source) => string | undefined;
  /** Told of every failed authentication (the abuse guard bans repeat offenders). */
  onAuthFailure?: (source: Source) => void;
  /**
   * Told of every request that did not authenticate (challenged, refused, or out of any dialog
   * without credentials) — what the abuse guard counts. Authenticated requests and requests in
   * live dialogs are never counted.
   */
  onUnauthenticated?: (source: Source) => boolean | void;
  /** SIP session timers (RFC 4028) for calls; off when absent. */
  sessionTimers?: SessionTimerConfig;
}

/** What the core hands to the layer above. */
export interface SipCoreDelegate {
  /** A new, authenticated INVITE outside any dialog. The delegate must answer it. */
  onInvite(invite: IncomingInvite): void;
  /**
   * An authenticated MESSAGE outside any dialog (RFC 3428). `identity.role` is set for
   * token-authenticated WebSockets. The delegate must call `reply` once.
   */
  onMessage?(req: SipRequest, identity: MessageIdentity, reply: MessageReply): void;
  /**
   * A dialog's peer came back on a new connection and the dialog now uses it (flow recovery:
   * the same user's new WebSocket sent an in-dialog request, or registered the dialog's Contact).
   */
  onDialogRecovered?(dialog: Dialog): void;
}

/** Who sent a MESSAGE: the authenticated user, its role (token flows) and where it came from. */
export interface MessageIdentity {
  user: string;
  role?: string;
  source: Source;
}

/** Answers a MESSAGE: a status, and optionally a body (e.g. JSON) in the response. */
export type MessageReply = (status: number, reason?: string, body?: { contentType: string; data: string }) => void;

/** Counters exposed as metrics. */
export interface SipCoreStats {
  authFailures: number;
  /** Requests whose digest nonce-count was not above the last one (replays). */
  replays: number;
  registrations: number;
}

/** The SIP core. */
export class SipCore implements TransactionUser {
  readonly registrar: Registrar;
  readonly digest: DigestServer;
  delegate?: SipCoreDelegate;
  /** While the gateway drains for shutdown: new INVITEs and OPTIONS get 503 + Retry-After. */
  draining = false;
  readonly stats: SipCoreStats = { authFailures: 0, replays: 0, registrations: 0 };
  private readonly dialogs = new Map<string, Dialog>();
  /** Who each WebSocket flow belongs to: its token's user, or the user who registered on it. */
  private readonly flowUsers = new Map<string, string>();
  /** Event subscriptions (RFC 6665): packages register here (the dialog package, for busy lamps). */
  readonly notifier: Notifier;

  constructor(
    readonly sender: MessageSender,
    readonly txl: TransactionLayer,
    readonly opts: SipCoreOptions,
  ) {
    this.registrar = new Registrar({ clock: opts.clock, ...opts.registrar });
    this.digest = new DigestServer({ realm: opts.realm, algorithms: opts.digestAlgorithms, clock: opts.clock });
    txl.user = this;
    this.notifier = new Notifier(this, opts.clock, { ...NOTIFIER_DEFAULTS, ...opts.subscriptions });
  }

  /** Our Contact header value for a transport (§8.1.1.8). */
  contactFor(transport: TransportName): string {
    const { host, port } = this.sender.viaFor(transport);
    return `<sip:switchboard@${host}:${port};transport=${transport.toLowerCase()}>`;
  }

  /** Number of live dialogs. */
  get dialogCount(): number {
    return this.dialogs.size;
  }

  /** @internal Registers a dialog created by an invite helper. */
  addDialog(d: Dialog): void {
    this.dialogs.set(d.id, d);
    this.countPeer(d.init.target.host, 1);
  }

  /** @internal Called by dialogs when they end. */
  removeDialog(d: Dialog): void {
    if (this.dialogs.delete(d.id)) this.countPeer(d.init.target.host, -1);
  }

  /** Live dialogs per peer address (the guard lets a banned peer's in-dialog requests through). */
  private readonly peers = new Map<string, number>();
  private countPeer(address: string, delta: number): void {
    const n = (this.peers.get(address) ?? 0) + delta;
    if (n > 0) this.peers.set(address, n);
    else this.peers.delete(address);
  }

  /** Whether `address` is the far end of a live dialog. */
  hasDialogsWith(address: string): boolean {
    return this.peers.has(address);
  }

  /** Answers a request with a stateful response; adds our Server header. */
  respond(tx: ServerTransaction, status: number, reason?: string, headers: Array<[string, string]> = [], toTag?: string, body?: { contentType: string; data: string }): void {
    const res = createResponse(tx.request, status, reason, toTag ?? (status > 100 ? randomToken(6) : undefined));
    for (const [k, v] of headers) res.add(k, v);
    res.add('server', this.opts.userAgent);
    if (body) {
      res.add('content-type', body.contentType);
      res.body = Buffer.from(body.data, 'utf8');
    }
    tx.respond(res);
  }

  onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: Source): void {
    // In-dialog requests (§12.2.2): matched by Call-ID and both tags.
    const toTag = req.toTag;
    if (toTag) {
      const dialog = this.dialogs.get(dialogId(req.callId, toTag, req.fromTag ?? ''));
      if (dialog) {
        this.recoverFlow(dialog, source);
        dialog.receive(req, tx);
        return;
      }
      if (this.opts.onUnauthenticated?.(source)) return;
      if (tx && !source.banned) this.respond(tx, 481);
      return;
    }
    if (!tx) return; // An ACK outside a dialog (for a 2xx we do not know): drop (§17.2.3).
    // A banned source gets served only requests that carry verifying credentials (authenticate()).
    const authenticated = req.method === 'REGISTER' || req.method === 'INVITE' || req.method === 'MESSAGE' || req.method === 'SUBSCRIBE';
    if (source.banned && !authenticated) return;
    // Counted (and dropped unanswered when it crosses the guard's limit).
    if (!authenticated && !source.auth && this.opts.onUnauthenticated?.(source)) return;
    // §8.2.2.1: a Request-URI scheme we cannot serve gets 416 (tel: is routed by its number).
    const scheme = req.requestUri.scheme;
    if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') return this.respond(tx, 416);
    // §16.3 / §8.2.2: loop protection.
    const mf = req.get('max-forwards');
    if (mf !== undefined && Number(mf) === 0 && req.method !== 'OPTIONS') return this.respond(tx, 483);
    // Draining (shutdown): no new calls — 503 with Retry-After sends a PBX or load balancer elsewhere
    // (RFC 3261 §21.5.4), and OPTIONS pings say the same.
    if (this.draining && (req.method === 'INVITE' || req.method === 'OPTIONS')) return this.respond(tx, 503, 'Shutting Down', [['retry-after', '60']]);
    switch (req.method) {
      case 'OPTIONS':
        return this.respond(tx, 200, undefined, [['allow', ALLOWED_METHODS.join(', ')], ['accept', 'application/sdp'], ...(this.notifier.events.length ? [['allow-events', this.notifier.events.join(', ')] as [string, string]] : [])]);
      case 'REGISTER':
        return this.onRegister(req, tx, source);
      case 'INVITE':
        return this.onInvite(req, tx, source);
      case 'MESSAGE':
        return this.onMessage(req, tx, source);
      case 'SUBSCRIBE':
        return this.onSubscribe(req, tx, source);
      case 'BYE':
      case 'INFO':
        return this.respond(tx, 481);
      default:
        // §8.2.1: 405 for a method we know but do not take here, 501 for one we do not know.
        return this.respond(tx, KNOWN_METHODS.has(req.method) ? 405 : 501, undefined, [['allow', ALLOWED_METHODS.join(', ')]]);
    }
  }

  /** The user a connection belongs to (WebSocket flows: by token, or by the REGISTER made on it). */
  private flowUser(source: Source): string | undefined {
    return source.auth?.user ?? this.flowUsers.get(source.flowId);
  }

  /**
   * Flow recovery (RFC 5626 §5.2 in spirit, for browsers that cannot be reached but over their own
   * WebSocket): a request inside a browser's dialog arriving on another WebSocket of the same
   * user moves the dialog to that connection — the tab reconnected after a network blip.
   */
  private recoverFlow(dialog: Dialog, source: Source): void {
    const t = dialog.init.target;
    if ((source.transport !== 'WS' && source.transport !== 'WSS') || (t.transport !== 'WS' && t.transport !== 'WSS') || t.flowId === source.flowId) return;
    const owner = dialog.init.owner;
    const user = this.flowUser(source);
    if (!owner || !user || owner.toLowerCase() !== user.toLowerCase()) return;
    this.countPeer(t.host, -1);
    dialog.retarget({ transport: source.transport, host: source.address, port: source.port, flowId: source.flowId });
    this.countPeer(source.address, 1);
    this.delegate?.onDialogRecovered?.(dialog);
  }

  /** A browser registered again: its dialogs whose Contact it registered follow it to the new flow. */
  private recoverByContact(source: Source, contacts: string[]): void {
    const wanted = new Set(contacts.map((c) => c.toLowerCase()));
    for (const d of this.dialogs.values()) {
      if (wanted.has(d.init.remoteTarget.toLowerCase())) this.recoverFlow(d, source);
    }
  }

  /** A connection closed: forget whose it was. */
  flowClosed(flowId: string): void {
    this.flowUsers.delete(flowId);
  }

  /** A 2xx retransmission after the INVITE transaction ended: re-send the dialog's ACK (§13.2.2.4). */
  onStrayResponse(res: SipResponse): void {
    if (res.cseq.method !== 'INVITE' || res.status < 200 || res.status >= 300) return;
    const d = this.dialogs.get(dialogId(res.callId, res.fromTag ?? '', res.toTag ?? ''));
    if (d?.ack) this.txl.sendStateless(d.ack, d.init.target, true);
  }

  /**
   * Authenticates a request: the identity bound to its WebSocket flow (token checked at the
   * upgrade), else digest (§22.3 with 401 for REGISTER, §22.3/§16 style 407 otherwise).
   * Sends the challenge or 403 itself and returns undefined when not authenticated.
   */
  authenticate(req: SipRequest, tx: ServerTransaction, source: Source): string | undefined {
    if (source.auth) return source.auth.user;
    if (req.method !== 'REGISTER') {
      const trusted = this.opts.trustedSource?.(req, source);
      if (trusted) return trusted;
    }
    const user = this.verifyDigest(req, tx, source);
    // Authenticated: this connection leaves its address's connection cap.
    if (user) this.sender.flowAuthenticated?.(source);
    return user;
  }

  private verifyDigest(req: SipRequest, tx: ServerTransaction, source: Source): string | undefined {
    const proxy = req.method !== 'REGISTER';
    const ws = source.transport === 'WS' || source.transport === 'WSS';
    const defaults = ws ? (this.opts.webSocketDigestAlgorithms ?? this.opts.digestAlgorithms) : this.opts.digestAlgorithms;
    const verdict = this.digest.verify(req.getAll(proxy ? 'proxy-authorization' : 'authorization'), { method: req.method, uri: req.uri, source: source.address }, this.opts.credentials, defaults);
    if (verdict.ok) return verdict.username;
    if (this.opts.onUnauthenticated?.(source) && !source.banned) return undefined; // over the limit: no answer
    const where = `${req.method} from ${source.transport} ${source.address}:${source.port}`;
    // A banned source is challenged again only when it proved the password (an expired nonce);
    // anything else from it is dropped without an answer.
    if (source.banned && verdict.why !== 'stale') {
      if (verdict.why === 'wrong-password' || verdict.why === 'unknown-user' || verdict.why === 'uri-mismatch' || verdict.why === 'malformed') this.opts.onAuthFailure?.(source);
      return undefined;
    }
    if (verdict.why === 'missing' || verdict.why === 'stale' || verdict.why === 'bad-nonce' || verdict.why === 'realm' || verdict.why === 'replay') {
      if (verdict.why === 'replay') {
        this.stats.replays++;
        log.warn('sip.auth', `${where}: nonce-count replayed; challenging again`);
      }
      const header = proxy ? 'proxy-authenticate' : 'www-authenticate';
      // Challenge with the algorithms configured for the user the request claims to be.
      const claimed = (req.method === 'REGISTER' ? req.to : req.from).uri.user ?? '';
      const challenges = this.digest.challenges(verdict.why === 'stale' || verdict.why === 'bad-nonce' || verdict.why === 'replay', this.opts.credentials(claimed)?.digestAlgorithms ?? defaults, source.address);
      this.respond(tx, proxy ? 407 : 401, undefined, challenges.map((c) => [header, c] as [string, string]));
      return undefined;
    }
    if (verdict.why === 'no-secret') {
      log.warn('sip.auth', `${where}: the user has no digest secret (an scrypt password needs digestHa1 in the configuration)`);
      this.respond(tx, 403, 'Digest Not Configured For This User');
      return undefined;
    }
    this.stats.authFailures++;
    this.opts.onAuthFailure?.(source);
    log.warn('sip.auth', `${where} rejected: ${verdict.why}${verdict.detail ? ` (${verdict.detail})` : ''}`);
    const reason = verdict.why === 'malformed' ? 'Malformed Credentials' : verdict.why === 'qop-required' ? 'Digest With qop=auth Required' : verdict.why === 'uri-mismatch' ? 'Credentials For Another URI' : 'Bad Credentials';
    this.respond(tx, 403, reason);
    return undefined;
  }

  private onRegister(req: SipRequest, tx: ServerTransaction, source: Source): void {
    const user = this.authenticate(req, tx, source);
    if (!user) return;
    const aor = req.to.uri.user;
    if (!aor || aor.toLowerCase() !== user.toLowerCase()) {
      this.stats.authFailures++;
      log.warn('sip.auth', `REGISTER for ${aor ?? '(none)'} by ${user} from ${source.address}: identity mismatch`);
      return this.respond(tx, 403, 'Identity Does Not Match To');
    }
    const result = this.registrar.register(aor, req, source);
    if (result.status === 423) return this.respond(tx, 423, undefined, [['min-expires', String(result.minExpires)]]);
    if (result.status === 400 || result.status === 403) {
      if (result.status === 403) log.warn('sip.registrar', `REGISTER for ${aor} from ${source.address}:${source.port} refused: ${result.reason}`);
      return this.respond(tx, result.status, result.reason);
    }
    this.stats.registrations++;
    if (source.transport === 'WS' || source.transport === 'WSS') {
      this.flowUsers.set(source.flowId, user);
      this.recoverByContact(source, req.contacts.map((c) => formatNameAddr({ uri: c.uri, params: {} }).slice(1, -1)));
    }
    const contacts = this.registrar.contactHeaders(result.bindings);
    this.respond(tx, 200, undefined, [...contacts.map((c) => ['contact', c] as [string, string]), ['date', new Date().toUTCString()]]);
  }

  private onInvite(req: SipRequest, tx: ServerTransaction, source: Source): void {
    if (!this.delegate) return this.respond(tx, 503, 'No Call Handler');
    if (!req.body.length) return this.respond(tx, 488, 'Offerless INVITE Not Supported');
    const ct = (req.get('content-type') ?? '').toLowerCase();
    if (!ct.startsWith('application/sdp')) return this.respond(tx, 415, undefined, [['accept', 'application/sdp']]);
    const user = this.authenticate(req, tx, source);
    if (!user) return;
    // RFC 4028 §9: an interval below our Min-SE is refused with 422 (the UAC retries with ours).
    if (this.opts.sessionTimers) {
      const d = uasDecision(req, this.opts.sessionTimers);
      if (d.kind === 'too-small') return this.respond(tx, 422, 'Session Interval Too Small', [['min-se', String(d.minSE)]]);
    }
    const invite = new IncomingInvite(this, req, tx as ServerTransactionOfInvite, source, user);
    try {
      this.delegate.onInvite(invite);
    } catch (err) {
      log.error('sip.core', `call handler failed for ${req.callId}`, err);
      invite.reject(500, 'Internal Error');
    }
  }

  /** RFC 3428 §7: a MESSAGE outside a dialog, authenticated like an INVITE, answered by the delegate. */
  /** RFC 6665: an authenticated user subscribes to an event package (489 for one not served). */
  private onSubscribe(req: SipRequest, tx: ServerTransaction, source: Source): void {
    if (!this.notifier.events.length) return this.respond(tx, 489, 'Bad Event');
    const user = this.authenticate(req, tx, source);
    if (!user) return;
    this.notifier.subscribe(req, tx, source, user);
  }

  private onMessage(req: SipRequest, tx: ServerTransaction, source: Source): void {
    if (!this.delegate?.onMessage) return this.respond(tx, 405, undefined, [['allow', ALLOWED_METHODS.join(', ')]]);
    const user = this.authenticate(req, tx, source);
    if (!user) return;
    let replied = false;
    const reply: MessageReply = (status, reason, body) => {
      if (replied) return;
      replied = true;
      const res = createResponse(req, status, reason, randomToken(6));
      res.add('server', this.opts.userAgent);
      if (body) {
        res.add('content-type', body.contentType);
        res.body = Buffer.from(body.data, 'utf8');
      }
      tx.respond(res);
    };
    try {
      this.delegate.onMessage(req, { user, source, ...(source.auth?.role ? { role: source.auth.role } : {}) }, reply);
    } catch (err) {
      log.error('sip.core', `MESSAGE handler failed for ${req.callId}`, err);
      reply(500, 'Internal Error');
    }
  }

  /**
   * Sends a MESSAGE (RFC 3428) outside any dialog to a device: `requestUri` is its registered
   * Contact, `target` where its flow is. Resolves with the final status (408 on timeout, 503 on
   * a transport error).
   */
  sendMessage(target: Target, requestUri: string, toUser: string, body: { contentType: string; data: string }): Promise<number> {
    const req = new SipRequest('MESSAGE', requestUri);
    req.add('max-forwards', 70);
    req.add('from', `<sip:switchboard@${this.opts.advertisedHost}>;tag=${randomToken(6)}`);
    req.add('to', `<sip:${toUser}@${this.opts.advertisedHost}>`);
    req.add('call-id', `${randomToken(10)}@switchboard`);
    req.add('cseq', '1 MESSAGE');
    req.add('user-agent', this.opts.userAgent);
    req.add('content-type', body.contentType);
    req.body = Buffer.from(body.data, 'utf8');
    return new Promise((resolve) => {
      this.txl.request(req, target, {
        onResponse: (res) => {
          if (res.status >= 200) resolve(res.status);
        },
        onTimeout: () => resolve(408),
        onTransportError: () => resolve(503),
      });
    });
  }

  /** Starts an outgoing INVITE (UAC, §13.2). */
  invite(opts: InviteOptions): OutgoingInvite {
    return new OutgoingInvite(this, opts);
  }

  /** Ends every dialog and transaction (shutdown). */
  close(): void {
    this.notifier.close();
    for (const d of [...this.dialogs.values()]) d.bye('SIP;cause=503;text="Gateway shutting down"').catch(() => undefined);
    this.registrar.close();
  }
}

type ServerTransactionOfInvite = import('./transaction/server-invite.js').InviteServerTransaction;
