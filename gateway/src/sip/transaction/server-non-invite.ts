/**
 * Non-INVITE server transaction — RFC 3261 §17.2.2.
 *
 * ```
 *      request received
 *            v
 *         Trying --1xx from TU--> Proceeding (resend 1xx on retransmission)
 *            |                      |
 *            | 200-699 from TU      | 200-699 from TU
 *            v                      v
 *         Completed  (resend final on retransmission; Timer J: 64·T1 unreliable, 0 reliable)
 *            v
 *         Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Source } from '../transport/types.js';
import { ServerTransactionBase } from './base.js';
import type { TransactionContext } from './types.js';

/** States of a non-INVITE server transaction. */
export enum NonInviteServerState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

const S = NonInviteServerState;
const ALLOWED: Record<NonInviteServerState, readonly NonInviteServerState[]> = {
  [S.Trying]: [S.Proceeding, S.Completed, S.Terminated],
  [S.Proceeding]: [S.Completed, S.Terminated],
  [S.Completed]: [S.Terminated],
  [S.Terminated]: [],
};

/** A non-INVITE server transaction. */
export class NonInviteServerTransaction extends ServerTransactionBase<NonInviteServerState> {
  private last?: SipResponse;

  constructor(key: string, request: SipRequest, source: Source, ctx: TransactionContext) {
    super('nist', key, S.Trying, ALLOWED, S.Terminated, ctx, request, source);
  }

  /** A retransmission of the request. */
  receiveRequest(_req: SipRequest): void {
    if ((this.state === S.Proceeding || this.state === S.Completed) && this.last) this.send(this.last);
  }

  respond(res: SipResponse): void {
    if (this.state === S.Completed || this.state === S.Terminated) return;
    this.last = res;
    this.send(res);
    if (res.status < 200) {
      if (this.state === S.Trying) this.setState(S.Proceeding);
      return;
    }
    this.setState(S.Completed);
    this.timers.start('J', this.reliable ? 0 : 64 * this.ctx.timers.T1, () => this.terminate());
  }

  get answered(): boolean {
    return this.state === S.Completed || this.state === S.Terminated;
  }
}
