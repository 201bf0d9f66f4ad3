/**
 * The entry point of the SDK: connect an agent's browser to the gateway, register, place and
 * receive calls.
 */
import { Agent } from './agent.js';
import { Call } from './call.js';
import { Emitter } from './emitter.js';
import { SwitchboardError } from './errors.js';
import { sipJsSignaling } from './signaling/sipjs.js';
import type { SignalingClient, SignalingFactory, SignalingRegistrationState } from './signaling/types.js';
import { StateMachine } from './state.js';

/** Connection state of a {@link Softphone}. */
export enum ConnectionState {
  Disconnected = 'disconnected',
  Connecting = 'connecting',
  Connected = 'connected',
}

/** Registration state: whether calls can reach this softphone. */
export enum RegistrationState {
  Unregistered = 'unregistered',
  Registering = 'registering',
  Registered = 'registered',
}

const CONNECTION: Record<ConnectionState, readonly ConnectionState[]> = {
  [ConnectionState.Disconnected]: [ConnectionState.Connecting],
  [ConnectionState.Connecting]: [ConnectionState.Connected, ConnectionState.Disconnected],
  [ConnectionState.Connected]: [ConnectionState.Disconnected],
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
  /** @internal Replace the signaling implementation (tests, alternative stacks). */
  signaling?: SignalingFactory;
}

/** Events of a {@link Softphone}. */
export type SoftphoneEvents = {
  connectionStateChanged: [state: ConnectionState, error?: SwitchboardError];
  registrationStateChanged: [state: RegistrationState, error?: SwitchboardError];
  /** A call is ringing for this agent. */
  incoming: [call: Call];
};

/** Result of {@link login}. */
export interface LoginResult {
  token: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
  username: string;
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
    throw new SwitchboardError('SB_CONNECTION_FAILED', `Cannot reach the gateway at ${opts.url}`, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as Partial<LoginResult> & { error?: { message?: string } };
  if (res.status === 401) throw new SwitchboardError('SB_AUTH_FAILED', body.error?.message ?? 'Wrong user name or password', { status: 401 });
  if (!res.ok || !body.token) throw new SwitchboardError('SB_CONNECTION_FAILED', body.error?.message ?? `Login failed (HTTP ${res.status})`, { status: res.status });
  return body as LoginResult;
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
  private readonly active = new Set<Call>();
  private username?: string;
  /** This user's agent state, reason codes and queue statistics (docs/contact-center.md). */
  readonly agent = new Agent();

  constructor(private readonly options: SoftphoneOptions) {
    super();
    if (!options?.url) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'options.url is required');
    if (!options.token) throw new SwitchboardError('SB_INVALID_ARGUMENT', 'options.token is required');
    this.connection = new StateMachine<ConnectionState>(ConnectionState.Disconnected, CONNECTION, (s) => this.emit('connectionStateChanged', s, this.lastError));
    this.registration = new StateMachine<RegistrationState>(RegistrationState.Unregistered, REGISTRATION, (s) => this.emit('registrationStateChanged', s, this.lastError));
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
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    const claims = claimsOf(token);
    if (claims.exp * 1000 <= Date.now()) throw new SwitchboardError('SB_AUTH_FAILED', 'The access token has expired; log in again');
    this.username = claims.sub;
    const domain = new URL(httpBase(this.options.url)).hostname;
    const signaling = (this.options.signaling ?? sipJsSignaling)({ server: wsUrl(this.options.url, token), user: claims.sub, domain, userAgent: 'Switchboard-SDK/0.1' });
    this.signaling = signaling;
    signaling.on('connection', (state, error) => {
      this.lastError = error;
      this.connection.to(state as ConnectionState);
    });
    signaling.on('registration', (state: SignalingRegistrationState, error) => {
      this.lastError = error;
      this.registration.to(state as RegistrationState);
    });
    signaling.on('incoming', (session) => {
      const call = this.track(new Call(session, this.callOptions()));
      this.emit('incoming', call);
    });
    signaling.on('message', (body) => this.agent.receive(body));
    try {
      await signaling.connect();
    } catch (err) {
      this.signaling = undefined;
      throw err instanceof SwitchboardError ? err : new SwitchboardError('SB_CONNECTION_FAILED', String(err), { cause: err });
    }
    // The agent's state and codes; a gateway without the contact center still gives a phone.
    await this.agent.attach((m) => signaling.command(m)).catch(() => undefined);
  }

  private callOptions(): ConstructorParameters<typeof Call>[1] {
    return {
      autoPlay: this.options.autoPlayRemoteAudio ?? true,
      dial: (t) => this.dial(t),
      wrapUp: (o) => this.agent.wrapUp(o),
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
    const session = await this.signaling.invite(t);
    return this.track(new Call(session, this.callOptions()));
  }

  private track(call: Call): Call {
    this.active.add(call);
    call.on('ended', () => this.active.delete(call));
    return call;
  }
}
