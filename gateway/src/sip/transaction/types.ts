/**
 * Shared pieces of the four RFC 3261 §17 transaction state machines.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import { log } from '../../util/log.js';
import type { MessageSender } from '../transport/types.js';

/** RFC 3261 §17.1.1.1 timer values (milliseconds). */
export interface TimerValues {
  /** RTT estimate, default 500 ms. */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Maximum duration a message remains in the network, default 5 s. */
  T4: number;
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** What a transaction needs from its environment. */
export interface TransactionContext {
  sender: MessageSender;
  clock: Clock;
  timers: TimerValues;
  /** Called once when the transaction reaches Terminated, so the layer can forget it. */
  onTerminated(tx: { readonly key: string }): void;
}

/** Events a client transaction reports to its transaction user (RFC 3261 §17.1). */
export interface ClientTransactionUser {
  /** A provisional or final response (2xx retransmissions included for INVITE in Accepted). */
  onResponse(res: SipResponse): void;
  /** Timer B or F fired: treat as 408 Request Timeout (§8.1.3.1). */
  onTimeout(): void;
  /** The transport could not deliver the request (§8.1.3.1: treat as 503). */
  onTransportError(err: Error): void;
}

import type { SipRequest, SipResponse } from '../message.js';

/** What a server transaction reports to its transaction user. */
export interface ServerTransactionUser {
  /** No ACK arrived for a final response (Timer H, or the 2xx retransmission gave up). */
  onAckTimeout?(): void;
  /** A response could not be sent. */
  onTransportError?(err: Error): void;
  /** A CANCEL matched this transaction while it was still Proceeding (§9.2). */
  onCancel?(cancel: SipRequest): void;
}

/**
 * Named timers with one guarded cancel-all; every transaction keeps its timers here so that
 * termination cannot leave one running.
 */
export class TimerSet {
  private handles = new Map<string, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  start(name: string, ms: number, fn: () => void): void {
    this.stop(name);
    this.handles.set(
      name,
      this.clock.setTimeout(() => {
        this.handles.delete(name);
        fn();
      }, ms),
    );
  }

  stop(name: string): void {
    const h = this.handles.get(name);
    if (h) this.clock.clearTimeout(h);
    this.handles.delete(name);
  }

  has(name: string): boolean {
    return this.handles.has(name);
  }

  stopAll(): void {
    for (const h of this.handles.values()) this.clock.clearTimeout(h);
    this.handles.clear();
  }
}

/**
 * Guarded state change shared by all machines: rejects moves not in `allowed`, logs old → new.
 * Returns false (and changes nothing) for an invalid move.
 */
export function transition<S extends string>(
  kind: string,
  key: string,
  from: S,
  to: S,
  allowed: Record<S, readonly S[]>,
): boolean {
  if (!allowed[from].includes(to)) {
    log.warn('sip.tx', `${kind} ${key}: invalid transition ${from} -> ${to}`);
    return false;
  }
  log.debug('sip.tx', `${kind} ${key}: ${from} -> ${to}`);
  return true;
}
