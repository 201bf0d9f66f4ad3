/**
 * The entry point of the SDK: connect an agent's browser to the gateway, register, place and
 * receive calls.
 */
import { parseCallData, parseGatewayEvent, ProtocolError, type AudioRoute, type CenterCommand } from '@switchboard/protocol';
import { Agent } from './agent.js';
import { Call, CallState } from './call.js';
import { Emitter } from './emitter.js';
import { ERROR_CATALOG, SwitchboardError } from './errors.js';
import { sipJsSignaling } from './signaling/sipjs.js';
import { DeviceLine } from './signaling/device.js';
import { AudioDevices, type AudioProcessing } from './audio.js';
import { activeCall } from './active-call.js';
import { runPreflight, type PreflightOptions, type PreflightReport } from './preflight.js';
import type { SignalingClient, SignalingFactory, SignalingRegistrationState } from './signaling/types.js';
import { StateMachine } from './state.js';
import { ExponentialBackoff, type BackoffOptions, type ReconnectPolicy } from './reconnect.js';
import { Supervisor } from './supervisor.js';
import type { QualityOptions } from './quality.js';
import type { SupervisionMode } from './call.js';

/**
 * Connection state of a {@link Softphone}.
 * ```
 *  disconnected --> connecting --> connected --> reconnecting --> connected
 *        ^______________|______________|______________|  (gave up / disconnect())
 * ```
 */
export enum ConnectionState {
  /** Not connected (before `connect()`, after `disconnect()`, or after reconnecting gave up). */
  Disconnected = 'disconnected',
  /** Opening the WebSocket. */
  Connecting = 'connecting',
  /** Connected to the gateway. */
  Connected = 'connected',
  /** The connection dropped; the softphone is reconnecting on its own and calls stay up. */
  Reconnecting = 'reconnecting',
}

/** Registration state: whether calls can reach this softphone. */
export enum RegistrationState {
  /** Calls cannot reach this softphone. */
  Unregistered = 'unregistered',
  /** The registration is under way. */
  Registering = 'registering',
  /** Calls reach this softphone. */
  Registered = 'registered',
}

const CONNECTION: Record<ConnectionState, readonly ConnectionState[]> = {
  [ConnectionState.Disconnected]: [ConnectionState.Connecting],
  [ConnectionState.Connecting]: [ConnectionState.Connected, ConnectionState.Disconnected],
  [ConnectionState.Connected]: [ConnectionState.Disconnected, ConnectionState.Reconnecting],
  [ConnectionState.Reconnecting]: [ConnectionState.Connected, ConnectionState.Disconnected],
};
const REGISTRATION: Record<RegistrationState, readonly RegistrationState[]> = {
  [RegistrationState.Unregistered]: [RegistrationState.Registering],
  [RegistrationState.Registering]: [RegistrationState.Registered, RegistrationState.Unregistered],
  [RegistrationState.Registered]: [RegistrationState.Unregistered],
};

/** Options for {@link Softphone}. */
export interface SoftphoneOptions {
  /** Gateway base URL, e.g. `https://gateway.example.com/` (ws/wss URLs work too). */
  url: string;
  /** Access token from {@link login}, or a function that returns a fresh one (called on each connect). */
  token: string | (() => Promise<string>);
  /** Play the far end's audio automatically (default true). */
  autoPlayRemoteAudio?: boolean;
  /**
   * What to do when the connection drops: reconnect with jittered exponential backoff (default:
   * 0.5 s doubling to 4 s, for up to 5 minutes), with these backoff options, with your own
   * {@link ReconnectPolicy}, or `false` to stay disconnected. Calls stay up meanwhile (the
   * gateway keeps them for its grace period, 30 s by default).
   */
  reconnect?: BackoffOptions | ReconnectPolicy | false;
  /**
   * STUN/TURN servers for the browser's side of the media (`RTCIceServer`s). Not needed when the
   * gateway has a public address and UDP reaches it; for agents behind firewalls that allow only
   * TCP/TLS 443, a TURN server (e.g. coturn) on 443 relays their audio. See docs/deploy.md.
   */
  iceServers?: RTCIceServer[];
  /**
   * Call quality monitoring: how often each call samples its statistics (default every 2 s) and
   * when warnings start (`call.on('quality' | 'warning' | 'warningCleared')`).
   */
  quality?: QualityOptions;
  /** Microphone processing (echo cancellation, noise suppression, auto gain: the browser's defaults when absent). */
  audio?: AudioProcessing;
  /**
   * Ring while a call is offered (default true): the built-in tone, or `{ url }` a sound file
   * (looped). It plays on `phone.audio`'s ringer device; a browser that blocks it is reported by
   * `phone.audio.on('autoplayBlocked')`.
   */
  ringtone?: boolean | {
    /** A sound file to ring with (looped). */
    url: string;
  };
  /** @internal Replace the signaling implementation (tests, alternative stacks). */
  signaling?: SignalingFactory;
}

/** Events of a {@link Softphone}. */
export type SoftphoneEvents = {
  /** The connection to the gateway changed state (with the error, when it failed). */
  connectionStateChanged: [state: ConnectionState, error?: SwitchboardError];
  /** The registration changed: the phone can (not) receive calls. */
  registrationStateChanged: [state: RegistrationState, error?: SwitchboardError];
  /** A call is ringing for this agent. */
  incoming: [call: Call];
  /** A call joined {@link Softphone.calls} — incoming (with `incoming`), dialled, or a supervision session. */
  callAdded: [call: Call];
  /** The connection dropped; attempt `attempt` follows in `delayMs`. Calls stay up meanwhile. */
  reconnecting: [info: ReconnectingInfo];
  /** Connected and registered again; calls that survived are attached to the new connection. */
  reconnected: [];
  /** The connection is gone for good: reconnecting gave up (`error` says why) or `disconnect()` was called. */
  disconnected: [error?: SwitchboardError];
  /**
   * The gateway is shutting down: it takes no new calls, calls in progress may go on until
   * `deadline` (ms since the epoch); the softphone then reconnects (to it restarted, or to
   * another gateway behind the same address).
   */
  draining: [info: DrainingInfo];
  /**
   * A failure nothing awaited: the agent state could not be loaded after connecting or
   * reconnecting (the phone still works; `phone.agent` stays empty), or a message from the
   * gateway could not be handled. Calls report their own failures on the call.
   */
  error: [error: SwitchboardError];
};

/** A reconnect attempt about to happen (see {@link SoftphoneEvents.reconnecting}). */
export interface ReconnectingInfo {
  /** 1 for the first attempt after the drop. */
  attempt: number;
  /** How long until this attempt, ms. */
  delayMs: number;
  /** Why the last attempt (or the connection) failed. */
  error?: SwitchboardError;
}

/** What {@link Softphone.setAudioRoute} reports: the route, and the SIP devices that will ring. */
export interface AudioRouteInfo {
  /** Where call audio goes now. */
  route: AudioRoute;
  /** The user's registered SIP devices (in device mode they ring instead of the browser). */
  devices: AudioDevice[];
}

/** One of the user's registered SIP devices (see {@link AudioRouteInfo}). */
export interface AudioDevice {
  /** Its User-Agent, as it registered (empty when it sent none). */
  userAgent: string;
  /** The SIP transport it registered over (`UDP`, `TCP`, `TLS`). */
  transport: string;
  /** Where it registered from (`host:port`). */
  address: string;
  /**
   * How it picks up when the call is answered on the desktop: `header` — on the gateway's
   * auto-answer headers; `device` — it answers every call by itself (called only on answer);
   * `none` — when its handset is lifted.
   */
  autoAnswer: 'header' | 'device' | 'none';
}

/** The gateway is shutting down (see {@link SoftphoneEvents.draining}). */
export interface DrainingInfo {
  /** Until when calls in progress may go on (ms since the epoch). */
  deadline: number;
}

/** Result of {@link login}. */
export interface LoginResult {
  /** The access token (a JWT) for `Softphone`. */
  token: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
  /** The user it was issued to. */
  username: string;
  /** The user's role. */
  role: 'agent' | 'supervisor' | 'admin';
}

/** Exchanges a user name and password for an access token at the gateway (`POST /api/login`). */
export async function login(opts: { url: string; username: string; password: string }): Promise<LoginResult> {
  if (!opts.username || !opts.password) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'User name and password are required');
  let res: Response;
  try {
    res = await fetch(new URL('/api/login', httpBase(opts.url)), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: opts.username, password: opts.password }),
    });
  } catch (err) {
    throw await whyUnreachable(opts.url, err);
  }
  const body = (await res.json().catch(() => ({}))) as Partial<LoginResult> & { error?: { message?: string } };
  if (res.status === 401) throw new SwitchboardError('SB_AUTH_FAILED', body.error?.message ?? 'Wrong user name or password', { status: 401 });
  if (res.status === 429) throw new SwitchboardError('SB_LOCKED_OUT', body.error?.message ?? ERROR_CATALOG.SB_LOCKED_OUT.description, { status: 429 });
  if (!res.ok || !body.token) throw new SwitchboardError('SB_CONNECTION_FAILED', body.error?.message ?? `Login failed (HTTP ${res.status})`, { status: res.status });
  return body as LoginResult;
}

/**
 * A request to the gateway failed without an answer the page may read: either the gateway is
 * unreachable, or it refused this page's origin (CORS hides which). `/api/ping` answers every
 * origin and says whether this one is allowed.
 */
async function whyUnreachable(url: string, cause: unknown): Promise<SwitchboardError> {
  try {
    const res = await fetch(new URL('/api/ping', httpBase(url)), { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { originAllowed?: boolean };
    if (body.originAllowed === false) return new SwitchboardError('SB_ORIGIN_REFUSED', `The gateway at ${url} does not accept requests from ${typeof location !== 'undefined' ? location.origin : 'this origin'}`, { cause });
  } catch {
    // unreachable indeed
  }
  return new SwitchboardError('SB_CONNECTION_FAILED', `Cannot reach the gateway at ${url}`, { cause });
}

function httpBase(url: string): string {
  return url.replace(/^ws(s?):/, 'http$1:');
}

function wsUrl(url: string, token: string): string {
  const u = new URL('/sip', httpBase(url));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('access_token', token);
  return u.toString();
}

/** Reads the (unverified) claims of our own token: the user name and expiry. */
function claimsOf(token: string): { sub: string; exp: number } {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const c = JSON.parse(json) as { sub?: unknown; exp?: unknown };
    if (typeof c.sub === 'string' && typeof c.exp === 'number') return { sub: c.sub, exp: c.exp };
  } catch {
    // fall through
  }
  throw new SwitchboardError('SB_AUTH_FAILED', 'The access token is malformed');
}

/** A browser softphone connected to a Switchboard gateway. */
export class Softphone extends Emitter<SoftphoneEvents> {
  private readonly connection: StateMachine<ConnectionState>;
  private readonly registration: StateMachine<RegistrationState>;
  private signaling?: SignalingClient;
  private deviceLine?: DeviceLine;
  private route: AudioRoute = 'browser';
  /**
   * The agent's audio devices: microphone, call audio output, ringer (`list()`,
   * `setInputDevice()`, `setOutputDevice()`, `setRingerDevice()`), the ringtone, `unlock()`.
   */
  readonly audio: AudioDevices;
  private readonly active = new Set<Call>();
  private username?: string;
  /** This user's agent state, reason codes and queue statistics (docs/contact-center.md). */
  readonly agent = new Agent();
  /**
   * Supervision (supervisors and admins): live calls, and monitor / whisper / barge on an
   * agent's call (docs/conference.md).
   */
  readonly supervisor = new Supervisor(() => {
    const s = this.signaling;
    if (!s || this.registration.state !== RegistrationState.Registered) return undefined;
    return {
      command: (m) => s.command(m),
      superviseCall: async (target: string, mode: SupervisionMode) => this.track(new Call(await s.invite(target, { headers: [`X-Switchboard-Supervise: ${mode}`] }), this.callOptions())),
    };
  });

  constructor(private readonly options: SoftphoneOptions) {
    super();
    if (!options?.url) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'options.url is required');
    if (!options.token) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'options.token is required');
    this.connection = new StateMachine<ConnectionState>(ConnectionState.Disconnected, CONNECTION, (s) => this.emit('connectionStateChanged', s, this.lastError));
    this.registration = new StateMachine<RegistrationState>(RegistrationState.Unregistered, REGISTRATION, (s) => this.emit('registrationStateChanged', s, this.lastError));
    this.audio = new AudioDevices({
      useInput: async () => {
        await Promise.all(this.calls.map((c) => c._useAudioInput()));
        this.meterActive();
      },
      useOutput: async (id) => void (await Promise.all(this.calls.map((c) => c._setOutput(id)))),
    }, options.audio);
    if (typeof options.ringtone === 'object') this.audio.ringer.url = options.ringtone.url;
  }

  /** Level meters follow the active call: the connected one not held by this agent. */
  private meterActive(): void {
    const active = activeCall(this.calls);
    this.audio.meterCall(active && { local: active.localStream, remote: active.remoteStream });
  }

  /** Rings while any call is offered (unless `ringtone: false`). */
  private ringFor(call: Call): void {
    if (this.options.ringtone === false) return;
    void this.audio.ring(true);
    call.on('stateChanged', (s) => {
      if (s !== CallState.Ringing && !this.calls.some((c) => c !== call && c.state === CallState.Ringing)) void this.audio.ring(false);
    });
  }

  private lastError: SwitchboardError | undefined;

  /** Transport connection state. */
  get connectionState(): ConnectionState {
    return this.connection.state;
  }

  /** Registration state. */
  get registrationState(): RegistrationState {
    return this.registration.state;
  }

  /** The logged-in user (from the token), once connected. */
  get user(): string | undefined {
    return this.username;
  }

  /** Calls that have not ended. */
  get calls(): Call[] {
    return [...this.active];
  }

  /**
   * Connects to the gateway and registers. Resolves when calls can be placed and received;
   * rejects with `SB_AUTH_FAILED`, `SB_CONNECTION_FAILED` or `SB_REGISTRATION_FAILED`.
   */
  async connect(): Promise<void> {
    if (this.connection.state !== ConnectionState.Disconnected) throw new SwitchboardError('SB_INVALID_STATE', `Already ${this.connection.state}`);
    const token = await this.freshToken();
    const claims = claimsOf(token);
    this.username = claims.sub;
    const domain = new URL(httpBase(this.options.url)).hostname;
    const signaling = (this.options.signaling ?? sipJsSignaling)({ server: wsUrl(this.options.url, token), user: claims.sub, domain, userAgent: 'Switchboard-SDK/0.2', audio: () => this.audio.constraints(), ...(this.options.iceServers ? { iceServers: this.options.iceServers } : {}) });
    this.signaling = signaling;
    signaling.on('connection', (state, error, lost) => {
      if (this.signaling !== signaling) return;
      if (state === 'disconnected' && lost && this.connection.state === ConnectionState.Connected) {
        void this.reconnectLoop(signaling, error);
        return;
      }
      // While reconnecting, the loop below owns the state; otherwise follow the transport.
      if (this.connection.state === ConnectionState.Reconnecting) return;
      this.lastError = error;
      this.connection.to(state as ConnectionState);
    });
    signaling.on('registration', (state: SignalingRegistrationState, error) => {
      this.lastError = error;
      this.registration.to(state as RegistrationState);
    });
    signaling.on('incoming', (session) => {
      const call = this.track(new Call(session, this.callOptions()));
      this.ringFor(call);
      this.emit('incoming', call);
    });
    const line = new DeviceLine((m) => signaling.command(m), (session) => {
      const call = this.track(new Call(session, this.callOptions()));
      this.ringFor(call);
      this.emit('incoming', call);
    });
    this.deviceLine = line;
    signaling.on('message', (body) => {
      if (body.type === 'device-call' || body.type === 'device-control') {
        try {
          const ev = parseGatewayEvent(body);
          if (ev?.type === 'device-call') line.status(ev.call);
          else if (ev?.type === 'device-control') line.control(ev.callId, ev.message);
        } catch (err) {
          if (err instanceof ProtocolError) console.warn(`[switchboard] device event ignored: ${err.message}`);
          else throw err;
        }
      } else if (body.type === 'gateway' && body.state === 'draining') this.emit('draining', { deadline: typeof body.deadline === 'number' ? body.deadline : Date.now() });
      else {
        try {
          this.agent.receive(body);
        } catch (err) {
          this.asyncError(`A gateway message (${String(body.type)}) could not be handled`, err);
        }
      }
    });
    try {
      await signaling.connect();
    } catch (err) {
      this.signaling = undefined;
      const e = err instanceof SwitchboardError ? err : new SwitchboardError('SB_CONNECTION_FAILED', String(err), { cause: err });
      // The WebSocket upgrade refused (the browser hides why): an origin refusal, or not reachable.
      throw e.code === 'SB_CONNECTION_FAILED' ? await whyUnreachable(this.options.url, e) : e;
    }
    // The agent's state and codes; a gateway without the contact center still gives a phone.
    await this.agent.attach((m) => signaling.command(m)).catch((err) => this.asyncError('The agent state could not be loaded', err));
  }

  /** A token for the next connection: the function's fresh one, or the given one while it is valid. */
  private async freshToken(): Promise<string> {
    let token: string;
    try {
      token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    } catch (err) {
      throw new SwitchboardError('SB_AUTH_FAILED', 'The token function failed', { cause: err });
    }
    if (claimsOf(token).exp * 1000 <= Date.now()) throw new SwitchboardError('SB_AUTH_FAILED', 'The access token has expired; log in again');
    return token;
  }

  private policy(): ReconnectPolicy | undefined {
    const r = this.options.reconnect;
    if (r === false) return undefined;
    if (r && typeof (r as ReconnectPolicy).nextDelayMs === 'function') return r as ReconnectPolicy;
    return new ExponentialBackoff((r ?? {}) as BackoffOptions);
  }

  /**
   * The connection dropped: calls stay up (their media flows over UDP; the gateway keeps them for
   * its grace period) while we reconnect by the policy, with a fresh token each time. Back, every
   * call is re-attached (or ended with `SB_CALL_LOST` when the gateway ended it meanwhile).
   */
  private async reconnectLoop(signaling: SignalingClient, error: SwitchboardError | undefined): Promise<void> {
    const policy = this.policy();
    this.lastError = error;
    if (!policy) return this.giveUp(signaling, error);
    this.connection.to(ConnectionState.Reconnecting);
    for (const call of this.calls) call._connectionLost();
    const started = Date.now();
    let lastError = error;
    for (let attempt = 1; ; attempt++) {
      const delayMs = policy.nextDelayMs({ attempt, elapsedMs: Date.now() - started });
      if (delayMs === undefined) return this.giveUp(signaling, lastError);
      this.emit('reconnecting', { attempt, delayMs, ...(lastError ? { error: lastError } : {}) });
      await new Promise((r) => setTimeout(r, delayMs));
      if (this.signaling !== signaling) return; // disconnect() meanwhile
      let token: string;
      try {
        token = await this.freshToken();
      } catch (err) {
        return this.giveUp(signaling, err as SwitchboardError);
      }
      try {
        await signaling.reconnect(wsUrl(this.options.url, token));
        break;
      } catch (err) {
        lastError = err instanceof SwitchboardError ? err : new SwitchboardError('SB_CONNECTION_FAILED', String(err), { cause: err });
        if (lastError.code === 'SB_AUTH_FAILED') return this.giveUp(signaling, lastError);
      }
      if (this.signaling !== signaling) return;
    }
    this.lastError = undefined;
    this.connection.to(ConnectionState.Connected);
    await Promise.all(this.calls.map((c) => c._reattach()));
    // Device mode lives on the gateway per user; say it again in case the gateway restarted.
    if (this.route === 'device') await this.setAudioRoute('device').catch((err) => this.asyncError('Device mode could not be restored after reconnecting', err));
    await this.agent.reattach().catch((err) => this.asyncError('The agent state could not be loaded again after reconnecting', err));
    this.emit('reconnected');
  }

  /** Reports a failure nothing awaits as an `error` event. */
  private asyncError(what: string, err: unknown): void {
    this.emit('error', err instanceof SwitchboardError ? err : new SwitchboardError('SB_CONNECTION_FAILED', `${what}: ${String(err)}`, { cause: err }));
  }

  private async giveUp(signaling: SignalingClient, error: SwitchboardError | undefined): Promise<void> {
    if (this.signaling !== signaling) return;
    this.signaling = undefined;
    this.agent.detach();
    const err = error ?? new SwitchboardError('SB_CONNECTION_FAILED', 'The connection to the gateway was lost');
    this.lastError = err;
    await Promise.all(this.calls.map((c) => c._connectionGone(err)));
    await signaling.disconnect().catch(() => undefined);
    this.registration.to(RegistrationState.Unregistered);
    this.connection.to(ConnectionState.Disconnected);
    this.emit('disconnected', err);
  }

  private callOptions(): ConstructorParameters<typeof Call>[1] {
    return {
      autoPlay: this.options.autoPlayRemoteAudio ?? true,
      outputDevice: () => this.audio.outputDeviceId,
      dial: (t) => this.dial(t),
      wrapUp: (o) => this.agent.wrapUp(o),
      ...(this.options.quality ? { quality: this.options.quality } : {}),
      attach: async (callId, attributes) => {
        if (!this.signaling) throw new SwitchboardError('SB_NOT_CONNECTED');
        const reply = await this.signaling.command({ type: 'call-data', callId, attributes } satisfies CenterCommand);
        try {
          return parseCallData(reply.data);
        } catch (err) {
          throw new SwitchboardError('SB_PROTOCOL_ERROR', `The gateway's reply: ${(err as Error).message}`);
        }
      },
    };
  }

  /** Hangs up every call, unregisters and disconnects. Idempotent. */
  async disconnect(): Promise<void> {
    const s = this.signaling;
    if (!s) return;
    this.signaling = undefined;
    this.agent.detach();
    await Promise.all(this.calls.map((c) => c.hangup().catch(() => undefined)));
    await s.disconnect();
    this.lastError = undefined;
    this.registration.to(RegistrationState.Unregistered);
    this.connection.to(ConnectionState.Disconnected);
    this.emit('disconnected');
  }

  /** Where call audio goes: `browser` (this page, WebRTC) or `device` (the user's SIP device). */
  get audioRoute(): AudioRoute {
    return this.route;
  }

  /**
   * Chooses where call audio goes. `device`: calls ring on the user's SIP desk phone or headset
   * base (not in the browser) and still appear here as `incoming` calls that this page drives —
   * `answer()` makes the device pick up by itself, `dial()` calls the device first and then the
   * target (click-to-dial), hold, transfer, DTMF and hang-up are carried out by the gateway.
   * Resolves with the devices that will ring and how each picks up (`header`: on the gateway's
   * auto-answer headers; `device`: by itself; `none`: when its handset is lifted).
   * @throws SB_INVALID_STATE when no SIP device of this user is registered; SB_NOT_CONNECTED.
   */
  async setAudioRoute(route: AudioRoute): Promise<AudioRouteInfo> {
    if (route !== 'browser' && route !== 'device') throw new SwitchboardError('SB_INVALID_ARGUMENT', 'The audio route is browser or device');
    if (!this.signaling) throw new SwitchboardError('SB_NOT_CONNECTED');
    const reply = await this.signaling.command({ type: 'audio-route', route });
    this.route = route;
    const devices = Array.isArray(reply.devices) ? (reply.devices as AudioDevice[]) : [];
    return { route, devices };
  }

  /**
   * Checks the line before a shift: connects if needed, calls the gateway's echo test for a few
   * seconds, and reports RTT, jitter, loss, MOS, the microphone's level and the output device
   * (then disconnects again if it connected only for this).
   * @throws the connection error (SB_CONNECTION_FAILED when the gateway is unreachable,
   *         SB_AUTH_FAILED…), SB_MEDIA_DENIED when the microphone is refused, SB_CALL_FAILED or
   *         SB_MEDIA_FAILED when the echo call does not connect or carries no audio.
   */
  async preflight(opts: PreflightOptions = {}): Promise<PreflightReport> {
    const connectedHere = this.connection.state === ConnectionState.Disconnected;
    if (connectedHere) await this.connect();
    try {
      return await runPreflight((t) => this.dial(t), this.audio.outputDeviceId, opts);
    } finally {
      if (connectedHere) await this.disconnect().catch(() => undefined);
    }
  }

  /**
   * Calls a user name, extension or number. Resolves with the {@link Call} once the request is
   * on its way; how it goes is reported by the call's events (a failed call ends with a coded
   * error such as `SB_TARGET_NOT_FOUND`). Rejects with `SB_NOT_CONNECTED` or `SB_INVALID_ARGUMENT`.
   */
  async dial(target: string): Promise<Call> {
    const t = typeof target === 'string' ? target.trim() : '';
    if (!t || !/^[A-Za-z0-9.+_*#-]{1,64}$/.test(t)) throw new SwitchboardError('SB_INVALID_ARGUMENT', `"${String(target)}" is not a number or user name that can be dialled`);
    if (!this.signaling || this.registration.state !== RegistrationState.Registered) throw new SwitchboardError('SB_NOT_CONNECTED');
    // Device mode: click-to-dial — the device picks up by itself, then the target is called.
    if (this.route === 'device' && this.deviceLine) return this.track(new Call(await this.deviceLine.dial(t), this.callOptions()));
    const session = await this.signaling.invite(t);
    return this.track(new Call(session, this.callOptions()));
  }

  private track(call: Call): Call {
    this.active.add(call);
    call.on('ended', () => {
      this.active.delete(call);
      this.meterActive();
    });
    call.on('stateChanged', () => this.meterActive());
    call.on('holdChanged', () => this.meterActive());
    this.emit('callAdded', call);
    return call;
  }
}
