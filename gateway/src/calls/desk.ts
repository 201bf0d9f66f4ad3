/**
 * Device mode (docs/devices.md): a user's call audio on their SIP desk phone or headset base,
 * while their browser desktop shows the calls and drives them. The gateway owns every leg, so
 * the desktop's clicks are executed here on the device's leg: answer (the device picks up by
 * itself — click-to-answer), reject, hang up, DTMF, and every in-call control request a browser
 * leg sends as INFO (hold, transfer, conference…). Click-to-dial calls the device first (it
 * answers by itself) and then the target, with ringback to the device meanwhile (third-party
 * call control, RFC 3725 flow I, done by a B2BUA that owns both legs).
 *
 * What the desktop learns is one status per call (`device-call` events, pushed whenever it
 * changes) and the control messages its device's leg would get (`device-control`): the same the
 * SDK's browser calls get, so the SDK presents a device call as an ordinary `Call`.
 */
import type { AudioRoute, DeviceCallStatus, GatewayEvent } from '@switchboard/protocol';
import type { Binding } from '../sip/registrar.js';
import { randomToken } from '../sip/message.js';
import { Call, CallOperationError, CallState, isBrowserLeg, otherSide, type Leg, type RingingFork } from './call.js';
import { joinLeg, partyOf, ring, type Attempt, type LegContext } from './ringing.js';
import type { OfferOutcome } from './queueing.js';

/** How a kind of device picks up when its user answers on the desktop (see {@link Branch.autoAnswer}). */
export type AutoAnswer = 'header' | 'device' | 'none';

/** A kind of device, recognised by its User-Agent (a regular expression, case-insensitive). */
export interface DeviceProfile {
  userAgent: string;
  autoAnswer: AutoAnswer;
  /** Its auto-answer headers (`Name: value`), when not the default ones; `{host}` is the gateway's host. */
  headers?: string[];
}

/** Options of device mode (`devices` in the configuration). */
export interface DeskOptions {
  /** The auto-answer headers of a device no profile names (`{host}`: the gateway's host). */
  autoAnswerHeaders: string[];
  /** Kinds of devices that differ from the default (`header`). */
  profiles: DeviceProfile[];
  /** How long a click-to-dial call rings the device, then the target, ms. */
  dialRingMs: number;
}

/** What device mode needs from the B2BUA. */
export interface DeskContext extends LegContext {
  /** The call in progress with this id. */
  call(id: string): Call | undefined;
  /** Lists a new call among the active ones and announces it. */
  track(call: Call): Call;
  /** Tells one user's desktops (their browser registrations) an event. */
  push(user: string, event: GatewayEvent): void;
  /** Runs an in-call control request for `leg`, as if its browser had sent it (docs/protocol.md §4). */
  operate(call: Call, leg: Leg, message: Record<string, unknown>): Promise<void>;
  /** A digit pressed by `leg`, for whoever hears it. */
  digit(call: Call, leg: Leg, digit: string): void;
  /** `leg` leaves the call (BYE); the call ends when too few remain. */
  leave(call: Call, leg: Leg, reason: string): void;
  /** Calling rights of `user` for an external number. */
  mayCall(user: string, number: string, call: Call): { status: number; reason: string } | undefined;
  /** Rings `target` into the empty callee slot of a call whose caller waits (a queue offer's machinery). */
  offer(call: Call, target: string, onOutcome: (o: OfferOutcome) => void, ringMs: number): void;
  host: string;
}

/** Device mode for the gateway's users. */
export class DeskPhones {
  /** Users (lower case) whose audio goes to their devices. */
  private readonly routes = new Map<string, AudioRoute>();
  /** What each desktop was last told, per call and user (a change is pushed once). */
  private readonly told = new Map<string, Map<string, string>>();

  constructor(
    private readonly ctx: DeskContext,
    private readonly opts: DeskOptions,
  ) {}

  /** The user's SIP devices (registrations that are not browsers). */
  devices(user: string): Binding[] {
    return this.ctx.core.registrar.lookup(user).filter((b) => !b.webrtc);
  }

  /** Whether `user` has a desktop (a browser registration) to drive their calls. */
  private hasDesktop(user: string): boolean {
    return this.ctx.core.registrar.lookup(user).some((b) => b.webrtc);
  }

  /**
   * Sets where `user`'s call audio goes. `device` needs a registered SIP device (else 409 with
   * the reason). Returns the route and the devices that will ring, with how each picks up.
   */
  setRoute(user: string, route: AudioRoute): { route: AudioRoute; devices: Array<{ userAgent: string; transport: string; address: string; autoAnswer: AutoAnswer }> } {
    const devices = this.devices(user);
    if (route === 'device' && !devices.length) throw new CallOperationError(409, `${user} has no SIP device registered (register the desk phone first)`);
    if (route === 'device') this.routes.set(user.toLowerCase(), 'device');
    else this.routes.delete(user.toLowerCase());
    return { route, devices: devices.map((b) => ({ userAgent: b.userAgent ?? '', transport: b.target.transport, address: `${b.target.host}:${b.target.port}`, autoAnswer: this.profile(b).autoAnswer })) };
  }

  /** Whether `user`'s calls go to their devices now: device mode, with a desktop connected to drive them. */
  active(user: string): boolean {
    return this.routes.get(user.toLowerCase()) === 'device' && this.hasDesktop(user);
  }

  /** Whether `leg`'s calls are driven from its user's desktop (a device's leg in device mode). */
  drives(leg: Leg): boolean {
    return !!leg.user && !isBrowserLeg(leg) && this.active(leg.party);
  }

  /** How a registration picks up: its profile (by User-Agent), or the default (`header`). */
  profile(b: Binding): { autoAnswer: AutoAnswer; headers: Array<[string, string]> } {
    const p = this.opts.profiles.find((x) => new RegExp(x.userAgent, 'i').test(b.userAgent ?? ''));
    const lines = p?.headers ?? this.opts.autoAnswerHeaders;
    const headers = lines.map((l): [string, string] => {
      const i = l.indexOf(':');
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim().replace(/\{host\}/g, this.ctx.host)];
    });
    return { autoAnswer: p?.autoAnswer ?? 'header', headers };
  }

  /** A control message for a device's leg goes to its user's desktop instead (`device-control`). */
  tell(call: Call, leg: Leg, message: Record<string, unknown>): void {
    this.ctx.push(leg.party, { type: 'device-control', callId: call.id, message });
  }

  /** Follows a new call: each device-mode user in it is told its status whenever that changes. */
  watch(call: Call): void {
    const update = () => this.update(call);
    call.on('parties', update);
    call.on('stateChanged', update);
  }

  private update(call: Call): void {
    const told = this.told.get(call.id) ?? new Map<string, string>();
    const users = new Set<string>(told.keys());
    for (const u of call.ringingUsers) if (this.active(u)) users.add(u);
    for (const p of call.parties) if (p.joined && this.drives(p)) users.add(p.party.toLowerCase());
    for (const u of users) {
      const status = this.statusOf(call, u, told.has(u));
      if (!status) continue;
      const json = JSON.stringify(status);
      if (told.get(u) === json) continue;
      if (status.state === 'ended') told.delete(u);
      else told.set(u, json);
      this.ctx.push(u, { type: 'device-call', call: status });
    }
    if (told.size && call.state !== CallState.Ended) this.told.set(call.id, told);
    else this.told.delete(call.id);
  }

  /** The call as `user`'s desktop sees it; undefined while there is nothing to show. */
  private statusOf(call: Call, user: string, known: boolean): DeviceCallStatus | undefined {
    const leg = call.parties.find((p) => p.joined && p.user && p.role !== 'supervisor' && p.party.toLowerCase() === user);
    const ringing = call.ringingUsers.has(user);
    const mine = call.clickToDial?.toLowerCase() === user;
    const base = (): Omit<DeviceCallStatus, 'state'> => {
      const other = leg && (leg.role === 'caller' || leg.role === 'callee') ? call.principal(otherSide(leg.role)) : mine ? call.callee : call.caller;
      const outgoing = mine || call.caller.party.toLowerCase() === user;
      const data = call.data();
      const sipCallId = leg?.dialog?.init.callId;
      return {
        id: call.id,
        ...(sipCallId ? { sipCallId } : {}),
        direction: outgoing ? 'outgoing' : 'incoming',
        remote: { user: other.party, ...(other === call.caller && call.callerName ? { displayName: call.callerName } : {}) },
        ...(call.queue && !outgoing ? { queue: { name: call.queue, waitSeconds: Math.round((data.waitMs ?? 0) / 1000), caller: call.caller.party } } : {}),
        data,
      };
    };
    if (call.state === CallState.Ended || (!leg && !ringing && !(mine && call.state !== CallState.Connected))) {
      if (!known) return undefined;
      const end = call.state === CallState.Ended && call.end ? { status: call.end.status, reason: call.end.reason } : { status: 200, reason: 'Left The Call' };
      return { ...base(), state: 'ended', end };
    }
    if (mine && call.state !== CallState.Connected) return { ...base(), state: 'dialing' };
    if (leg) return { ...base(), state: 'connected' };
    return { ...base(), state: 'ringing' };
  }

  /** The live call `callId` and `user`'s leg in it (undefined while theirs only rings). */
  private find(user: string, callId: string): { call: Call; leg?: Leg | undefined } {
    const call = this.ctx.call(callId);
    if (!call || call.state === CallState.Ended) throw new CallOperationError(404, `No call ${callId.slice(0, 64)} in progress`);
    const me = user.toLowerCase();
    const leg = call.parties.find((p) => p.joined && p.user && p.party.toLowerCase() === me);
    if (!leg && !call.ringingUsers.has(me) && call.clickToDial?.toLowerCase() !== me) throw new CallOperationError(404, `No call ${callId.slice(0, 64)} of yours`);
    return { call, leg };
  }

  /** The desktop answers: the user's devices ringing for it pick up by themselves (click-to-answer). */
  answer(user: string, callId: string): { pickedUp: boolean } {
    const { call, leg } = this.find(user, callId);
    if (leg) return { pickedUp: true };
    const asked = this.ringingFor(call, user).answerNow();
    call.log.info('desk', `${user} answers from the desktop: ${asked ? `${asked} device(s) asked to pick up` : 'no device can pick up by itself; it rings until the handset is lifted'}`);
    return { pickedUp: asked > 0 };
  }

  /** The desktop declines a call ringing on the user's devices (486 to the caller's side). */
  reject(user: string, callId: string): void {
    const { call, leg } = this.find(user, callId);
    if (leg) throw new CallOperationError(409, 'The call is already answered');
    const fork = this.ringingFor(call, user);
    call.log.info('desk', `${user} declines from the desktop`);
    fork.decline();
  }

  /** The ringing of `call` on `user`'s devices. */
  private ringingFor(call: Call, user: string): RingingFork {
    const fork = [...call.forks].find((f) => f.attempt.user?.toLowerCase() === user.toLowerCase());
    if (!fork) throw new CallOperationError(409, 'The call is not ringing for you');
    return fork;
  }

  /** The desktop hangs up: the device's leg leaves (a click-to-dial call still dialling ends). */
  hangup(user: string, callId: string): void {
    const { call, leg } = this.find(user, callId);
    if (call.clickToDial?.toLowerCase() === user.toLowerCase() && call.state !== CallState.Connected) {
      call.hangup({ by: 'caller', status: 487, reason: 'Hung Up From The Desktop' });
      return;
    }
    if (!leg) return this.reject(user, callId);
    this.ctx.leave(call, leg, 'Hung Up From The Desktop');
  }

  /** Digits from the desktop, sent to whoever hears the user (RFC 4733 or INFO, as the other side takes them). */
  dtmf(user: string, callId: string, digits: string): void {
    const { call, leg } = this.find(user, callId);
    if (!leg) throw new CallOperationError(409, 'The call is not connected');
    for (const d of digits) this.ctx.digit(call, leg, d);
  }

  /** An in-call control request from the desktop for the device's leg (hold, transfer, mute…). */
  async control(user: string, callId: string, message: Record<string, unknown>): Promise<void> {
    const { call, leg } = this.find(user, callId);
    if (!leg) throw new CallOperationError(409, 'The call is not connected');
    if (message.type === 'mute' && typeof message.muted === 'boolean') {
      // The desktop's mute is the device's microphone: silenced at the gateway.
      leg.serverMuted = message.muted;
      await call.applyMedia();
    }
    await this.ctx.operate(call, leg, message);
  }

  /**
   * Click-to-dial: calls `user`'s devices with their auto-answer headers; when one picks up it
   * hears ringback while `target` is called; when the target answers they talk. Returns the new
   * call's id at once; how it goes reaches the desktop as `device-call` events.
   */
  dial(user: string, target: string): { callId: string } {
    if (!this.active(user)) throw new CallOperationError(409, 'Click-to-dial needs device mode with a registered device');
    const route = this.ctx.router.resolve(target);
    if (route.kind === 'unknown') throw new CallOperationError(404, `No user, extension or number "${target}"`);
    if (route.kind !== 'user' && route.kind !== 'external') throw new CallOperationError(400, `Click-to-dial reaches users and numbers, not ${route.kind === 'queue' ? 'queues' : 'the echo test'}`);
    const call = new Call(randomToken(8), user, partyOf(route, target), this.ctx.media);
    call.caller.user = true;
    call.callee.user = route.kind === 'user';
    call.dialed = target;
    call.clickToDial = user;
    if (route.kind === 'external') {
      const refusal = this.ctx.mayCall(user, route.number, call);
      if (refusal) throw new CallOperationError(refusal.status, refusal.reason);
    }
    // The user's devices as any call to them reaches them (device mode: not the desktop), each
    // asked to pick up at once; the device shows whom it is calling (RFC 3725: the controller's
    // INVITE to the first party).
    const planned = this.ctx.attemptsFor(this.ctx.router.resolve(user), { user: target, displayName: `Calling ${target}` }, ['PCMU']);
    if ('status' in planned) throw new CallOperationError(planned.status, planned.reason);
    const attempts: Attempt[] = planned.map((a) => ({
      ...a,
      branches: a.branches.map(({ autoAnswer: _, answerHeaders, ...b }) => ({ ...b, options: { ...b.options, headers: answerHeaders ?? [] } })),
    }));
    this.ctx.track(call);
    call.log.info('desk', `${user} clicks to dial ${target}: calling their device first`);
    void (async () => {
      const r = await ring(this.ctx, call, attempts, 'PCMU', { ringMs: this.opts.dialRingMs, noAnswerReason: 'Device Did Not Pick Up' }).result;
      if (!r.ok) return call.hangup({ by: 'caller', status: r.status, reason: `Device: ${r.reason}` });
      call.codec = 'PCMU';
      await joinLeg(this.ctx, call, call.caller, r, user, true);
      // The device hears ringback until the target answers (a queue offer's machinery rings it).
      call.caller.music = 'tone:ringback';
      await call.applyMedia();
      call.setState(CallState.Ringing);
      this.ctx.offer(call, target, (o) => {
        if (!o.answered) call.hangup({ by: 'callee', status: o.status, reason: o.reason });
      }, this.opts.dialRingMs);
    })().catch((err: Error) => {
      call.log.error('desk', `click-to-dial to ${target} failed`, err);
      call.hangup({ by: 'gateway', status: 500, reason: 'Click-To-Dial Failed' });
    });
    return { callId: call.id };
  }
}
