/**
 * Device mode in the SDK (docs/devices.md): the agent's call audio is on their SIP desk phone or
 * headset base, and this desktop shows and drives the calls. The gateway owns both legs; it tells
 * the desktop each call's status (`device-call` events) and the control messages the device's
 * leg would get (`device-control`), and executes the desktop's `device-call` commands. Each
 * call is a {@link DeviceSession} — a {@link SignalingSession} without media here — so the
 * Softphone presents it as an ordinary `Call`: answer, hang up, hold, transfer, DTMF, conference.
 */
import type { CallData, CenterCommand, DeviceCallStatus } from '@switchboard/protocol';
import { Emitter } from '../emitter.js';
import { errorFromStatus, SwitchboardError } from '../errors.js';
import type { QueueInfo, RemoteParty, SessionEnd, SignalingSession, SignalingSessionEvents } from './types.js';

type Command = (message: CenterCommand) => Promise<Record<string, unknown>>;

/** A call whose audio is on the agent's device, driven by commands to the gateway. */
export class DeviceSession extends Emitter<SignalingSessionEvents> implements SignalingSession {
  readonly direction: 'incoming' | 'outgoing';
  readonly remote: RemoteParty;
  readonly queue?: QueueInfo;
  private status: DeviceCallStatus;
  private hungUp = false;
  private accepted = false;
  private alerted = false;
  private done = false;

  /** @internal Created by the {@link DeviceLine}. */
  constructor(
    status: DeviceCallStatus,
    private readonly command: Command,
  ) {
    super();
    this.status = status;
    this.direction = status.direction;
    this.remote = { ...status.remote };
    if (status.queue) this.queue = { ...status.queue };
  }

  /** The device leg's SIP Call-ID once it has one (names the call in complete-transfer and merge), else the gateway's id. */
  get callId(): string {
    return this.status.sipCallId ?? this.status.id;
  }

  get gatewayCallId(): string {
    return this.status.id;
  }

  get callData(): CallData {
    return this.status.data;
  }

  /** No media in the browser: the audio is on the device. */
  readonly remoteStream = undefined;
  readonly iceConnectionState = undefined;

  private act(action: 'answer' | 'reject' | 'hangup' | 'dtmf' | 'control', extra: { digits?: string; control?: Record<string, unknown> } = {}): Promise<Record<string, unknown>> {
    return this.command({ type: 'device-call', callId: this.status.id, action, ...extra });
  }

  /** Asks the gateway to make the device pick up (click-to-answer); `accepted` follows when it has. */
  async accept(): Promise<void> {
    await this.act('answer');
  }

  async reject(): Promise<void> {
    this.hungUp = true;
    await this.act('reject');
  }

  async hangup(): Promise<void> {
    if (this.done) return;
    this.hungUp = true;
    await this.act('hangup');
  }

  /** The desktop's mute is applied at the gateway (the `mute` control the Call sends next). */
  setMuted(): void {}

  async control(message: Record<string, unknown>): Promise<void> {
    await this.act('control', { control: message });
  }

  /** Digits go to the other party from the gateway (the device's own keypad works too). */
  sendDtmf(digits: string): boolean {
    const keys = digits.replace(/,/g, '');
    if (!keys) return true;
    this.act('dtmf', { digits: keys }).catch((err: unknown) => console.warn(`[switchboard] digits not sent: ${String(err)}`));
    return true;
  }

  async reattach(): Promise<'ok' | 'gone'> {
    try {
      await this.act('control', { control: { type: 'ping' } });
      return 'ok';
    } catch (err) {
      if (err instanceof SwitchboardError && err.status === 404) return 'gone';
      throw err;
    }
  }

  async abandon(error: SwitchboardError): Promise<void> {
    this.end({ by: 'error', error });
  }

  async restartIce(): Promise<void> {}

  /** @internal A new status from the gateway. */
  update(status: DeviceCallStatus): void {
    if (this.done) return;
    this.status = status;
    if (status.state === 'dialing' && !this.alerted) {
      this.alerted = true;
      this.emit('progress', 180);
    } else if (status.state === 'connected' && !this.accepted) {
      this.accepted = true;
      this.emit('accepted');
    } else if (status.state === 'ended') {
      const end = status.end ?? { status: 200, reason: 'Ended' };
      if (this.hungUp) this.end({ by: 'local' });
      else if (!this.accepted && this.direction === 'outgoing' && end.status >= 300) this.end({ by: 'error', error: errorFromStatus(end.status, end.reason) });
      else this.end({ by: 'remote' });
    }
  }

  /** @internal A control message for the device's leg (hold notice, roster, call data…). */
  controlMessage(message: Record<string, unknown>): void {
    if (!this.done) this.emit('control', message);
  }

  private end(e: SessionEnd): void {
    if (this.done) return;
    this.done = true;
    this.emit('ended', e);
  }
}

/** The device-mode calls of one desktop: sessions made from the gateway's events, and click-to-dial. */
export class DeviceLine {
  private readonly sessions = new Map<string, DeviceSession>();
  /** Statuses of calls placed with {@link dial} that arrived before the gateway's reply. */
  private readonly early = new Map<string, DeviceCallStatus>();

  constructor(
    private readonly command: Command,
    private readonly offered: (session: DeviceSession) => void,
  ) {}

  /** A `device-call` event: updates its session, or offers a new incoming call. */
  status(status: DeviceCallStatus): void {
    const s = this.sessions.get(status.id);
    if (s) {
      s.update(status);
      if (status.state === 'ended') this.sessions.delete(status.id);
      return;
    }
    if (status.direction === 'outgoing') {
      // A click-to-dial call whose reply has not come back yet (or one dialled on the handset: not shown).
      if (status.state !== 'ended') this.early.set(status.id, status);
      else this.early.delete(status.id);
      return;
    }
    if (status.state === 'ended') return;
    const session = new DeviceSession(status, this.command);
    this.sessions.set(status.id, session);
    this.offered(session);
    if (status.state === 'connected') session.update(status); // answered on the handset before we saw it ring
  }

  /** A `device-control` event for a call's device leg. */
  control(callId: string, message: Record<string, unknown>): void {
    this.sessions.get(callId)?.controlMessage(message);
  }

  /** Click-to-dial: the gateway calls the device (it picks up by itself), then `target`. */
  async dial(target: string): Promise<DeviceSession> {
    const reply = await this.command({ type: 'device-dial', target });
    const id = typeof reply.callId === 'string' ? reply.callId : '';
    if (!id) throw new SwitchboardError('SB_PROTOCOL_ERROR', 'The gateway did not name the new call');
    const first = this.early.get(id) ?? { id, state: 'dialing' as const, direction: 'outgoing' as const, remote: { user: target }, data: { caller: '', dialed: target, attributes: {} } };
    this.early.delete(id);
    const session = new DeviceSession({ ...first, state: first.state === 'connected' ? 'dialing' : first.state }, this.command);
    this.sessions.set(id, session);
    if (first.state !== 'dialing') queueMicrotask(() => session.update(first));
    return session;
  }

  /** Every call ends (the desktop disconnected for good). */
  clear(): void {
    this.sessions.clear();
    this.early.clear();
  }
}
