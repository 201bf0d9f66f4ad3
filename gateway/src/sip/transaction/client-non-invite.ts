/**
 * Non-INVITE client transaction — RFC 3261 §17.1.2.
 *
 * ```
 *        request sent: Timer E (unreliable), Timer F
 *                  v
 *   Timer F /    Trying ---1xx---> Proceeding   (Timer E keeps firing, at T2)
 *   transport err  | 200-699          | 200-699
 *                  v                  v
 *                Completed <----------+   Timer K (T4 unreliable, 0 reliable)
 *                  v
 *              Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Target } from '../transport/types.js';
import { ClientTransactionBase } from './base.js';
import type { ClientTransactionUser, TransactionContext } from './types.js';

/** States of a non-INVITE client transaction. */
export enum NonInviteClientState {
  Trying = 'Trying',
  Proceeding = 'Proceeding',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

const S = NonInviteClientState;
const ALLOWED: Record<NonInviteClientState, readonly NonInviteClientState[]> = {
  [S.Trying]: [S.Proceeding, S.Completed, S.Terminated],
  [S.Proceeding]: [S.Completed, S.Terminated],
  [S.Completed]: [S.Terminated],
  [S.Terminated]: [],
};

/** A non-INVITE client transaction. */
export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientState> {
  constructor(key: string, request: SipRequest, target: Target, ctx: TransactionContext, user: ClientTransactionUser) {
    super('nict', key, S.Trying, ALLOWED, S.Terminated, ctx, request, target, user);
  }

  /** Sends the request, starting Timer E (unreliable only) and Timer F. */
  start(): void {
    this.send();
    const { T1 } = this.ctx.timers;
    if (!this.reliable) this.scheduleE(T1);
    this.timers.start('F', 64 * T1, () => {
      if (this.state === S.Trying || this.state === S.Proceeding) {
        this.terminate();
        this.user.onTimeout();
      }
    });
  }

  /** §17.1.2.2: E doubles up to T2 in Trying; in Proceeding it fires every T2. */
  private scheduleE(interval: number): void {
    this.timers.start('E', interval, () => {
      if (this.state !== S.Trying && this.state !== S.Proceeding) return;
      this.send();
      const { T2 } = this.ctx.timers;
      this.scheduleE(this.state === S.Proceeding ? T2 : Math.min(interval * 2, T2));
    });
  }

  receiveResponse(res: SipResponse): void {
    if (this.state !== S.Trying && this.state !== S.Proceeding) return; // Completed absorbs retransmissions.
    if (res.status < 200) {
      if (this.state === S.Trying) this.setState(S.Proceeding);
      this.user.onResponse(res);
      return;
    }
    this.timers.stop('E');
    this.timers.stop('F');
    this.setState(S.Completed);
    this.timers.start('K', this.reliable ? 0 : this.ctx.timers.T4, () => this.terminate());
    this.user.onResponse(res);
  }
}
