/**
 * What the four RFC 3261 §17 machines share: identity, guarded state, timers, idempotent
 * termination, and the send-with-transport-error path of each side.
 */
import type { SipRequest, SipResponse } from '../message.js';
import { isReliable, type Source, type Target, type TransportName } from '../transport/types.js';
import { TimerSet, transition, type ClientTransactionUser, type ServerTransactionUser, type TransactionContext } from './types.js';

/** Base of every transaction: `S` is its state enum, which must have a `Terminated` member. */
export abstract class TransactionBase<S extends string> {
  state: S;
  protected readonly timers: TimerSet;
  /** Reliable transports skip retransmissions and use zero-length wait timers (§17). */
  protected readonly reliable: boolean;

  protected constructor(
    private readonly kind: string,
    readonly key: string,
    initial: S,
    private readonly allowed: Record<S, readonly S[]>,
    private readonly terminated: S,
    protected readonly ctx: TransactionContext,
    transport: TransportName,
  ) {
    this.state = initial;
    this.timers = new TimerSet(ctx.clock);
    this.reliable = isReliable(transport);
  }

  /** The one guarded state change (invalid moves are logged and ignored). */
  protected setState(to: S): void {
    if (transition(this.kind, this.key, this.state, to, this.allowed)) this.state = to;
  }

  /** Stops every timer and forgets the transaction (idempotent). */
  terminate(): void {
    if (this.state === this.terminated) return;
    this.setState(this.terminated);
    this.timers.stopAll();
    this.ctx.onTerminated(this);
  }

  protected get isTerminated(): boolean {
    return this.state === this.terminated;
  }
}

/** Base of the client machines: sends its request and reports transport errors once. */
export abstract class ClientTransactionBase<S extends string> extends TransactionBase<S> {
  protected constructor(
    kind: string,
    key: string,
    initial: S,
    allowed: Record<S, readonly S[]>,
    terminated: S,
    ctx: TransactionContext,
    readonly request: SipRequest,
    readonly target: Target,
    protected readonly user: ClientTransactionUser,
  ) {
    super(kind, key, initial, allowed, terminated, ctx, target.transport);
  }

  /** Sends (or re-sends) the request; a transport error terminates and is reported (§8.1.3.1). */
  protected send(): void {
    this.ctx.sender.sendRequest(this.request, this.target).catch((err: Error) => {
      if (this.isTerminated) return;
      this.terminate();
      this.user.onTransportError(err);
    });
  }
}

/** Base of the server machines: sends responses back along the request's path. */
export abstract class ServerTransactionBase<S extends string> extends TransactionBase<S> {
  /** Set by the transaction user to receive timeouts, errors and CANCEL. */
  user: ServerTransactionUser = {};

  protected constructor(
    kind: string,
    key: string,
    initial: S,
    allowed: Record<S, readonly S[]>,
    terminated: S,
    ctx: TransactionContext,
    readonly request: SipRequest,
    readonly source: Source,
  ) {
    super(kind, key, initial, allowed, terminated, ctx, source.transport);
  }

  protected send(res: SipResponse): void {
    this.ctx.sender.sendResponse(res, this.source).catch((err: Error) => {
      if (this.isTerminated) return;
      this.user.onTransportError?.(err);
      this.terminate();
    });
  }
}
