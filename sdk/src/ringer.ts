/**
 * The ringtone: 440 + 480 Hz, 2 s on and 4 s off (the North American ring cadence), made with
 * WebAudio so it needs no file — or the app's own sound file. It plays on the ringer device
 * (`AudioContext.setSinkId`, `HTMLMediaElement.setSinkId`), which may differ from the headset the
 * call's audio goes to. A browser that blocks audio until the page has been clicked is reported
 * (`blocked`), and {@link Ringer.unlock} from a click handler lets it sound.
 */

/** The ringtone player behind `phone.audio.ringer`. */
export class Ringer {
  private ctx?: AudioContext;
  private gain?: GainNode;
  private analyser?: AnalyserNode;
  private timer?: ReturnType<typeof setInterval> | undefined;
  private element?: HTMLAudioElement;
  private sink = '';
  /** A sound file to ring with instead of the built-in tone (looped). */
  url: string | undefined;

  /** True while it rings. */
  get ringing(): boolean {
    return this.timer !== undefined || !!(this.element && !this.element.paused);
  }

  /** True when the browser kept audio from starting (no click on the page yet). */
  get blocked(): boolean {
    return this.blockedNow;
  }

  private blockedNow = false;

  /** The output device it rings on ('' = the default). */
  get deviceId(): string {
    return this.sink;
  }

  /** Rings on the output device `deviceId` from now on ('' = the default). */
  async setDevice(deviceId: string): Promise<void> {
    this.sink = deviceId;
    const ctx = this.ctx as (AudioContext & { setSinkId?(id: string): Promise<void> }) | undefined;
    if (ctx?.setSinkId) await ctx.setSinkId(deviceId);
    const el = this.element as (HTMLAudioElement & { setSinkId?(id: string): Promise<void> }) | undefined;
    if (el?.setSinkId) await el.setSinkId(deviceId);
  }

  /** Starts ringing (from the start of a ring); false when the browser blocked the sound. */
  async start(): Promise<boolean> {
    this.stop();
    if (this.url) return this.startFile(this.url);
    if (typeof AudioContext === 'undefined') return false;
    if (!this.ctx) {
      this.ctx = new AudioContext();
      if (this.sink) await (this.ctx as AudioContext & { setSinkId?(id: string): Promise<void> }).setSinkId?.(this.sink).catch(() => undefined);
    }
    const ctx = this.ctx;
    await ctx.resume().catch(() => undefined);
    this.blockedNow = ctx.state === 'suspended';
    this.gain = ctx.createGain();
    this.gain.gain.value = 0;
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 2048;
    for (const hz of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(this.gain);
      osc.start();
    }
    this.gain.connect(this.analyser);
    this.analyser.connect(ctx.destination);
    const ring = () => {
      const t = ctx.currentTime;
      this.gain!.gain.setValueAtTime(0.2, t);
      this.gain!.gain.setValueAtTime(0, t + 2);
    };
    ring();
    this.timer = setInterval(ring, 6000);
    return !this.blockedNow;
  }

  private async startFile(url: string): Promise<boolean> {
    const el = (this.element ??= new Audio());
    el.loop = true;
    if (el.src !== url) el.src = url;
    if (this.sink) await (el as HTMLAudioElement & { setSinkId?(id: string): Promise<void> }).setSinkId?.(this.sink).catch(() => undefined);
    try {
      await el.play();
      this.blockedNow = false;
    } catch {
      this.blockedNow = true;
    }
    return !this.blockedNow;
  }

  /** Stops ringing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.gain?.disconnect();
    this.analyser?.disconnect();
    this.gain = undefined;
    this.element?.pause();
  }

  /** Lets the browser play sound (call from a click or key handler); true when it may. */
  async unlock(): Promise<boolean> {
    if (typeof AudioContext !== 'undefined') {
      this.ctx ??= new AudioContext();
      await this.ctx.resume().catch(() => undefined);
      this.blockedNow = this.ctx.state === 'suspended';
    }
    return !this.blockedNow;
  }

  /** The ringtone's output level now, dBFS (−Infinity when silent or stopped; the built-in tone only). */
  levelDb(): number {
    if (!this.analyser || !this.gain) return -Infinity;
    const buf = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return 10 * Math.log10(sum / buf.length);
  }
}
