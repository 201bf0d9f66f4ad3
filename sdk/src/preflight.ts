/**
 * The line check before a shift (`phone.preflight()`): a short call to the gateway's echo test,
 * sampled like any call's quality, summed up in one report — or a clear error saying what failed
 * (the gateway unreachable, the microphone refused, the call not connected, no audio back).
 */
import type { Call } from './call.js';
import { SwitchboardError } from './errors.js';
import type { QualitySample } from './quality.js';

/** What `phone.preflight()` found. */
export interface PreflightReport {
  /** Median round-trip time of the media path, ms. */
  rttMs: number;
  /** Worst jitter seen, ms. */
  jitterMs: number;
  /** Worst loss over a sample interval, percent. */
  lossPct: number;
  /** Lowest MOS (E-model) over the samples. */
  mos: number;
  /** The codec negotiated. */
  codec: string;
  /** The microphone's highest level, 0–1 (0: it sent silence), when the browser reports it. */
  micLevel?: number;
  /** The output device call audio plays on ('' = the default). */
  outputDeviceId: string;
  /** How long the echo call took to connect, ms. */
  connectMs: number;
  /** The samples taken (one per quality interval). */
  samples: number;
}

/** How `phone.preflight()` runs. */
export interface PreflightOptions {
  /** The echo extension (default `600`). */
  echo?: string;
  /** How long to sample, seconds (default 6, at least 2). */
  seconds?: number;
}

/** Runs the echo call on `dial` and reports; always hangs up. */
export async function runPreflight(dial: (target: string) => Promise<Call>, outputDeviceId: string, opts: PreflightOptions = {}): Promise<PreflightReport> {
  const seconds = Math.max(2, opts.seconds ?? 6);
  const t0 = Date.now();
  const call = await dial(opts.echo ?? '600');
  try {
    await new Promise<void>((resolve, reject) => {
      if (call.state === 'connected') return resolve();
      const timer = setTimeout(() => reject(new SwitchboardError('SB_CALL_FAILED', 'The echo test did not connect within 10 s')), 10_000);
      call.on('stateChanged', (s) => {
        if (s === 'connected') {
          clearTimeout(timer);
          resolve();
        }
      });
      call.on('ended', (info) => {
        clearTimeout(timer);
        reject(info.error ?? new SwitchboardError('SB_CALL_FAILED', 'The echo test ended before it connected'));
      });
    });
    const connectMs = Date.now() - t0;
    const samples: QualitySample[] = [];
    call.on('quality', (q) => samples.push(q));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    if (!samples.length) throw new SwitchboardError('SB_MEDIA_FAILED', 'The echo test gave no statistics (no audio path)');
    const rtts = samples.map((s) => s.rttMs).sort((a, b) => a - b);
    const mics = samples.map((s) => s.micLevel).filter((m): m is number => m !== undefined);
    return {
      rttMs: rtts[Math.floor(rtts.length / 2)]!,
      jitterMs: Math.max(...samples.map((s) => s.jitterMs)),
      lossPct: Math.max(...samples.map((s) => s.lossPct)),
      mos: Math.min(...samples.map((s) => s.mos)),
      codec: samples.at(-1)!.codec,
      ...(mics.length ? { micLevel: Math.max(...mics) } : {}),
      outputDeviceId,
      connectMs,
      samples: samples.length,
    };
  } finally {
    await call.hangup().catch(() => undefined);
  }
}
