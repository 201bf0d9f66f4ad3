/**
 * Every party's line as the gateway hears it: every few seconds the media engine's receiver
 * counters for each leg (RFC 3550: received, expected, interarrival jitter) become a sample —
 * loss over the interval, jitter, and the E-model MOS (ITU-T G.107, simplified; round trip not
 * known here, so taken as 0: a lower bound on the impairment). The leg keeps its last sample
 * (supervisors see it live, `/api/calls`), and its record keeps the average and worst over the
 * call — which home agent was on a bad line, after the fact. Media relayed without the gateway
 * seeing it (rtpengine's direct mode) is read from the far end's RTCP reports instead: one
 * sample per report, with the reported round trip.
 */
import { estimateMos } from '@switchboard/protocol';
import type { MediaEngine, ReceiveCounters } from '../media/types.js';
import type { Call, Leg, LegQualitySample } from './call.js';

/** Watches the legs of the calls in progress. */
export class QualityMonitor {
  private timer?: ReturnType<typeof setInterval>;
  /** Last counters per endpoint (the next sample is the difference). */
  private readonly last = new Map<string, ReceiveCounters>();
  /** When the last far-end report used per endpoint arrived (direct media: one sample per report). */
  private readonly lastReport = new Map<string, number>();
  private running = false;

  constructor(
    private readonly media: MediaEngine,
    private readonly calls: () => Iterable<Call>,
    private readonly intervalMs: number,
  ) {}

  /** Starts sampling (0: never). */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sample().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: every joined leg with an endpoint. */
  async sample(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const legs: Array<{ call: Call; leg: Leg; ep: string }> = [];
      for (const call of this.calls()) for (const leg of call.parties) if (leg.joined && leg.endpointId && !leg.holding) legs.push({ call, leg, ep: leg.endpointId });
      const got = legs.length ? await this.media.receiveStats(legs.map((l) => l.ep)) : {};
      const now = Date.now();
      for (const { call, leg, ep } of legs) {
        const c = got[ep];
        if (!c) continue;
        let sample: LegQualitySample;
        if ('reportedAt' in c) {
          // Relayed without the gateway seeing it: the far end's latest RTCP report, once each.
          this.last.delete(ep);
          if (this.lastReport.get(ep) === c.reportedAt) continue;
          this.lastReport.set(ep, c.reportedAt);
          sample = { mos: estimateMos({ rttMs: c.rttMs, jitterMs: c.jitterMs, lossPct: c.lossPct }), jitterMs: Math.round(c.jitterMs * 10) / 10, lossPct: Math.round(c.lossPct * 10) / 10, at: now };
        } else {
          this.lastReport.delete(ep);
          const prev = this.last.get(ep);
          this.last.set(ep, c);
          if (!prev || c.expected < prev.expected) continue; // the first look, or a restarted stream
          const expected = c.expected - prev.expected;
          if (expected <= 0) continue;
          const lossPct = Math.max(0, Math.min(100, ((expected - (c.received - prev.received)) / expected) * 100));
          sample = { mos: estimateMos({ rttMs: 0, jitterMs: c.jitterMs, lossPct }), jitterMs: Math.round(c.jitterMs * 10) / 10, lossPct: Math.round(lossPct * 10) / 10, at: now };
        }
        leg.quality = sample;
        const rec = [...call.partyLog].reverse().find((r) => r.id === leg.id);
        if (rec) {
          const q = rec.quality;
          const n = (q?.samples ?? 0) + 1;
          rec.quality = {
            avgMos: Math.round((((q?.avgMos ?? 0) * (n - 1) + sample.mos) / n) * 100) / 100,
            worstMos: Math.min(q?.worstMos ?? 5, sample.mos),
            worstLossPct: Math.max(q?.worstLossPct ?? 0, sample.lossPct),
            maxJitterMs: Math.max(q?.maxJitterMs ?? 0, sample.jitterMs),
            samples: n,
          };
        }
      }
      // Endpoints gone (or on hold) start afresh when they come back.
      const current = new Set(legs.map((l) => l.ep));
      for (const ep of [...this.last.keys()]) if (!current.has(ep)) this.last.delete(ep);
      for (const ep of [...this.lastReport.keys()]) if (!current.has(ep)) this.lastReport.delete(ep);
    } finally {
      this.running = false;
    }
  }
}
