/**
 * The agent's audio devices (`phone.audio`): which microphone, which speaker or headset for call
 * audio, which device the ringtone rings on — chosen by id, kept across calls, applied to calls
 * in progress (the microphone's track is swapped without renegotiation; the speaker by
 * `setSinkId`), and followed when devices come and go: a chosen device that is unplugged falls
 * back to the default, and is used again when it is plugged back in.
 */
import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';
import { Ringer } from './ringer.js';

/** An audio device as the browser lists it. */
export interface AudioDeviceEntry {
  /** The id to choose it by. */
  deviceId: string;
  /** Its name ("Jabra Evolve2 65", "Default - Speakers"); empty before the microphone was allowed. */
  label: string;
}

/** The browser's audio devices. */
export interface AudioDeviceList {
  /** Microphones. */
  inputs: AudioDeviceEntry[];
  /** Speakers and headsets. */
  outputs: AudioDeviceEntry[];
}

/** Microphone processing, as the browser offers it (all on by default). */
export interface AudioProcessing {
  /** Echo cancellation. */
  echoCancellation?: boolean;
  /** Noise suppression. */
  noiseSuppression?: boolean;
  /** Automatic gain control. */
  autoGainControl?: boolean;
}

/** Which kind of device a change is about. */
export type AudioDeviceKind = 'input' | 'output' | 'ringer';

/** A device in use changed: chosen, unplugged (the default takes over), or plugged back in. */
export interface AudioDeviceChange {
  /** Microphone, call audio output, or ringer. */
  kind: AudioDeviceKind;
  /** The device now in use ('' = the browser's default). */
  deviceId: string;
  /** Why. */
  reason: 'chosen' | 'unplugged' | 'plugged-back';
}

/** The active call's audio levels (see {@link AudioDevicesEvents.level}). */
export interface AudioLevels {
  /** The microphone as sent (silent while muted), dBFS RMS; −Infinity when silent or absent. */
  inputDb: number;
  /** The far end's audio as received, dBFS RMS. */
  outputDb: number;
  /** The same on a 0–1 scale for a meter (−60 dBFS and below = 0, 0 dBFS = 1). */
  input: number;
  /** The same for the output. */
  output: number;
}

/** Events of {@link AudioDevices}. */
export type AudioDevicesEvents = {
  /** Levels of the active call, every 100 ms while one is connected (for level meters). */
  level: [levels: AudioLevels];
  /** A device in use changed. */
  deviceChanged: [change: AudioDeviceChange];
  /** The ringtone could not sound: the browser wants a click first (`SB_AUTOPLAY_BLOCKED`); call {@link AudioDevices.unlock} in one. */
  autoplayBlocked: [error: SwitchboardError];
};

/** What the audio devices act on: the calls in progress. */
interface AudioHost {
  /** Applies the microphone choice to every call in progress. */
  useInput(): Promise<void>;
  /** Applies the output choice to every call in progress. */
  useOutput(deviceId: string): Promise<void>;
}

/** The agent's audio devices (see the module comment). */
export class AudioDevices extends Emitter<AudioDevicesEvents> {
  /** The ringtone (built-in tone, or set `ringer.url` to a sound file). */
  readonly ringer = new Ringer();
  private preferred: Record<AudioDeviceKind, string> = { input: '', output: '', ringer: '' };
  private inUse: Record<AudioDeviceKind, string> = { input: '', output: '', ringer: '' };
  private watching = false;

  /** @internal Created by the Softphone. */
  constructor(
    private readonly host: AudioHost,
    private readonly processing: AudioProcessing = {},
  ) {
    super();
  }

  /** The browser's audio inputs and outputs (labels once the microphone has been allowed). */
  async list(): Promise<AudioDeviceList> {
    const all = typeof navigator !== 'undefined' && navigator.mediaDevices ? await navigator.mediaDevices.enumerateDevices() : [];
    const entry = (d: MediaDeviceInfo): AudioDeviceEntry => ({ deviceId: d.deviceId, label: d.label });
    return { inputs: all.filter((d) => d.kind === 'audioinput').map(entry), outputs: all.filter((d) => d.kind === 'audiooutput').map(entry) };
  }

  /** The microphone in use ('' = the default). */
  get inputDeviceId(): string {
    return this.inUse.input;
  }

  /** The call audio output in use ('' = the default). */
  get outputDeviceId(): string {
    return this.inUse.output;
  }

  /** The ringtone's device in use ('' = the default). */
  get ringerDeviceId(): string {
    return this.inUse.ringer;
  }

  /** @internal The microphone constraints for the next capture. */
  constraints(): MediaTrackConstraints | true {
    const p = this.processing;
    const c: MediaTrackConstraints = {
      ...(this.inUse.input ? { deviceId: { exact: this.inUse.input } } : {}),
      ...(p.echoCancellation !== undefined ? { echoCancellation: p.echoCancellation } : {}),
      ...(p.noiseSuppression !== undefined ? { noiseSuppression: p.noiseSuppression } : {}),
      ...(p.autoGainControl !== undefined ? { autoGainControl: p.autoGainControl } : {}),
    };
    return Object.keys(c).length ? c : true;
  }

  /**
   * Uses microphone `deviceId` ('' = the default) for new calls and, at once, for calls in
   * progress (their track is swapped; the far end hears no gap longer than a capture start).
   * @throws SB_DEVICE_NOT_FOUND when there is no such input; SB_MEDIA_DENIED when it cannot be opened.
   */
  async setInputDevice(deviceId: string): Promise<void> {
    await this.check('inputs', deviceId);
    this.preferred.input = deviceId;
    await this.use('input', deviceId, 'chosen');
  }

  /**
   * Plays call audio on output `deviceId` ('' = the default): calls in progress move at once.
   * @throws SB_DEVICE_NOT_FOUND when there is no such output.
   */
  async setOutputDevice(deviceId: string): Promise<void> {
    await this.check('outputs', deviceId);
    this.preferred.output = deviceId;
    await this.use('output', deviceId, 'chosen');
  }

  /**
   * Rings on output `deviceId` ('' = the default) — e.g. the computer's speakers, so the ring is
   * heard with the headset off.
   * @throws SB_DEVICE_NOT_FOUND when there is no such output.
   */
  async setRingerDevice(deviceId: string): Promise<void> {
    await this.check('outputs', deviceId);
    this.preferred.ringer = deviceId;
    await this.use('ringer', deviceId, 'chosen');
  }

  /** Lets the browser play sound (call it from a click or key handler after `autoplayBlocked`). */
  async unlock(): Promise<boolean> {
    return this.ringer.unlock();
  }

  private meter?: { ctx: AudioContext; timer: ReturnType<typeof setInterval>; key: string } | undefined;

  /**
   * @internal Meters the call's microphone and far end every 100 ms (`level` events), or stops
   * when `streams` is undefined (no connected call).
   */
  meterCall(streams: { local?: MediaStream | undefined; remote?: MediaStream | undefined } | undefined): void {
    // Keyed by track: a microphone switched mid-call is a new track in the same stream.
    const key = streams ? `${streams.local?.getAudioTracks()[0]?.id ?? ''}/${streams.remote?.getAudioTracks()[0]?.id ?? ''}` : '';
    if (this.meter?.key === key) return;
    if (this.meter) {
      clearInterval(this.meter.timer);
      void this.meter.ctx.close().catch(() => undefined);
      this.meter = undefined;
    }
    if (!streams || typeof AudioContext === 'undefined' || (!streams.local && !streams.remote)) return;
    const ctx = new AudioContext();
    const analyser = (s: MediaStream | undefined) => {
      if (!s?.getAudioTracks().length) return undefined;
      const a = ctx.createAnalyser();
      a.fftSize = 1024;
      ctx.createMediaStreamSource(s).connect(a);
      return a;
    };
    const inA = analyser(streams.local);
    const outA = analyser(streams.remote);
    const buf = new Float32Array(1024);
    const db = (a: AnalyserNode | undefined) => {
      if (!a) return -Infinity;
      a.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      return sum > 0 ? 10 * Math.log10(sum / buf.length) : -Infinity;
    };
    const scale = (d: number) => (Number.isFinite(d) ? Math.max(0, Math.min(1, (d + 60) / 60)) : 0);
    const timer = setInterval(() => {
      const inputDb = db(inA);
      const outputDb = db(outA);
      this.emit('level', { inputDb, outputDb, input: scale(inputDb), output: scale(outputDb) });
    }, 100);
    void ctx.resume().catch(() => undefined);
    this.meter = { ctx, timer, key };
  }

  /** @internal A call rings (or the last one stopped ringing). */
  async ring(on: boolean): Promise<void> {
    if (!on) return this.ringer.stop();
    if (!(await this.ringer.start())) this.emit('autoplayBlocked', new SwitchboardError('SB_AUTOPLAY_BLOCKED'));
  }

  private async check(kind: 'inputs' | 'outputs', deviceId: string): Promise<void> {
    if (typeof deviceId !== 'string') throw new SwitchboardError('SB_INVALID_ARGUMENT', 'A device id is a string');
    if (!deviceId) return;
    this.watch();
    const list = await this.list();
    if (!list[kind].some((d) => d.deviceId === deviceId)) throw new SwitchboardError('SB_DEVICE_NOT_FOUND', `No audio ${kind === 'inputs' ? 'input' : 'output'} ${deviceId.slice(0, 16)}…`);
  }

  private async use(kind: AudioDeviceKind, deviceId: string, reason: AudioDeviceChange['reason']): Promise<void> {
    const before = this.inUse[kind];
    this.inUse[kind] = deviceId;
    try {
      if (kind === 'input') await this.host.useInput();
      else if (kind === 'output') await this.host.useOutput(deviceId);
      else await this.ringer.setDevice(deviceId);
    } catch (err) {
      this.inUse[kind] = before;
      throw err instanceof SwitchboardError ? err : new SwitchboardError('SB_MEDIA_FAILED', `The ${kind} device could not be used: ${String(err)}`, { cause: err });
    }
    this.emit('deviceChanged', { kind, deviceId, reason });
  }

  /** Follows devices coming and going (from the first choice of a device on). */
  private watch(): void {
    if (this.watching || typeof navigator === 'undefined' || !navigator.mediaDevices?.addEventListener) return;
    this.watching = true;
    navigator.mediaDevices.addEventListener('devicechange', () => void this.devicesChanged());
  }

  private async devicesChanged(): Promise<void> {
    const list = await this.list().catch(() => undefined);
    if (!list) return;
    for (const kind of ['input', 'output', 'ringer'] as const) {
      const want = this.preferred[kind];
      if (!want) continue;
      const present = (kind === 'input' ? list.inputs : list.outputs).some((d) => d.deviceId === want);
      if (!present && this.inUse[kind] === want) await this.use(kind, '', 'unplugged').catch(() => undefined);
      else if (present && this.inUse[kind] !== want) await this.use(kind, want, 'plugged-back').catch(() => undefined);
    }
  }
}
