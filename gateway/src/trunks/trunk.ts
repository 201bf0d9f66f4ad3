/**
 * One SIP trunk to a PBX or carrier: registration client (RFC 3261 §10.2 with digest, §22),
 * OPTIONS keep-alive health, addressing, number normalization and inbound matching.
 *
 * Registration: REGISTER with credentials on 401/407, refresh before expiry (60 s early, or at
 * half the lifetime for short ones), 423 → retry with Min-Expires, any failure → retry with
 * exponential backoff (2 s doubling to 5 min) — which also covers transport errors.
 * Health: OPTIONS every `optionsInterval` s; any answer except 408/503 (a 200, a 501, even a
 * 401) proves the trunk alive; `optionsMisses` misses in a row mark it down. Failed call setup
 * on a trunk ({@link Trunk.reportFailure}) triggers an immediate probe.
 */
import type { TrunkConfig } from '../config.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { log } from '../util/log.js';
import type { SipCore } from '../sip/core.js';
import { authorizationFor } from '../sip/digest.js';
import { randomToken, SipRequest, type SipResponse } from '../sip/message.js';
import type { Source, Target, TransportName } from '../sip/transport/types.js';

/** Whether calls can use the trunk. */
export type TrunkHealth = 'up' | 'down';
/** Registration state, as shown in `/api/health`. */
export type RegistrationState = 'disabled' | 'registering' | 'registered' | 'failed';

/** Events of a trunk. */
export type TrunkEvents = {
  health: [health: TrunkHealth];
  registration: [state: RegistrationState, detail: string];
};

/** A trunk's status document. */
export interface TrunkStatus {
  name: string;
  health: TrunkHealth;
  registration: RegistrationState;
  registrationDetail: string;
  registeredUntil?: string;
  lastRegistrationMs?: number;
  optionsMisses: number;
  callsOut: number;
  callsIn: number;
  /** Calls using it now. */
  active: number;
  registrations: number;
}

const MAX_BACKOFF_MS = 300_000;

/** A configured trunk. */
export class Trunk extends Emitter<TrunkEvents> {
  health: TrunkHealth = 'up';
  registration: RegistrationState;
  registrationDetail = '';
  callsOut = 0;
  callsIn = 0;
  /** Calls using this trunk now (ringing or connected, in or out): its channels in use. */
  active = 0;

  /** Whether another call may use the trunk now (`maxConcurrentCalls`). */
  get hasRoom(): boolean {
    return this.active < (this.config.maxConcurrentCalls ?? Number.POSITIVE_INFINITY);
  }
  /** Successful registrations since start (refreshes included). */
  registrations = 0;
  private misses = 0;
  private cseq = 1;
  private readonly callId = `${randomToken(10)}@switchboard`;
  private readonly fromTag = randomToken(6);
  private expires: number;
  private registeredUntil?: number;
  private lastRegistrationMs?: number;
  private backoffMs = 2000;
  private regTimer?: TimerHandle;
  private optTimer?: TimerHandle;
  private stopped = false;
  private probing = false;

  constructor(
    readonly config: TrunkConfig,
    private readonly core: SipCore,
    private readonly clock: Clock,
  ) {
    super();
    this.expires = config.expires ?? 600;
    this.registration = this.registers ? 'registering' : 'disabled';
  }

  get name(): string {
    return this.config.name;
  }

  private get registers(): boolean {
    return this.config.register ?? !!this.config.password;
  }

  get transport(): TransportName {
    return (this.config.transport ?? 'udp').toUpperCase() as TransportName;
  }

  get domain(): string {
    return this.config.domain ?? this.config.host;
  }

  /** Where requests to this trunk are sent (the outbound proxy if configured). */
  get target(): Target {
    const hp = this.config.outboundProxy ?? `${this.config.host}:${this.config.port ?? (this.transport === 'TLS' ? 5061 : 5060)}`;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp)!;
    return { transport: this.transport, host: m[1]!, port: m[2] ? Number(m[2]) : this.transport === 'TLS' ? 5061 : 5060 };
  }

  private get hostPart(): string {
    const port = this.config.port;
    const t = this.config.transport && this.config.transport !== 'udp' ? `;transport=${this.config.transport}` : '';
    return `${this.domain}${port ? `:${port}` : ''}${t}`;
  }

  /** The Request-URI for a number on this trunk. */
  requestUri(user: string): string {
    return `sip:${user}@${this.hostPart}`;
  }

  /** Outbound number formatting: as dialled, or E.164 (`+` country code national number). */
  normalize(number: string): string {
    const digits = number.replace(/[\s().-]/g, '');
    const cc = this.config.e164CountryCode;
    if (!cc || digits.startsWith('+')) return digits;
    if (digits.startsWith('00')) return `+${digits.slice(2)}`;
    if (digits.startsWith('0')) return `+${cc}${digits.slice(1)}`;
    return digits.startsWith(cc) && digits.length > 10 ? `+${digits}` : `+${cc}${digits}`;
  }

  /** Digest credentials for challenges from this trunk. */
  get credentials(): { username: string; password: string } | undefined {
    const c = this.config;
    return c.password ? { username: c.authUsername ?? c.username, password: c.password } : undefined;
  }

  /**
   * Whether a request came from this trunk: its source address is the trunk's (or a configured
   * extra address) and its top Via names the trunk's host and port — a device on the same host
   * with another port is not the trunk.
   */
  matches(req: SipRequest, source: Source): boolean {
    const addrs = [this.config.host, this.target.host, ...(this.config.matchAddresses ?? [])];
    if (!addrs.includes(source.address)) return false;
    if (this.config.matchAddresses?.includes(source.address)) return true;
    const via = req.via;
    const port = this.config.port ?? (this.transport === 'TLS' ? 5061 : 5060);
    return addrs.includes(via.host) && (via.port ?? 5060) === port;
  }

  /** The local user/extension a dialled number maps to, if any (digits compared, formatting ignored). */
  didTarget(dialled: string): string | undefined {
    const dids = this.config.dids ?? {};
    const key = (s: string) => s.replace(/[^\d]/g, '');
    const want = key(dialled);
    for (const [did, target] of Object.entries(dids)) if (key(did) === want && want) return target;
    return undefined;
  }

  /** Starts registration and health checks. */
  start(): void {
    if (this.registers) this.register();
    if ((this.config.optionsInterval ?? 30) > 0) this.scheduleOptions(1000);
  }

  /** Stops timers (and unregisters when registered). */
  stop(): void {
    this.stopped = true;
    if (this.regTimer) this.clock.clearTimeout(this.regTimer);
    if (this.optTimer) this.clock.clearTimeout(this.optTimer);
    if (this.registration === 'registered') this.sendRegister(0, undefined, () => undefined);
  }

  /** Call setup on this trunk failed with a timeout or 503: probe now instead of waiting. */
  reportFailure(): void {
    if (!this.stopped) this.probe();
  }

  status(): TrunkStatus {
    const s: TrunkStatus = {
      name: this.name, health: this.health, registration: this.registration, registrationDetail: this.registrationDetail,
      optionsMisses: this.misses, callsOut: this.callsOut, callsIn: this.callsIn, active: this.active, registrations: this.registrations,
    };
    if (this.registeredUntil !== undefined) s.registeredUntil = new Date(Date.now() + (this.registeredUntil - this.clock.now())).toISOString();
    if (this.lastRegistrationMs !== undefined) s.lastRegistrationMs = Math.round(this.lastRegistrationMs);
    return s;
  }

  private setHealth(h: TrunkHealth, why: string): void {
    if (this.health === h) return;
    this.health = h;
    log[h === 'up' ? 'info' : 'warn']('trunk', `${this.name} is ${h}: ${why}`);
    this.emit('health', h);
  }

  private setRegistration(state: RegistrationState, detail: string): void {
    const changed = state !== this.registration || detail !== this.registrationDetail;
    this.registration = state;
    this.registrationDetail = detail;
    if (changed) {
      log[state === 'failed' ? 'warn' : 'info']('trunk', `${this.name} registration ${state}${detail ? `: ${detail}` : ''}`);
      this.emit('registration', state, detail);
    }
  }

  // --- registration (§10.2) ---

  private register(): void {
    if (this.stopped) return;
    const t0 = performance.now();
    if (this.registration !== 'registered') this.setRegistration('registering', '');
    this.sendRegister(this.expires, undefined, (res, err) => {
      if (this.stopped) return;
      if (res && res.status >= 200 && res.status < 300) {
        const granted = this.grantedExpires(res);
        this.lastRegistrationMs = performance.now() - t0;
        this.registeredUntil = this.clock.now() + granted * 1000;
        this.backoffMs = 2000;
        this.registrations++;
        this.setRegistration('registered', `${granted} s`);
        this.setHealth('up', 'registered');
        const refresh = granted >= 120 ? granted - 60 : granted / 2;
        this.regTimer = this.clock.setTimeout(() => this.register(), refresh * 1000);
        return;
      }
      if (res?.status === 423) {
        const min = Number(res.get('min-expires'));
        if (min > this.expires && min <= 86_400) {
          log.info('trunk', `${this.name}: 423, registering again with Min-Expires ${min}`);
          this.expires = min;
          this.regTimer = this.clock.setTimeout(() => this.register(), 0);
          return;
        }
      }
      const why = err ?? `${res!.status} ${res!.reason}`;
      this.registeredUntil = undefined;
      this.setRegistration('failed', `${why}; retry in ${Math.round(this.backoffMs / 1000)} s`);
      this.regTimer = this.clock.setTimeout(() => this.register(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    });
  }

  /** Expiry the registrar granted our contact (§10.2.4): Contact `expires`, else Expires, else ours. */
  private grantedExpires(res: SipResponse): number {
    const mine = `${this.config.username}@`;
    for (const c of res.getAll('contact')) {
      const m = /expires=(\d+)/i.exec(c);
      if (c.includes(mine) && m) return Number(m[1]);
    }
    const e = Number(res.get('expires'));
    return e > 0 ? e : this.expires;
  }

  private sendRegister(expires: number, authorization: [string, string] | undefined, done: (res?: SipResponse, err?: string) => void, attempts = 0): void {
    const { host, port } = this.core.sender.viaFor(this.transport);
    const aor = `<sip:${this.config.username}@${this.domain}>`;
    const req = this.newRequest('REGISTER', aor, this.fromTag, this.callId, this.cseq++);
    req.add('contact', `<sip:${this.config.username}@${host.includes(':') ? `[${host}]` : host}:${port};transport=${this.transport.toLowerCase()}>`);
    req.add('expires', expires);
    if (authorization) req.add(authorization[0], authorization[1]);
    this.core.txl.request(req, this.target, {
      onResponse: (res) => {
        if (res.status < 200) return;
        const creds = this.credentials;
        const auth = creds && authorizationFor(res, { ...creds, method: 'REGISTER', uri: req.uri, realm: this.config.realm }, attempts);
        if (auth) return this.sendRegister(expires, auth, done, attempts + 1);
        done(res);
      },
      onTimeout: () => done(undefined, 'no answer (timeout)'),
      onTransportError: (err) => done(undefined, `transport error: ${err.message}`),
    });
  }

  /** An out-of-dialog request to the trunk (§8.1.1): From us, To `to`, the trunk as Request-URI. */
  private newRequest(method: string, to: string, fromTag: string, callId: string, cseq: number): SipRequest {
    const req = new SipRequest(method, `sip:${this.hostPart}`);
    req.add('max-forwards', 70);
    req.add('from', `<sip:${this.config.username}@${this.domain}>;tag=${fromTag}`);
    req.add('to', to);
    req.add('call-id', callId);
    req.add('cseq', `${cseq} ${method}`);
    req.add('user-agent', this.core.opts.userAgent);
    return req;
  }

  // --- health (OPTIONS) ---

  private scheduleOptions(ms: number): void {
    if (this.stopped) return;
    if (this.optTimer) this.clock.clearTimeout(this.optTimer);
    this.optTimer = this.clock.setTimeout(() => this.probe(), ms);
  }

  private probe(): void {
    if (this.stopped || this.probing) return;
    this.probing = true;
    const req = this.newRequest('OPTIONS', `<sip:${this.domain}>`, randomToken(6), `${randomToken(10)}@switchboard`, 1);
    const interval = (this.config.optionsInterval ?? 30) * 1000;
    const started = this.clock.now();
    const finish = (alive: boolean, why: string) => {
      this.probing = false;
      if (alive) {
        this.misses = 0;
        const wasDown = this.health === 'down';
        this.setHealth('up', why);
        // A trunk that came back (maybe restarted, its registrations lost), or whose registration
        // failed: register again at once rather than at the next refresh or backoff.
        if (this.registers && (wasDown || this.registration === 'failed')) {
          if (this.regTimer) this.clock.clearTimeout(this.regTimer);
          this.backoffMs = 2000;
          this.register();
        }
      } else {
        this.misses++;
        if (this.misses >= (this.config.optionsMisses ?? 3)) this.setHealth('down', `${this.misses} OPTIONS unanswered (${why})`);
      }
      // Probes start every `interval` whatever their outcome took, so detection takes misses × interval.
      if (interval > 0) this.scheduleOptions(Math.max(0, interval - (this.clock.now() - started)));
    };
    // The first verdict counts: an answer, Timer F, a transport error, or — not waiting the full
    // 32 s of Timer F — no answer within most of the interval.
    let settled = false;
    const settle = (alive: boolean, why: string) => {
      if (settled) return;
      settled = true;
      this.clock.clearTimeout(guard);
      finish(alive, why);
    };
    const guard = this.clock.setTimeout(() => settle(false, 'no answer'), Math.max(400, Math.min((interval || 5000) * 0.8, 5000)));
    this.core.txl.request(req, this.target, {
      onResponse: (res) => {
        if (res.status >= 200) settle(res.status !== 408 && res.status !== 503, `OPTIONS ${res.status}`);
      },
      onTimeout: () => settle(false, 'timeout'),
      onTransportError: (err) => settle(false, err.message),
    });
  }
}
