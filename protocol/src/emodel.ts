/**
 * Call quality as a listener would rate it: a mean opinion score from the ITU-T G.107 E-model,
 * simplified the usual way for VoIP monitoring (defaults for everything but delay and loss):
 *
 * - R = R0 − Is − Id − Ie,eff with R0 − Is = 93.2 (G.107 defaults);
 * - Id, the delay impairment, from the one-way mouth-to-ear delay d (ms), Cole & Rosenbluth's
 *   fit of G.107: Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3);
 * - Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl) (G.107 §7.4), G.711 with packet-loss
 *   concealment: Ie = 0, Bpl = 25.1 (G.113 Appendix I), random loss (BurstR = 1);
 * - MOS = 1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶ for 0 < R < 100 (G.107 Annex B).
 *
 * The one-way delay is estimated from what a WebRTC stack measures: half the round trip, plus a
 * jitter buffer of about twice the jitter, plus G.711's 20 ms packetisation.
 * @packageDocumentation
 */

/** Inputs of {@link estimateMos}. */
export interface QualityInputs {
  /** Round-trip time of the media path (ms). */
  rttMs: number;
  /** Interarrival jitter (RFC 3550 §6.4.1), ms. */
  jitterMs: number;
  /** Packets lost, percent (0–100). */
  lossPct: number;
}

/** The E-model's rating factor R (0–100) for a G.711 call. */
export function rFactor({ rttMs, jitterMs, lossPct }: QualityInputs): number {
  const d = Math.max(0, rttMs) / 2 + 2 * Math.max(0, jitterMs) + 20;
  const id = 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
  const ppl = Math.min(100, Math.max(0, lossPct));
  const ie = (95 * ppl) / (ppl + 25.1);
  return Math.min(100, Math.max(0, 93.2 - id - ie));
}

/** Mean opinion score (1–4.5) from an R factor (G.107 Annex B). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

/** The E-model MOS of a G.711 call with this delay, jitter and loss (rounded to 2 decimals). */
export function estimateMos(q: QualityInputs): number {
  return Math.round(mosFromR(rFactor(q)) * 100) / 100;
}
