/**
 * Chromium (Debian's, via playwright-core) with a fake microphone playing a tone, and helpers
 * that drive the demo page the way a person would and measure what they would hear.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { writeToneWav } from './audio.js';

export const WORK = path.resolve(import.meta.dirname, '..', '.work');
mkdirSync(WORK, { recursive: true });

export interface Agent {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Launches Chromium whose microphone plays a sine at `toneHz`, and opens `url`. */
export async function launchAgent(url: string, toneHz: number, extraArgs: string[] = []): Promise<Agent> {
  const wav = path.join(WORK, `tone-${toneHz}.wav`);
  writeToneWav(wav, toneHz, 30);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
      ...extraArgs,
    ],
  });
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error(`[page ${toneHz}Hz] ${err.message}`));
  await page.goto(url);
  return { browser, page, close: () => browser.close() };
}

/** Logs in through the demo's form and waits until it shows "Online". */
export async function loginDemo(page: Page, username: string, password: string): Promise<void> {
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('login').click();
  await page.getByTestId('status').filter({ hasText: 'Online' }).waitFor({ timeout: 10_000 });
}

/**
 * Listens to the current call's remote audio for `ms` with a WebAudio analyser, as a person's
 * ear would: returns the dominant frequency and the RMS level in dBFS.
 */
export async function measureRemoteAudio(page: Page, ms = 1500, which: 'call' | 'consult' = 'call'): Promise<{ frequency: number; levelDb: number }> {
  return measureStreamAudio(page, which === 'consult' ? 'window.demo.consult?.remoteStream' : 'window.demo.call?.remoteStream', ms);
}

/** Like {@link measureRemoteAudio} for any stream: `streamExpr` is evaluated in the page (e.g. `window.sb.remoteStream`). */
export async function measureStreamAudio(page: Page, streamExpr: string, ms = 1500): Promise<{ frequency: number; levelDb: number }> {
  return page.evaluate(async ([duration, expr]) => {
    // eslint-disable-next-line no-eval
    const stream = (0, eval)(expr) as MediaStream | undefined;
    if (!stream?.getAudioTracks().length) throw new Error('no remote audio track');
    const ctx = new AudioContext();
    await ctx.resume();
    const src = ctx.createMediaStreamSource(stream);
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    src.connect(an);
    const freq = new Float32Array(an.frequencyBinCount);
    const time = new Float32Array(an.fftSize);
    const sums = new Float32Array(an.frequencyBinCount);
    let energy = 0;
    let frames = 0;
    const end = performance.now() + duration;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(freq);
      for (let i = 0; i < freq.length; i++) sums[i]! += Math.pow(10, freq[i]! / 10);
      an.getFloatTimeDomainData(time);
      let e = 0;
      for (const v of time) e += v * v;
      energy += e / time.length;
      frames++;
    }
    let best = 0;
    for (let i = 1; i < sums.length; i++) if (sums[i]! > sums[best]!) best = i;
    await ctx.close();
    const rms = Math.sqrt(energy / Math.max(1, frames));
    return { frequency: (best * ctx.sampleRate) / an.fftSize, levelDb: rms > 0 ? 20 * Math.log10(rms) : -Infinity };
  }, [ms, streamExpr] as const);
}

/** Resolves with Date.now() in the page when remote audio first exceeds -40 dBFS. */
export async function firstAudioAt(page: Page, timeoutMs = 5000): Promise<number> {
  return page.evaluate(async (timeout) => {
    const deadline = performance.now() + timeout;
    let stream: MediaStream | undefined;
    while (!(stream = window.demo.call?.remoteStream)?.getAudioTracks().length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    if (!stream?.getAudioTracks().length) throw new Error('no remote audio track');
    const ctx = new AudioContext();
    await ctx.resume();
    const an = ctx.createAnalyser();
    an.fftSize = 256;
    ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Float32Array(an.fftSize);
    while (performance.now() < deadline) {
      an.getFloatTimeDomainData(buf);
      let e = 0;
      for (const v of buf) e += v * v;
      if (20 * Math.log10(Math.sqrt(e / buf.length) || 1e-9) > -40) {
        const t = Date.now();
        await ctx.close();
        return t;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await ctx.close();
    throw new Error('no remote audio above -40 dBFS');
  }, timeoutMs);
}

/**
 * What an ear hears, tone by tone: listens to a stream for `ms` with a WebAudio analyser (8192-point
 * FFT, Blackman window) and returns, for each of `freqs`, the level of a sine at that frequency
 * in dBFS (RMS, like `toneLevelDb` for recordings: a full-scale sine is −3 dB) — the strongest bin
 * within ±12 Hz of the power spectrum averaged over the window, corrected for the window's
 * coherent gain (0.42).
 */
export async function measureTones(page: Page, streamExpr: string, freqs: number[], ms = 1500): Promise<Record<number, number>> {
  return page.evaluate(async ([duration, expr, fs]) => {
    // eslint-disable-next-line no-eval
    const stream = (0, eval)(expr) as MediaStream | undefined;
    if (!stream?.getAudioTracks().length) throw new Error(`no audio track in ${expr}`);
    const ctx = new AudioContext();
    await ctx.resume();
    const an = ctx.createAnalyser();
    an.fftSize = 8192;
    an.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(stream).connect(an);
    const spec = new Float32Array(an.frequencyBinCount);
    const sums = new Float64Array(an.frequencyBinCount);
    let frames = 0;
    const end = performance.now() + duration;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatFrequencyData(spec);
      for (let i = 0; i < spec.length; i++) sums[i]! += Math.pow(10, spec[i]! / 10);
      frames++;
    }
    const binHz = ctx.sampleRate / an.fftSize;
    await ctx.close();
    const out: Record<number, number> = {};
    for (const f of fs) {
      const c = Math.round(f / binHz);
      let best = 0;
      for (let k = Math.max(0, c - 2); k <= Math.min(sums.length - 1, c + 2); k++) best = Math.max(best, sums[k]! / Math.max(1, frames));
      out[f] = best > 0 ? 10 * Math.log10(best) + 20 * Math.log10(2 / 0.42) - 3.01 : -Infinity;
    }
    return out;
  }, [ms, streamExpr, freqs] as const);
}

/**
 * Asserts an ear's spectrum: every `must` tone at ≥ −40 dBFS, every `mustNot` tone at least 30 dB
 * below the weakest wanted one (issue 17's criterion). Returns the levels for the log.
 */
export function assertEar(name: string, levels: Record<number, number>, must: number[], mustNot: number[]): string {
  const fmt = Object.entries(levels).map(([f, l]) => `${f} Hz ${Number.isFinite(l) ? l.toFixed(1) : '-inf'}`).join(', ');
  const weakest = Math.min(...must.map((f) => levels[f]!));
  for (const f of must) if (!(levels[f]! >= -40)) throw new Error(`${name} must hear ${f} Hz (≥ -40 dBFS): ${fmt}`);
  for (const f of mustNot) if (!(levels[f]! <= weakest - 30)) throw new Error(`${name} must not hear ${f} Hz (≥ 30 dB below ${weakest.toFixed(1)}): ${fmt}`);
  return `${name}: ${fmt}`;
}

/**
 * Waits until the stream `streamExpr` (evaluated in the page) carries audio above −50 dBFS: the
 * call may be up in SIP while ICE and DTLS are still finishing on a loaded machine.
 */
export async function waitForAudio(page: Page, streamExpr: string, timeoutMs = 10_000): Promise<void> {
  await page.evaluate(async ([expr, timeout]) => {
    const deadline = performance.now() + timeout;
    let stream: MediaStream | undefined;
    // eslint-disable-next-line no-eval
    while (!(stream = (0, eval)(expr) as MediaStream | undefined)?.getAudioTracks().length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!stream?.getAudioTracks().length) throw new Error(`no audio track in ${expr}`);
    const ctx = new AudioContext();
    await ctx.resume();
    const an = ctx.createAnalyser();
    an.fftSize = 1024;
    ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Float32Array(an.fftSize);
    try {
      while (performance.now() < deadline) {
        an.getFloatTimeDomainData(buf);
        let e = 0;
        for (const v of buf) e += v * v;
        if (20 * Math.log10(Math.sqrt(e / buf.length) || 1e-9) > -50) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no audio above -50 dBFS in ${expr} within ${timeout} ms`);
    } finally {
      await ctx.close();
    }
  }, [streamExpr, timeoutMs] as const);
}

/**
 * Makes the page keep its RTCPeerConnections (from its next load), so {@link mediaFlow} can read
 * which UDP flow carries a call. Reloads the page.
 */
export async function keepPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const pcs: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = pcs;
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        pcs.push(this);
      }
    } as typeof RTCPeerConnection;
  });
  await page.reload();
}

/**
 * The UDP flow of the page's connected call: the ports of its selected ICE candidate pair (the
 * browser's and the far side's), from getStats. Needs {@link keepPeerConnections}.
 */
export async function mediaFlow(page: Page): Promise<{ browser: number; gateway: number } | undefined> {
  return page.evaluate(async () => {
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      if (pair) return { browser: stats.get(pair.localCandidateId).port as number, gateway: stats.get(pair.remoteCandidateId).port as number };
    }
    return undefined;
  });
}

/**
 * The audio streams the page's calls receive: SSRC and packets so far, from getStats (Chrome lists
 * the unsignaled SSRCs it created a stream for). For failure messages. Needs {@link keepPeerConnections}.
 */
export async function inboundStreams(page: Page): Promise<Array<{ ssrc: number; packets: number }>> {
  return page.evaluate(async () => {
    const out: Array<{ ssrc: number; packets: number }> = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []) {
      (await pc.getStats()).forEach((s: { type: string; ssrc?: number; packetsReceived?: number }) => {
        if (s.type === 'inbound-rtp') out.push({ ssrc: s.ssrc ?? 0, packets: s.packetsReceived ?? 0 });
      });
    }
    return out;
  });
}
