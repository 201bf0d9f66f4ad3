/**
 * Call quality from the browser's own measurements (W3C webrtc-stats): every few seconds the
 * call's `getStats()` becomes a {@link QualitySample} — round trip, jitter and loss of the media
 * path, the E-model MOS (ITU-T G.107, see `@switchboard/protocol`), the codec, the microphone's
 * level — and warnings start when a figure crosses its threshold and clear when it has been back
 * for two samples in a row (so a warning does not flicker on a borderline line).
 */
import { estimateMos } from '@switchboard/protocol';

/** A warning about the call's quality. */
export type QualityWarning = 'high-rtt' | 'high-jitter' | 'high-loss' | 'low-mos' | 'mic-silent';

/** One quality measurement of a call (the `quality` event of a Call). */
export interface QualitySample {
  /** E-model mean opinion score, 1 (bad) to 4.5 (best G.711 can do). */
  mos: number;
  /** Round-trip time of the media path (ms): from RTCP, else from ICE consent checks. */
  rttMs: number;
  /** Jitter of the audio this agent receives (ms). */
  jitterMs: number;
  /** Packets lost in the last interval, percent: the worse of what this agent received and what the far end reports. */
  lossPct: number;
  /** The audio codec, e.g. `PCMU`. */
  codec: string;
  /** The microphone's level, 0–1 (the browser's `audioLevel`), when known. */
  micLevel?: number;
  /** Warnings in force after this sample. */
  warnings: QualityWarning[];
}

/** When each warning starts (see {@link QualitySample}). */
export interface QualityThresholds {
  /** `high-rtt` above this round trip (ms; default 400). */
  rttMs: number;
  /** `high-jitter` above this jitter (ms; default 30). */
  jitterMs: number;
  /** `high-loss` above this loss (percent; default 5). */
  lossPct: number;
  /** `low-mos` below this MOS (default 3.5). */
  mos: number;
  /** `mic-silent` after this many seconds of a silent, unmuted microphone (default 5). */
  micSilentSeconds: number;
}

/** Quality monitoring options (`SoftphoneOptions.quality`). */
export interface QualityOptions {
  /** How often to sample (ms; default 2000; 0 turns monitoring off). */
  intervalMs?: number;
  /** Warning thresholds; each one defaults as documented in {@link QualityThresholds}. */
  thresholds?: Partial<QualityThresholds>;
}

/** Defaults of {@link QualityThresholds}. */
export const DEFAULT_THRESHOLDS: QualityThresholds = { rttMs: 400, jitterMs: 30, lossPct: 5, mos: 3.5, micSilentSeconds: 5 };

/** Below this `audioLevel` (≈ −66 dBFS) a microphone counts as silent. */
const SILENT_LEVEL = 0.0005;

interface Counters {
  received: number;
  lost: number;
}

/**
 * Turns successive stats reports into samples and keeps the warnings.
 * @internal Used by Call; exported for the unit tests.
 */
export class QualityTracker {
  private prev?: Counters;
  private active = new Set<QualityWarning>();
  private goodRuns = new Map<QualityWarning, number>();
  private silentSince?: number;
  private lastRttMs = 0;
  readonly thresholds: QualityThresholds;

  constructor(thresholds: Partial<QualityThresholds> = {}) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  }

  /**
   * One stats report → a sample, and the warnings that started and cleared with it. `now` is
   * in ms; `muted` exempts the microphone from `mic-silent`.
   */
  update(report: RTCStatsReport | Map<string, Record<string, unknown>>, now: number, muted: boolean): { sample: QualitySample; started: QualityWarning[]; cleared: QualityWarning[] } | undefined {
    let inbound: Record<string, unknown> | undefined;
    let remote: Record<string, unknown> | undefined;
    let pair: Record<string, unknown> | undefined;
    let source: Record<string, unknown> | undefined;
    const codecs = new Map<string, string>();
    (report as Map<string, Record<string, unknown>>).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
      else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') remote = s;
      else if (s.type === 'candidate-pair' && s.state === 'succeeded' && (s.nominated || s.selected)) pair = s;
      else if (s.type === 'media-source' && s.kind === 'audio') source = s;
      else if (s.type === 'codec' && typeof s.mimeType === 'string') codecs.set(String(s.id), s.mimeType);
    });
    if (!inbound) return undefined;
    const num = (o: Record<string, unknown> | undefined, k: string) => (o && typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined);

    // Loss in this interval (counters since the previous sample); the far end's view of ours.
    const now_: Counters = { received: num(inbound, 'packetsReceived') ?? 0, lost: Math.max(0, num(inbound, 'packetsLost') ?? 0) };
    const dRecv = this.prev ? now_.received - this.prev.received : 0;
    const dLost = this.prev ? now_.lost - this.prev.lost : 0;
    this.prev = now_;
    const inLoss = dRecv + dLost > 0 ? (Math.max(0, dLost) / (dRecv + Math.max(0, dLost))) * 100 : 0;
    const outLoss = (num(remote, 'fractionLost') ?? 0) * 100;
    const lossPct = Math.round(Math.max(inLoss, outLoss) * 10) / 10;
    const rttS = num(remote, 'roundTripTime') ?? num(pair, 'currentRoundTripTime');
    if (rttS !== undefined) this.lastRttMs = rttS * 1000;
    const rttMs = Math.round(this.lastRttMs);
    const jitterMs = Math.round((num(inbound, 'jitter') ?? 0) * 10000) / 10;
    const mos = estimateMos({ rttMs, jitterMs, lossPct });
    const codec = (codecs.get(String(inbound.codecId)) ?? '').replace(/^audio\//i, '');
    const micLevel = num(source, 'audioLevel');

    if (micLevel === undefined || micLevel >= SILENT_LEVEL || muted) this.silentSince = undefined;
    else this.silentSince ??= now;
    const t = this.thresholds;
    const bad: Record<QualityWarning, boolean> = {
      'high-rtt': rttMs > t.rttMs,
      'high-jitter': jitterMs > t.jitterMs,
      'high-loss': lossPct > t.lossPct,
      'low-mos': mos < t.mos,
      'mic-silent': this.silentSince !== undefined && now - this.silentSince >= t.micSilentSeconds * 1000,
    };
    const started: QualityWarning[] = [];
    const cleared: QualityWarning[] = [];
    for (const w of Object.keys(bad) as QualityWarning[]) {
      if (bad[w]) {
        this.goodRuns.set(w, 0);
        if (!this.active.has(w)) (this.active.add(w), started.push(w));
      } else if (this.active.has(w)) {
        const runs = (this.goodRuns.get(w) ?? 0) + 1;
        this.goodRuns.set(w, runs);
        if (runs >= 2 || w === 'mic-silent') (this.active.delete(w), cleared.push(w));
      }
    }
    const sample: QualitySample = { mos, rttMs, jitterMs, lossPct, codec, ...(micLevel !== undefined ? { micLevel } : {}), warnings: [...this.active] };
    return { sample, started, cleared };
  }
}
