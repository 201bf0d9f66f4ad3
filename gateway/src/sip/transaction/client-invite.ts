/**
 * INVITE client transaction — RFC 3261 §17.1.1, with RFC 6026 §7.2's Accepted state.
 *
 * ```
 *                  |INVITE sent, Timer A (unreliable), Timer B
 *                  v
 *   Timer B /   Calling ---1xx---> Proceeding
 *   transport err  |  \              |   \--1xx--> (to TU)
 *     (Terminated) |   300-699      2xx    300-699: send ACK
 *                  2xx    \          |       |
 *                  v       v         v       v
 *              Accepted  Completed <-------- (Timer D; resend ACK on retransmitted final)
 *              (Timer M)     | Timer D
 *                  |         v
 *                  +---> Terminated
 * ```
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { Target } from '../transport/types.js';
import { ClientTransactionBase } from './base.js';
import type { ClientTransactionUser, TransactionContext } from './types.js';

/** States of an INVITE client transaction. */
export enum InviteClientState {
  Calling = 'Calling',
  Proceeding = 'Proceeding',
  Accepted = 'Accepted',
  Completed = 'Completed',
  Terminated = 'Terminated',
}

const S = InviteClientState;
const ALLOWED: Record<InviteClientState, readonly InviteClientState[]> = {
  [S.Calling]: [S.Proceeding, S.Accepted, S.Completed, S.Terminated],
  [S.Proceeding]: [S.Accepted, S.Completed, S.Terminated],
  [S.Accepted]: [S.Terminated],
  [S.Completed]: [S.Terminated],
  [S.Terminated]: [],
};

/** An INVITE client transaction. */
export class InviteClientTransaction extends ClientTransactionBase<InviteClientState> {
  private ack?: SipRequest;

  constructor(key: string, request: SipRequest, target: Target, ctx: TransactionContext, user: ClientTransactionUser) {
    super('ict', key, S.Calling, ALLOWED, S.Terminated, ctx, request, target, user);
  }

  /** Sends the INVITE and starts Timers A and B (§17.1.1.2). */
  start(): void {
    this.send();
    const { T1 } = this.ctx.timers;
    if (!this.reliable) this.scheduleA(T1);
    this.timers.start('B', 64 * T1, () => {
      if (this.state === S.Calling) {
        this.terminate();
        this.user.onTimeout();
      }
    });
  }

  private scheduleA(interval: number): void {
    this.timers.start('A', interval, () => {
      if (this.state !== S.Calling) return;
      this.send();
      this.scheduleA(interval * 2);
    });
  }

  /** A response matched to this transaction (§17.1.3). */
  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case S.Calling:
      case S.Proceeding:
        if (status < 200) {
          this.timers.stop('A');
          if (this.state === S.Calling) this.setState(S.Proceeding);
          this.user.onResponse(res);
        } else if (status < 300) {
          // RFC 6026 §7.2: Accepted absorbs 2xx retransmissions (passed to the TU, which ACKs).
          this.timers.stop('A');
          this.timers.stop('B');
          this.setState(S.Accepted);
          this.timers.start('M', 64 * this.ctx.timers.T1, () => this.terminate());
          this.user.onResponse(res);
        } else {
          this.timers.stop('A');
          this.timers.stop('B');
          this.setState(S.Completed);
          this.sendAck(res);
          this.timers.start('D', this.reliable ? 0 : 32_000, () => this.terminate());
          this.user.onResponse(res);
        }
        break;
      case S.Accepted:
        if (status >= 200 && status < 300) this.user.onResponse(res);
        break;
      case S.Completed:
        // §17.1.1.2: a retransmitted final response is answered with the same ACK, not passed up.
        if (status >= 300 && this.ack) this.ctx.sender.sendRequest(this.ack, this.target).catch(() => undefined);
        break;
      case S.Terminated:
        break;
    }
  }

  /**
   * §17.1.1.3: the ACK for a non-2xx final response has the INVITE's Request-URI, Call-ID,
   * From, CSeq number, top Via and Route, and the response's To (with its tag).
   */
  private sendAck(res: SipResponse): void {
    const inv = this.request;
    const ack = new (inv.constructor as typeof SipRequest)('ACK', inv.uri);
    ack.add('via', inv.get('via')!);
    for (const r of inv.getAll('route')) ack.add('route', r);
    ack.add('max-forwards', 70);
    ack.add('from', inv.get('from')!);
    ack.add('to', res.get('to')!);
    ack.add('call-id', inv.callId);
    ack.add('cseq', `${inv.cseq.seq} ACK`);
    this.ack = ack;
    this.ctx.sender.sendRequest(ack, this.target).catch(() => undefined);
  }
}
