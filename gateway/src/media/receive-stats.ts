/**
 * What one party's RTP stream looks like on arrival at the gateway (RFC 3550 §6.4.1, A.1, A.3,
 * A.8): packets received and expected (from the extended highest sequence number), so lost, and
 * the interarrival jitter — the figures an RTCP receiver report carries, kept per endpoint by the
 * media engine at a few arithmetic operations per packet. The B2BUA turns them into a leg's
 * quality (loss over an interval, jitter, E-model MOS) for supervisors and call records.
 */

/**
 * A stream's quality as its receiver reported it in RTCP (RFC 3550 §6.4.2), for media the
 * gateway relays without seeing (rtpengine's direct mode): the latest report's loss fraction,
 * jitter and round trip.
 */
export interface ReportedQuality {
  /** When the report arrived (epoch ms); a sample is taken once per report. */
  reportedAt: number;
  lossPct: number;
  jitterMs: number;
  rttMs: number;
}

/** A snapshot of one stream's counters. */
export interface ReceiveCounters {
  /** Packets received. */
  received: number;
  /** Packets expected: extended highest sequence number − first + 1. */
  expected: number;
  /** Interarrival jitter, ms (RFC 3550 A.8, in timestamp units converted at the clock rate). */
  jitterMs: number;
}

const RTP_SEQ_MOD = 1 << 16;
/** A jump larger than this is a restart of the sequence (a new source), not loss (RFC 3550 A.1 MAX_DROPOUT). */
const MAX_DROPOUT = 3000;

/** Counters for one stream. */
export class ReceiveStats {
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  private transit = 0;
  private jitter = 0;

  /** @param clockRate RTP clock of the audio (8000 for G.711). */
  constructor(private readonly clockRate = 8000) {}

  /** One RTP packet (header at least 12 bytes) arrived at `arrivalMs` (performance.now()). */
  update(packet: Buffer, arrivalMs: number): void {
    const seq = packet.readUInt16BE(2);
    const ts = packet.readUInt32BE(4);
    if (!this.started) {
      this.started = true;
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.cycles = 0;
    } else {
      const delta = (seq - this.maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
      if (delta > 0 && delta < MAX_DROPOUT) {
        if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD; // wrapped
        this.maxSeq = seq;
      } else if (delta >= MAX_DROPOUT && delta <= RTP_SEQ_MOD - 100) {
        // A big jump: the peer restarted its sequence (re-INVITE, another source). Start again.
        this.baseSeq = seq;
        this.maxSeq = seq;
        this.cycles = 0;
        this.received = 0;
      }
      // else: a duplicate or a late packet (counted as received, not advancing).
    }
    this.received++;
    // A.8: D(i-1, i) = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16, in timestamp units.
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - ts;
    if (this.received > 1) {
      let d = transit - this.transit;
      // The RTP timestamp wraps at 2^32: keep the difference in range.
      if (d > 2 ** 31) d -= 2 ** 32;
      else if (d < -(2 ** 31)) d += 2 ** 32;
      this.jitter += (Math.abs(d) - this.jitter) / 16;
    }
    this.transit = transit;
  }

  /** The counters now. */
  snapshot(): ReceiveCounters {
    const expected = this.started ? this.cycles + this.maxSeq - this.baseSeq + 1 : 0;
    return { received: this.received, expected, jitterMs: (this.jitter / this.clockRate) * 1000 };
  }
}
