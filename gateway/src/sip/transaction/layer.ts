/**
 * The transaction layer: creates transactions, matches messages to them (RFC 3261 §17.1.3,
 * §17.2.3) and hands everything that matches no transaction to the transaction user (the core).
 */
import type { Clock } from '../../util/clock.js';
import { log } from '../../util/log.js';
import { BRANCH_COOKIE, formatVia } from '../headers.js';
import { createResponse, randomToken, type SipMessage, type SipRequest, type SipResponse } from '../message.js';
import type { MessageSender, Source, Target } from '../transport/types.js';
import { InviteClientTransaction } from './client-invite.js';
import { NonInviteClientTransaction } from './client-non-invite.js';
import { InviteServerTransaction } from './server-invite.js';
import { NonInviteServerTransaction } from './server-non-invite.js';
import { DEFAULT_TIMERS, type ClientTransactionUser, type TimerValues, type TransactionContext } from './types.js';

/** Either server transaction. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
/** Either client transaction. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

/** The layer above (the SIP core): requests that start a transaction, and strays. */
export interface TransactionUser {
  /** A new request; `tx` is undefined for ACK (which never has a server transaction of its own). */
  onRequest(req: SipRequest, tx: ServerTransaction | undefined, source: Source): void;
  /** A response matching no client transaction (e.g. a retransmitted 2xx after Accepted ended). */
  onStrayResponse?(res: SipResponse, source: Source): void;
}

/** The transaction layer. */
export class TransactionLayer {
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly ctx: TransactionContext;
  /** Set by the core once it exists (the core is built on top of this layer). */
  user?: TransactionUser;

  constructor(
    private readonly sender: MessageSender,
    clock: Clock,
    timers: TimerValues = DEFAULT_TIMERS,
  ) {
    this.ctx = {
      sender,
      clock,
      timers,
      onTerminated: (tx) => {
        this.clients.delete(tx.key);
        this.servers.delete(tx.key);
      },
    };
  }

  /** Counts, for metrics and leak tests. */
  get size(): { clients: number; servers: number } {
    return { clients: this.clients.size, servers: this.servers.size };
  }

  /**
   * Starts a client transaction: stamps a new top Via with a fresh branch (§8.1.1.7) for the
   * target's transport, then sends. ACK for 2xx must not come here (it has no transaction,
   * §17.1.1.3) — use {@link TransactionLayer.sendStateless}.
   */
  request(req: SipRequest, target: Target, user: ClientTransactionUser, opts: { keepVia?: boolean } = {}): ClientTransaction {
    // A CANCEL keeps the INVITE's top Via and branch (§9.1), so it is stamped by the caller.
    let branch = req.has('via') && opts.keepVia ? req.via.params.branch ?? '' : '';
    if (!opts.keepVia) {
      branch = BRANCH_COOKIE + randomToken(10);
      const sentBy = this.sender.viaFor(target.transport);
      req.prepend('via', formatVia({ protocol: '', transport: target.transport, host: sentBy.host, port: sentBy.port, params: { branch, rport: null } }));
    }
    const key = `${branch}|${req.method}`;
    const tx =
      req.method === 'INVITE'
        ? new InviteClientTransaction(key, req, target, this.ctx, user)
        : new NonInviteClientTransaction(key, req, target, this.ctx, user);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /**
   * Sends a request outside any transaction (an ACK for 2xx, §13.2.2.4). Stamps a Via with a new
   * branch unless `keepVia` (a re-sent ACK keeps its own).
   */
  sendStateless(req: SipRequest, target: Target, keepVia = false): void {
    if (!keepVia) {
      const sentBy = this.sender.viaFor(target.transport);
      req.prepend('via', formatVia({ protocol: '', transport: target.transport, host: sentBy.host, port: sentBy.port, params: { branch: BRANCH_COOKIE + randomToken(10), rport: null } }));
    }
    this.sender.sendRequest(req, target).catch((err: Error) => log.warn('sip.tx', `stateless ${req.method} not sent: ${err.message}`));
  }

  /** Entry point for every parsed message from the transport layer. */
  receive(msg: SipMessage, source: Source): void {
    if (msg.isRequest) this.receiveRequest(msg, source);
    else this.receiveResponse(msg, source);
  }

  private receiveResponse(res: SipResponse, source: Source): void {
    // §17.1.3: match on the top Via branch and the CSeq method.
    const branch = res.via.params.branch;
    const tx = branch ? this.clients.get(`${branch}|${res.cseq.method}`) : undefined;
    if (tx) tx.receiveResponse(res);
    else this.user?.onStrayResponse?.(res, source);
  }

  /** §17.2.3 server matching key; falls back to RFC 2543 rules for branches without the cookie. */
  private serverKey(req: SipRequest): string {
    const via = req.via;
    const method = req.method === 'ACK' ? 'INVITE' : req.method;
    const branch = via.params.branch;
    const sentBy = `${via.host}:${via.port ?? ''}`;
    if (branch && branch.startsWith(BRANCH_COOKIE)) return `${branch}|${sentBy}|${method}`;
    // RFC 3261 §17.2.3 (pre-3261 peers): Request-URI, tags, Call-ID, CSeq and top Via together.
    // The ACK of a non-2xx carries the response's To tag, which the INVITE lacked, so it is left out.
    return `2543|${req.uri}|${req.fromTag ?? ''}|${req.callId}|${req.cseq.seq}|${sentBy}|${branch ?? ''}|${method}`;
  }

  private receiveRequest(req: SipRequest, source: Source): void {
    const key = this.serverKey(req);
    const existing = this.servers.get(key);
    if (existing) {
      existing.receiveRequest(req);
      return;
    }
    if (req.method === 'ACK') {
      // ACK for a 2xx (no server transaction): the core matches it to a dialog.
      this.user?.onRequest(req, undefined, source);
      return;
    }
    if (req.method === 'CANCEL') {
      this.receiveCancel(req, source, key);
      return;
    }
    const tx =
      req.method === 'INVITE'
        ? new InviteServerTransaction(key, req, source, this.ctx)
        : new NonInviteServerTransaction(key, req, source, this.ctx);
    this.servers.set(key, tx);
    if (!this.user) {
      tx.respond(createResponse(req, 503, 'Starting Up'));
      return;
    }
    this.user.onRequest(req, tx, source);
  }

  /** §9.2: CANCEL gets its own transaction and a 200 (or 481), and is reported to the INVITE's TU. */
  private receiveCancel(req: SipRequest, source: Source, key: string): void {
    const tx = new NonInviteServerTransaction(key, req, source, this.ctx);
    this.servers.set(key, tx);
    const inviteKey = key.replace(/\|CANCEL$/, '|INVITE');
    const invite = this.servers.get(inviteKey);
    if (!(invite instanceof InviteServerTransaction)) {
      tx.respond(createResponse(req, 481));
      return;
    }
    tx.respond(createResponse(req, 200, undefined, invite.request.toTag));
    if (!invite.answered) invite.user.onCancel?.(req);
  }

  /** Stops every transaction (shutdown). */
  close(): void {
    for (const tx of [...this.clients.values(), ...this.servers.values()]) tx.terminate();
  }
}
