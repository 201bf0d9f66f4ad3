/**
 * The ringtone: 440 + 480 Hz, 2 s on and 4 s off (the North American ring cadence), made with
 * WebAudio so it needs no file. An analyser on its output lets the page (and its tests) see that
 * it really sounds. The browser may block audio until the user has clicked the page: then
 * `blocked` says so and the page asks for a click.
 */
export class Ringtone {
  private ctx?: AudioContext;
  private gain?: GainNode;
  private analyser?: AnalyserNode;
  private timer?: ReturnType<typeof setInterval>;

  /** True while a call rings. */
  get ringing(): boolean {
    return this.timer !== undefined;
  }

  /** True when the browser kept the audio suspended (no user gesture yet). */
  get blocked(): boolean {
    return this.ctx?.state === 'suspended';
  }

  /** Starts ringing (again from the start of a ring). */
  async start(): Promise<void> {
    this.stop();
    this.ctx ??= new AudioContext();
    const ctx = this.ctx;
    await ctx.resume().catch(() => undefined);
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
  }

  /** Stops ringing. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.gain?.disconnect();
    this.analyser?.disconnect();
    this.gain = undefined;
  }

  /** The ringtone's output level now, dBFS (−Infinity when silent or stopped). */
  levelDb(): number {
    if (!this.analyser || !this.gain) return -Infinity;
    const buf = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    return 10 * Math.log10(sum / buf.length);
  }
}
