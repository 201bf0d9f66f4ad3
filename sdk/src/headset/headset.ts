/**
 * USB telephony headsets through WebHID: the headset's buttons drive the softphone's calls and
 * its lights follow them. Generic — any headset that describes its controls with the standard
 * HID usages works (layout.ts); {@link QUIRKS} lists the devices that need more.
 *
 * Buttons: the hook switch answers a ringing call and hangs up a connected one; the mute button
 * toggles the active call's mute; flash and hold toggle hold; redial and line are reported as
 * events. Lights: off-hook while a call is connected, ring (blinking) while one rings, mute,
 * hold, and microphone (on while the agent can be heard).
 */
import { activeCall } from '../active-call.js';
import { Emitter } from '../emitter.js';
import type { HidCollectionInfo } from './descriptor.js';
import { findControls, readButtons, writeLights, type HeadsetButton, type HeadsetLayout, type HeadsetLight } from './layout.js';

/**
 * The part of a `Call` the headset uses (structural, so this entry point does not carry the
 * SDK's classes: pass the `Softphone` and its calls as they are).
 */
export interface HeadsetCall {
  /** `ringing`, `connected`, … (the Call's state). */
  readonly state: string;
  /** Whether the agent's microphone is muted on this call. */
  readonly muted: boolean;
  /** Whether the call is on hold, and by which side. */
  readonly holdState: {
    /** On hold. */
    onHold: boolean;
    /** Held by this agent (`local`) or the other party. */
    by?: 'local' | 'remote';
  };
  /** Answers a ringing call. */
  answer(): Promise<void>;
  /** Hangs up. */
  hangup(): Promise<void>;
  /** Mutes the microphone. */
  mute(): void;
  /** Unmutes it. */
  unmute(): void;
  /** Puts the call on hold. */
  hold(): Promise<void>;
  /** Takes it off hold. */
  resume(): Promise<void>;
  /** Follows the call's state, mute and hold. */
  on(event: 'stateChanged' | 'muteChanged' | 'holdChanged', listener: () => void): unknown;
}

/** The part of a `Softphone` the headset uses. */
export interface HeadsetPhone {
  /** The calls in progress. */
  readonly calls: readonly HeadsetCall[];
  /** Every new call (incoming or outgoing). */
  on(event: 'callAdded', listener: (call: HeadsetCall) => void): unknown;
}

/** The part of a WebHID `HIDDevice` used here. */
export interface HidDeviceLike {
  /** Whether it is open. */
  readonly opened: boolean;
  /** USB vendor id. */
  readonly vendorId: number;
  /** USB product id. */
  readonly productId: number;
  /** The product's name. */
  readonly productName: string;
  /** Its report descriptor, as collections. */
  readonly collections: readonly HidCollectionInfo[];
  /** Opens it. */
  open(): Promise<void>;
  /** Closes it. */
  close(): Promise<void>;
  /** Sends an output report (`data` without the report id byte). */
  sendReport(reportId: number, data: Uint8Array): Promise<void>;
  /** Input reports (`data` without the report id byte). */
  addEventListener(type: 'inputreport', listener: (event: { reportId: number; data: DataView }) => void): void;
  /** Stops listening. */
  removeEventListener(type: 'inputreport', listener: (event: { reportId: number; data: DataView }) => void): void;
}

/** The part of `navigator.hid` used here. */
export interface HidLike {
  /** The browser's device picker. */
  requestDevice(options: { filters: Array<{ usagePage?: number; usage?: number; vendorId?: number }> }): Promise<HidDeviceLike[]>;
  /** The devices this origin was granted. */
  getDevices(): Promise<HidDeviceLike[]>;
  /** A granted device plugged in or out. */
  addEventListener(type: 'connect' | 'disconnect', listener: (event: { device: HidDeviceLike }) => void): void;
}

/** A device that needs something the generic path does not do, and why. */
export interface HeadsetQuirk {
  /** USB vendor id. */
  vendorId: number;
  /** Every product of the vendor when absent. */
  productId?: number;
  /** Read the hook switch as a press (toggle) even when the descriptor says absolute, or the reverse. */
  hookSwitch?: 'relative' | 'absolute';
  /** Read the mute button as a press (toggle) or as the mute state. */
  muteButton?: 'relative' | 'absolute';
  /** Why the entry is here (what the device does). */
  reason: string;
}

/**
 * Known deviations from the descriptor, one entry per device family with the reason. Empty: no
 * headset has been observed here (the browser test drives a scripted device), and an entry
 * belongs here only from a device's observed behaviour — e.g. `{ vendorId: 0x1234, hookSwitch:
 * 'relative', reason: 'declares Hook Switch absolute but sends 1 then 0 on each press' }`. Pass
 * your own with `new Headsets(phone, { quirks })`.
 */
export const QUIRKS: readonly HeadsetQuirk[] = [];

/** What is known of an attached headset. */
export interface HeadsetInfo {
  /** The product's name. */
  productName: string;
  /** USB vendor id. */
  vendorId: number;
  /** USB product id. */
  productId: number;
  /** The buttons its descriptor has. */
  buttons: HeadsetButton[];
  /** The lights its descriptor has. */
  lights: HeadsetLight[];
}

/** Events of {@link Headsets}. */
export type HeadsetEvents = {
  /** A headset is ready (chosen, granted earlier, or plugged back in). */
  attached: [headset: HeadsetInfo];
  /** A headset was unplugged or closed. */
  detached: [headset: HeadsetInfo];
  /** A button went down (`true`) or up; the call action has been taken already. */
  button: [button: HeadsetButton, down: boolean, headset: HeadsetInfo];
  /** An action of a button failed (e.g. answering a call that was just cancelled), or a light could not be set. */
  error: [error: Error];
};

interface Attached {
  device: HidDeviceLike;
  info: HeadsetInfo;
  layout: HeadsetLayout;
  quirk?: HeadsetQuirk | undefined;
  down: Partial<Record<HeadsetButton, boolean>>;
  listener: (event: { reportId: number; data: DataView }) => void;
  lastLights?: string;
}

/** Ring LED blink period, ms (on, then off). */
const BLINK_MS = 500;

/** The Telephony page: the device picker lists telephony devices only. */
const TELEPHONY_PAGE = 0x0b;

/**
 * Telephony headsets for a softphone: `request()` shows the browser's device picker, `restore()`
 * reopens those granted before (call it at start-up); a granted headset plugged back in is
 * reattached by itself.
 */
export class Headsets extends Emitter<HeadsetEvents> {
  private readonly hid: HidLike | undefined;
  private readonly attached = new Map<HidDeviceLike, Attached>();
  private blink = false;
  private blinkTimer?: ReturnType<typeof setInterval> | undefined;
  private readonly quirks: readonly HeadsetQuirk[];

  constructor(
    private readonly phone: HeadsetPhone,
    opts: { hid?: HidLike; quirks?: readonly HeadsetQuirk[] } = {},
  ) {
    super();
    this.hid = opts.hid ?? (typeof navigator !== 'undefined' ? (navigator as unknown as { hid?: HidLike }).hid : undefined);
    this.quirks = opts.quirks ?? QUIRKS;
    phone.on('callAdded', (call) => this.follow(call));
    for (const call of phone.calls) this.follow(call);
    this.hid?.addEventListener('connect', (e) => {
      void this.attach(e.device).catch((err: Error) => this.emit('error', err));
    });
    this.hid?.addEventListener('disconnect', (e) => this.detach(e.device));
  }

  /** Whether this browser has WebHID (Chromium-based, secure context). */
  get supported(): boolean {
    return !!this.hid;
  }

  /** The headsets in use. */
  get list(): HeadsetInfo[] {
    return [...this.attached.values()].map((a) => a.info);
  }

  /** Shows the browser's picker of telephony devices (needs a user gesture) and attaches the one chosen. */
  async request(): Promise<HeadsetInfo | undefined> {
    if (!this.hid) throw new Error('WebHID is not available in this browser');
    const [device] = await this.hid.requestDevice({ filters: [{ usagePage: TELEPHONY_PAGE }] });
    return device ? this.attach(device) : undefined;
  }

  /** Attaches the telephony headsets this origin was granted before (no picker). */
  async restore(): Promise<HeadsetInfo[]> {
    if (!this.hid) return [];
    const out: HeadsetInfo[] = [];
    for (const d of await this.hid.getDevices()) {
      const info = await this.attach(d).catch(() => undefined);
      if (info) out.push(info);
    }
    return out;
  }

  /** Lets go of every headset (lights off). */
  async close(): Promise<void> {
    for (const a of [...this.attached.values()]) {
      await this.send(a, {}).catch(() => undefined);
      this.detach(a.device);
      await a.device.close().catch(() => undefined);
    }
  }

  private async attach(device: HidDeviceLike): Promise<HeadsetInfo | undefined> {
    const known = this.attached.get(device);
    if (known) return known.info;
    const layout = findControls(device.collections);
    if (!layout.buttons.hookSwitch && !layout.buttons.phoneMute) return undefined; // not a telephony headset
    if (!device.opened) await device.open();
    const info: HeadsetInfo = {
      productName: device.productName,
      vendorId: device.vendorId,
      productId: device.productId,
      buttons: Object.keys(layout.buttons) as HeadsetButton[],
      lights: Object.keys(layout.lights) as HeadsetLight[],
    };
    const quirk = this.quirks.find((q) => q.vendorId === device.vendorId && (q.productId === undefined || q.productId === device.productId));
    const a: Attached = { device, info, layout, quirk, down: {}, listener: (e) => this.input(a, e.reportId, e.data) };
    device.addEventListener('inputreport', a.listener);
    this.attached.set(device, a);
    this.emit('attached', info);
    await this.update(true);
    return info;
  }

  private detach(device: HidDeviceLike): void {
    const a = this.attached.get(device);
    if (!a) return;
    device.removeEventListener('inputreport', a.listener);
    this.attached.delete(device);
    this.emit('detached', a.info);
    if (!this.attached.size) this.stopBlink();
  }

  private relative(a: Attached, button: HeadsetButton): boolean {
    const q = button === 'hookSwitch' ? a.quirk?.hookSwitch : button === 'phoneMute' ? a.quirk?.muteButton : undefined;
    if (q) return q === 'relative';
    return !a.layout.buttons[button]!.isAbsolute;
  }

  /** The call the buttons act on: one ringing, else the connected one not held by us, else any connected. */
  private calls(): { ringing?: HeadsetCall | undefined; active?: HeadsetCall | undefined; connected: HeadsetCall[] } {
    const calls = this.phone.calls;
    return { ringing: calls.find((c) => c.state === 'ringing'), active: activeCall(calls), connected: calls.filter((c) => c.state === 'connected') };
  }

  private input(a: Attached, reportId: number, data: DataView): void {
    const now = readButtons(a.layout, reportId, data);
    for (const [button, down] of Object.entries(now) as Array<[HeadsetButton, boolean]>) {
      const was = a.down[button] ?? false;
      if (down === was) continue;
      a.down[button] = down;
      this.act(a, button, down).catch((err: Error) => this.emit('error', err));
      this.emit('button', button, down, a.info);
    }
  }

  private async act(a: Attached, button: HeadsetButton, down: boolean): Promise<void> {
    const { ringing, active } = this.calls();
    const relative = this.relative(a, button);
    if (relative && !down) return; // a press is its down edge
    switch (button) {
      case 'hookSwitch':
        // Off hook (or a press): answer what rings; on hook (or a press while talking): hang up.
        if (relative ? !!ringing : down) {
          if (ringing) await ringing.answer();
        } else if (active) await active.hangup();
        return;
      case 'phoneMute':
        if (!active) return;
        if (relative ? !active.muted : down) active.mute();
        else active.unmute();
        return;
      case 'flash':
      case 'hold':
        if (!active) return;
        if (active.holdState.onHold && active.holdState.by === 'local') await active.resume();
        else await active.hold();
        return;
      default:
        return; // redial, line: events only
    }
  }

  private follow(call: HeadsetCall): void {
    const changed = () => void this.update();
    call.on('stateChanged', changed);
    call.on('muteChanged', changed);
    call.on('holdChanged', changed);
    void this.update();
  }

  /** The lights for the calls as they are now. */
  private lights(): Partial<Record<HeadsetLight, boolean>> {
    const { ringing, active, connected } = this.calls();
    return {
      offHook: connected.length > 0,
      ring: !!ringing && this.blink,
      mute: !!active?.muted,
      hold: connected.some((c) => c.holdState.onHold && c.holdState.by === 'local'),
      microphone: !!active && !active.muted,
    };
  }

  private async update(force = false): Promise<void> {
    const ringing = this.phone.calls.some((c) => c.state === 'ringing');
    if (ringing && !this.blinkTimer && this.attached.size) {
      this.blink = true;
      this.blinkTimer = setInterval(() => {
        this.blink = !this.blink;
        void this.update();
      }, BLINK_MS);
    } else if (!ringing) this.stopBlink();
    const lights = this.lights();
    for (const a of this.attached.values()) await this.send(a, lights, force).catch((err: Error) => this.emit('error', err));
  }

  private stopBlink(): void {
    if (this.blinkTimer) clearInterval(this.blinkTimer);
    this.blinkTimer = undefined;
    this.blink = false;
  }

  private async send(a: Attached, lights: Partial<Record<HeadsetLight, boolean>>, force = false): Promise<void> {
    const key = JSON.stringify(lights);
    if (!force && a.lastLights === key) return;
    a.lastLights = key;
    for (const [reportId, data] of writeLights(a.layout, lights)) await a.device.sendReport(reportId, data);
  }
}
