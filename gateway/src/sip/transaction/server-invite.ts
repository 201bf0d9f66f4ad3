/**
 * INVITE server transaction — RFC 3261 §17.2.1, with RFC 6026 §7.1's Accepted state.
 *
 * ```
 *            INVITE received (100 Trying sent if the TU is silent for 200 ms)
 *                  v
 *              Proceeding --1xx from TU--> (send; resend on INVITE retransmission)
 *              |        \
 *   2xx from TU|         \300-699 from TU: Timer G (unreliable), Timer H
 *              v          v
 *          Accepted     Completed --ACK--> Confirmed --Timer I--> Terminated
 *          (Timer L)      | Timer H (no ACK)
 *              v          v
 *          Terminated   Terminated
 * ```
 *
 * Deliberate placement: the 2xx retransmissions that RFC 3261 §13.3.1.4 gives the UAS core
 * (T1 doubling to T2 until the ACK, give up after 64·T1) run here, in the Accepted state, and
 * stop when the dialog layer calls {@link InviteServerTransaction.ackReceived}. The wire
 * behaviour is the RFC's; keeping it here keeps one owner for every retransmission timer.
 */
import type { SipRequest, SipResponse } from '../message.js';
import { createResponse } from '../message.js';
import type { Source } from '../transport/types.js';
import { ServerTransactionBase } from './base.js';
import type { TransactionContext } from './types.js';
export type { ServerTransactionUser } from './types.js';

/** States of an INVITE server transaction. */
export enum InviteServerState {
  Proceeding = 'Proceeding',
  Accepted = 'Accepted',
  Completed = 'Completed',
  Confirmed = 'Confirmed',
  Terminated = 'Terminated',
}


const S = InviteServerState;
const ALLOWED: Record<InviteServerState, readonly InviteServerState[]> = {
  [S.Proceeding]: [S.Accepted, S.Completed, S.Terminated],
  [S.Accepted]: [S.Terminated],
  [S.Completed]: [S.Confirmed, S.Terminated],
  [S.Confirmed]: [S.Terminated],
  [S.Terminated]: [],
};

/** An INVITE server transaction. */
export class InviteServerTransaction extends ServerTransactionBase<InviteServerState> {
  private last?: SipResponse;
  private acked = false;

  constructor(key: string, request: SipRequest, source: Source, ctx: TransactionContext) {
    super('ist', key, S.Proceeding, ALLOWED, S.Terminated, ctx, request, source);
    // §17.2.1: send 100 Trying unless the TU answers within 200 ms.
    this.timers.start('trying', 200, () => {
      if (this.state === S.Proceeding && !this.last) this.respond(createResponse(request, 100));
    });
  }

  /** A retransmission of the INVITE, or the ACK for a non-2xx final response. */
  receiveRequest(req: SipRequest): void {
    if (req.method === 'ACK') {
      if (this.state === S.Completed) {
        this.timers.stop('G');
        this.timers.stop('H');
        this.setState(S.Confirmed);
        this.timers.start('I', this.reliable ? 0 : this.ctx.timers.T4, () => this.terminate());
      }
      return;
    }
    // Retransmitted INVITE: resend the last provisional (Proceeding) or final (Completed).
    if ((this.state === S.Proceeding || this.state === S.Completed) && this.last) this.send(this.last);
  }

  /** Sends a response from the TU and drives the state machine. */
  respond(res: SipResponse): void {
    if (this.state !== S.Proceeding) return;
    this.last = res;
    this.send(res);
    if (res.status < 200) return;
    this.timers.stop('trying');
    const { T1, T2 } = this.ctx.timers;
    if (res.status < 300) {
      this.setState(S.Accepted);
      this.timers.start('L', 64 * T1, () => {
        if (!this.acked) this.user.onAckTimeout?.();
        this.terminate();
      });
      const retransmit = (interval: number): void => {
        this.timers.start('2xx', interval, () => {
          if (this.acked || this.state !== S.Accepted) return;
          this.send(res);
          retransmit(Math.min(interval * 2, T2));
        });
      };
      retransmit(T1);
    } else {
      this.setState(S.Completed);
      if (!this.reliable) {
        const scheduleG = (interval: number): void => {
          this.timers.start('G', interval, () => {
            if (this.state !== S.Completed) return;
            this.send(res);
            scheduleG(Math.min(interval * 2, T2));
          });
        };
        scheduleG(T1);
      }
      this.timers.start('H', 64 * T1, () => {
        this.user.onAckTimeout?.();
        this.terminate();
      });
    }
  }

  /** The dialog layer matched the ACK for our 2xx: stop retransmitting it. */
  ackReceived(): void {
    this.acked = true;
    this.timers.stop('2xx');
  }

  /** True once a final response was sent. */
  get answered(): boolean {
    return this.state !== S.Proceeding;
  }
}
