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
