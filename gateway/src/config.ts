/**
 * Gateway configuration: built-in demo defaults, a JSON file, then environment overrides,
 * validated with messages that name the offending key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { DigestAlgorithm } from './sip/digest.js';
import { DEFAULT_GUARD, type GuardOptions } from './sip/guard.js';
import { parseUri, type SipUri } from './sip/uri.js';
import type { Role } from './api/token.js';
import type { QueueConfig } from './center/acd.js';
import { readMusicWav } from './media/music.js';

/** A user of the gateway: an agent, supervisor or admin, with a SIP identity. */
export interface UserConfig {
  username: string;
  password: string;
  role: Role;
  displayName?: string;
  /** Dialable number, e.g. "1001". */
  extension?: string;
  /**
   * Digest algorithms for this user's SIP device, overriding `sip.digestAlgorithms`. Use
   * `["MD5"]` for phones that fail on SHA-256 challenges (baresip 1.0, many older desk phones).
   */
  digestAlgorithms?: DigestAlgorithm[];
  /**
   * A SIP URI for a device that does not register (a static desk phone, an IVR, a test peer):
   * calls to this user go there when no registration exists, e.g. `sip:3001@10.0.0.5:5060;transport=tcp`.
   */
  staticContact?: string;
  /** Agent skills with levels 1–10, matched against queue requirements (e.g. `{ "es": 7 }`). */
  skills?: Record<string, number>;
}

/** The contact-center core: where records go and how agents work (docs/contact-center.md). */
export interface CenterConfig {
  /** SQLite file for call records and agent history; `:memory:` keeps them in memory only. */
  database: string;
  /** After-call work: agents return to available this long after a queue call (0 = manual). */
  wrapUpSeconds: number;
  /** Not-ready reason codes agents may choose ("missed" is added: the ACD sets it on ring-no-answer). */
  notReadyReasons: string[];
  /** Wrap-up (disposition) codes offered to agents; any code is accepted when empty. */
  wrapUpCodes: string[];
}

/** A SIP trunk to a PBX or carrier (docs/trunks.md). */
export interface TrunkConfig {
  /** Unique name, used in logs, metrics and `/api/health`. */
  name: string;
  /** Host (name or address) and port of the PBX/carrier. */
  host: string;
  port?: number;
  transport?: 'udp' | 'tcp' | 'tls';
  /** Send everything via this proxy instead (`host:port`). */
  outboundProxy?: string;
  /** SIP domain for From/To and REGISTER (defaults to `host`). */
  domain?: string;
  /** User part we register as and call from. */
  username: string;
  /** Digest user name when it differs from `username`. */
  authUsername?: string;
  password?: string;
  /** Only answer challenges for this realm (any realm when absent). */
  realm?: string;
  /** Register to the trunk (default true when a password is set). */
  register?: boolean;
  /** Requested registration lifetime in seconds (default 600). */
  expires?: number;
  /** Inbound: dialled number (To / Request-URI user, any format) → local user or extension. */
  dids?: Record<string, string>;
  /** Inbound: extra source addresses calls from this trunk may come from. */
  matchAddresses?: string[];
  /** Outbound caller ID (user part of From); defaults to `username`. */
  callerId?: string;
  /** Outbound number format: as dialled (default), or E.164 with this country code (`"1"`, `"44"`). */
  e164CountryCode?: string;
  /** Codec preference toward the trunk. */
  codecs?: Array<'PCMU' | 'PCMA'>;
  /** Lower is tried first (default 10); ties by weight, higher first. */
  priority?: number;
  weight?: number;
  /** OPTIONS keep-alive interval (s, default 30; 0 = off) and misses before the trunk is down (default 3). */
  optionsInterval?: number;
  optionsMisses?: number;
}

/** The whole configuration. */
export interface GatewayConfig {
  /** Address every listener binds to. */
  host: string;
  /** Host name or address to advertise in SIP and SDP (defaults to `host`). */
  advertisedHost?: string;
  http: {
    port: number;
    /** HTTPS + WSS port, served when `tls` is set (default 8443). */
    httpsPort?: number;
  };
  sip: {
    udpPort: number;
    tcpPort: number;
    /** SIP over TLS port, listened on when `tls` is set (default 5061). */
    tlsPort?: number;
    /** Stream connections (TCP, TLS, WebSocket) idle this long are closed. */
    idleTimeoutSeconds: number;
    /** Most inbound connections one address may hold. */
    maxConnectionsPerIp: number;
    realm: string;
    /** Challenge algorithms, most preferred first. */
    digestAlgorithms: DigestAlgorithm[];
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
  };
  media: {
    /** Media bind address (defaults to `host`). */
    address?: string;
    /** Media address announced in SDP/ICE (defaults to advertisedHost or the media address). */
    announcedAddress?: string;
    portRange?: [number, number];
    /** Run the packet path in a worker thread (default true). */
    worker: boolean;
    /** Music on hold: an 8 kHz mono 16-bit PCM WAV file; a built-in loop when absent. */
    musicOnHold?: string;
  };
  auth: {
    /** HMAC secret for access tokens; random per start when absent (tokens die with the process). */
    tokenSecret?: string;
    tokenTtlSeconds: number;
    /** Allowed Origin values for the SIP WebSocket; empty = same host as the page. */
    allowedOrigins: string[];
  };
  /** Certificate and key (PEM files) for SIP over TLS and HTTPS/WSS; both off when absent. */
  tls?: {
    certFile: string;
    keyFile: string;
    /** Verify certificates of TLS peers we connect to (trunks); default true. */
    verifyPeers?: boolean;
    /** Extra CA certificates (PEM file) to trust for those peers. */
    caFile?: string;
  };
  /** Abuse protection: rate limits, bans, scanner filtering (Kamailio-like defaults). */
  protection: GuardOptions;
  /** Extensions answered by the echo test. */
  echoExtensions: string[];
  /** PBX/carrier trunks (none by default). */
  trunks: TrunkConfig[];
  users: UserConfig[];
  /** Queues (ACD); none by default beyond the demo's. */
  queues: QueueConfig[];
  center: CenterConfig;
  /** Directories served over HTTP; defaults to the demo and the SDK bundle of this checkout. */
  staticDirs?: Array<{ prefix: string; dir: string }>;
}

/** Built-in defaults: a demo that works with no PBX and no config file. */
export function defaultConfig(): GatewayConfig {
  return {
    host: '127.0.0.1',
    http: { port: 8080 },
    sip: {
      udpPort: 5060, tcpPort: 5060, realm: 'switchboard', digestAlgorithms: ['SHA-256', 'MD5'], minExpires: 60, maxExpires: 3600, defaultExpires: 600,
      idleTimeoutSeconds: 600, maxConnectionsPerIp: 64,
    },
    protection: { ...DEFAULT_GUARD, scannerUserAgents: [...DEFAULT_GUARD.scannerUserAgents], trustedAddresses: [] },
    media: { worker: true },
    auth: { tokenTtlSeconds: 3600, allowedOrigins: [] },
    echoExtensions: ['600', 'echo'],
    trunks: [],
    users: [
      { username: 'alice', password: 'alice-demo', role: 'agent', displayName: 'Alice (agent)', extension: '1001', skills: { support: 5, es: 7 } },
      { username: 'bob', password: 'bob-demo', role: 'agent', displayName: 'Bob (agent)', extension: '1002', skills: { support: 8, sales: 5 } },
      { username: 'carol', password: 'carol-demo', role: 'supervisor', displayName: 'Carol (supervisor)', extension: '1003' },
      // A SIP desk phone; MD5 because many deployed phones (and baresip 1.0) cannot do SHA-256.
      { username: 'deskphone', password: 'deskphone-demo', role: 'agent', displayName: 'Desk phone', extension: '2001', digestAlgorithms: ['MD5'] },
    ],
    queues: [
      { name: 'support', extension: '700', skills: { support: 1 }, strategy: 'longest-idle', ringTimeoutSeconds: 15, maxWaitSeconds: 300 },
      { name: 'sales', extension: '701', skills: { sales: 1 }, priority: 5, strategy: 'skills', ringTimeoutSeconds: 15, maxWaitSeconds: 120, overflow: { queue: 'support' } },
    ],
    center: {
      database: 'data/switchboard.db',
      wrapUpSeconds: 30,
      notReadyReasons: ['break', 'lunch', 'training', 'meeting', 'after-call-work'],
      wrapUpCodes: ['resolved', 'follow-up', 'escalated', 'wrong-number', 'sale'],
    },
  };
}

/** A configuration problem; the message names the key and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A recursively optional configuration (arrays replace, objects merge). */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<infer _U> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Merges a partial configuration over the defaults (arrays replace, objects merge). */
export function mergeConfig(base: GatewayConfig, over: DeepPartial<GatewayConfig>): GatewayConfig {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = (base as unknown as Record<string, unknown>)[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? { ...cur, ...v } : v;
  }
  return out as unknown as GatewayConfig;
}

/** Environment overrides (documented in the README). */
export function envOverrides(env: NodeJS.ProcessEnv): DeepPartial<GatewayConfig> {
  const o: DeepPartial<GatewayConfig> = {};
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw new ConfigError(`${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
  if (env.SWITCHBOARD_HOST) o.host = env.SWITCHBOARD_HOST;
  if (env.SWITCHBOARD_ADVERTISED_HOST) o.advertisedHost = env.SWITCHBOARD_ADVERTISED_HOST;
  const http = num('SWITCHBOARD_HTTP_PORT');
  if (http !== undefined) o.http = { port: http };
  const sip = num('SWITCHBOARD_SIP_PORT');
  if (sip !== undefined) o.sip = { udpPort: sip, tcpPort: sip };
  if (env.SWITCHBOARD_TOKEN_SECRET) o.auth = { tokenSecret: env.SWITCHBOARD_TOKEN_SECRET };
  if (env.SWITCHBOARD_TLS_CERT || env.SWITCHBOARD_TLS_KEY) {
    if (!env.SWITCHBOARD_TLS_CERT || !env.SWITCHBOARD_TLS_KEY) throw new ConfigError('SWITCHBOARD_TLS_CERT and SWITCHBOARD_TLS_KEY must be set together');
    o.tls = { certFile: env.SWITCHBOARD_TLS_CERT, keyFile: env.SWITCHBOARD_TLS_KEY };
  }
  const tlsPort = num('SWITCHBOARD_SIP_TLS_PORT');
  if (tlsPort !== undefined) o.sip = { ...o.sip, tlsPort };
  const httpsPort = num('SWITCHBOARD_HTTPS_PORT');
  if (httpsPort !== undefined) o.http = { ...o.http, httpsPort };
  return o;
}

/** Loads defaults ← file (SWITCHBOARD_CONFIG or `file`) ← environment, then validates. */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let cfg = defaultConfig();
  const path = file ?? env.SWITCHBOARD_CONFIG;
  if (path) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object`);
    cfg = mergeConfig(cfg, parsed as DeepPartial<GatewayConfig>);
  }
  cfg = mergeConfig(cfg, envOverrides(env));
  validateConfig(cfg);
  return cfg;
}

/** Throws {@link ConfigError} for the first problem found. */
export function validateConfig(c: GatewayConfig): void {
  const port = (key: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`${key} must be a port number 0-65535, got ${JSON.stringify(v)}`);
  };
  if (typeof c.host !== 'string' || !c.host) throw new ConfigError('host must be a non-empty address');
  port('http.port', c.http?.port);
  port('sip.udpPort', c.sip?.udpPort);
  port('sip.tcpPort', c.sip?.tcpPort);
  if (c.sip.tlsPort !== undefined) port('sip.tlsPort', c.sip.tlsPort);
  if (c.http.httpsPort !== undefined) port('http.httpsPort', c.http.httpsPort);
  if (c.tls !== undefined) {
    for (const k of ['certFile', 'keyFile'] as const) {
      if (typeof c.tls?.[k] !== 'string' || !c.tls[k]) throw new ConfigError(`tls.${k} must be the path of a PEM file`);
      if (!existsSync(c.tls[k])) throw new ConfigError(`tls.${k}: no such file ${c.tls[k]}`);
    }
    if (c.tls.caFile !== undefined && !existsSync(c.tls.caFile)) throw new ConfigError(`tls.caFile: no such file ${c.tls.caFile}`);
  }
  const count = (key: string, v: unknown, min = 0) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${key} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
  };
  count('sip.idleTimeoutSeconds', c.sip.idleTimeoutSeconds, 10);
  count('sip.maxConnectionsPerIp', c.sip.maxConnectionsPerIp, 1);
  const p = c.protection;
  if (!p || typeof p !== 'object') throw new ConfigError('protection must be an object');
  count('protection.rateLimit', p.rateLimit);
  count('protection.rateWindowMs', p.rateWindowMs, 1);
  count('protection.authFailureLimit', p.authFailureLimit);
  count('protection.authFailureWindowMs', p.authFailureWindowMs, 1);
  count('protection.banSeconds', p.banSeconds, 1);
  count('protection.maxTrackedSources', p.maxTrackedSources, 100);
  for (const k of ['scannerUserAgents', 'trustedAddresses'] as const) {
    if (!Array.isArray(p[k]) || p[k].some((x) => typeof x !== 'string' || !x)) throw new ConfigError(`protection.${k} must be a list of strings`);
  }
  if (!Array.isArray(c.sip.digestAlgorithms) || !c.sip.digestAlgorithms.length || c.sip.digestAlgorithms.some((a) => a !== 'MD5' && a !== 'SHA-256')) {
    throw new ConfigError('sip.digestAlgorithms must list "SHA-256" and/or "MD5"');
  }
  if (!(c.sip.minExpires > 0 && c.sip.minExpires <= c.sip.defaultExpires && c.sip.defaultExpires <= c.sip.maxExpires)) {
    throw new ConfigError('sip expiry must satisfy 0 < minExpires <= defaultExpires <= maxExpires');
  }
  if (c.media.portRange) {
    const [lo, hi] = c.media.portRange;
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1024 && hi <= 65535 && hi - lo >= 1)) throw new ConfigError('media.portRange must be [low, high] within 1024-65535');
  }
  if (c.media.musicOnHold !== undefined && !existsSync(c.media.musicOnHold)) throw new ConfigError(`media.musicOnHold: no such file ${c.media.musicOnHold}`);
  if (!(c.auth.tokenTtlSeconds > 0 && c.auth.tokenTtlSeconds <= 86400)) throw new ConfigError('auth.tokenTtlSeconds must be 1-86400 (24 h maximum)');
  if (!Array.isArray(c.trunks)) throw new ConfigError('trunks must be a list');
  const trunkNames = new Set<string>();
  c.trunks.forEach((t, i) => {
    const k = `trunks[${i}]`;
    if (!t || typeof t.name !== 'string' || !/^[A-Za-z0-9._-]{1,40}$/.test(t.name)) throw new ConfigError(`${k}.name must be 1-40 letters, digits, . _ -`);
    if (trunkNames.has(t.name)) throw new ConfigError(`${k}.name "${t.name}" is used twice`);
    trunkNames.add(t.name);
    if (typeof t.host !== 'string' || !t.host) throw new ConfigError(`${k}.host is required`);
    if (t.port !== undefined) port(`${k}.port`, t.port);
    if (t.transport !== undefined && !['udp', 'tcp', 'tls'].includes(t.transport)) throw new ConfigError(`${k}.transport must be udp, tcp or tls`);
    if (typeof t.username !== 'string' || !t.username) throw new ConfigError(`${k}.username is required`);
    if (t.register && !t.password) throw new ConfigError(`${k}: register needs a password`);
    if (t.expires !== undefined && !(Number.isInteger(t.expires) && t.expires >= 30 && t.expires <= 86400)) throw new ConfigError(`${k}.expires must be 30-86400 seconds`);
    if (t.e164CountryCode !== undefined && !/^[1-9]\d{0,2}$/.test(t.e164CountryCode)) throw new ConfigError(`${k}.e164CountryCode must be 1-3 digits, e.g. "1" or "44"`);
    if (t.codecs !== undefined && (!Array.isArray(t.codecs) || !t.codecs.length || t.codecs.some((x) => x !== 'PCMU' && x !== 'PCMA'))) throw new ConfigError(`${k}.codecs must list PCMU and/or PCMA`);
    if (t.outboundProxy !== undefined && !/^[A-Za-z0-9.:[\]-]+$/.test(t.outboundProxy)) throw new ConfigError(`${k}.outboundProxy must be host or host:port`);
    if (t.dids !== undefined && (typeof t.dids !== 'object' || Array.isArray(t.dids))) throw new ConfigError(`${k}.dids must map numbers to users or extensions`);
  });
  if (!Array.isArray(c.users)) throw new ConfigError('users must be a list');
  validateCenter(c);
  const seen = new Set<string>();
  c.users.forEach((u, i) => {
    if (!u || typeof u.username !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(u.username)) throw new ConfigError(`users[${i}].username must be 1-64 letters, digits, . _ -`);
    if (typeof u.password !== 'string' || u.password.length < 6) throw new ConfigError(`users[${i}].password must be at least 6 characters`);
    if (!['agent', 'supervisor', 'admin'].includes(u.role)) throw new ConfigError(`users[${i}].role must be agent, supervisor or admin`);
    if (u.digestAlgorithms !== undefined && (!Array.isArray(u.digestAlgorithms) || !u.digestAlgorithms.length || u.digestAlgorithms.some((a) => a !== 'MD5' && a !== 'SHA-256'))) {
      throw new ConfigError(`users[${i}].digestAlgorithms must list "SHA-256" and/or "MD5"`);
    }
    if (u.staticContact !== undefined) {
      // The same parser the router uses for it later.
      let uri: SipUri | undefined;
      try {
        uri = typeof u.staticContact === 'string' ? parseUri(u.staticContact) : undefined;
      } catch {
        uri = undefined;
      }
      if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips') || uri.headers !== undefined) {
        throw new ConfigError(`users[${i}].staticContact must be a SIP URI like sip:user@host:port;transport=udp, got "${u.staticContact}"`);
      }
      const t = uri.params.transport?.toLowerCase();
      if (t && !['udp', 'tcp', 'tls'].includes(t)) throw new ConfigError(`users[${i}].staticContact: transport must be udp, tcp or tls`);
    }
    for (const key of [u.username.toLowerCase(), u.extension]) {
      if (!key) continue;
      if (seen.has(key)) throw new ConfigError(`users[${i}]: "${key}" is used twice`);
      seen.add(key);
    }
  });
}

function validateCenter(c: GatewayConfig): void {
  const center = c.center;
  if (!center || typeof center !== 'object') throw new ConfigError('center must be an object');
  if (typeof center.database !== 'string' || !center.database) throw new ConfigError('center.database must be a file path or ":memory:"');
  if (!(Number.isInteger(center.wrapUpSeconds) && center.wrapUpSeconds >= 0 && center.wrapUpSeconds <= 3600)) throw new ConfigError('center.wrapUpSeconds must be 0-3600');
  const codes = (key: string, v: unknown) => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/i.test(x))) throw new ConfigError(`${key} must be a list of codes (letters, digits, - _; up to 32)`);
  };
  codes('center.notReadyReasons', center.notReadyReasons);
  codes('center.wrapUpCodes', center.wrapUpCodes);
  c.users.forEach((u, i) => {
    if (u.skills === undefined) return;
    if (typeof u.skills !== 'object' || Array.isArray(u.skills) || Object.values(u.skills).some((l) => !Number.isInteger(l) || l < 1 || l > 10)) {
      throw new ConfigError(`users[${i}].skills must map skill names to levels 1-10`);
    }
  });
  if (!Array.isArray(c.queues)) throw new ConfigError('queues must be a list');
  const names = new Set<string>();
  const dialable = new Set(c.users.flatMap((u) => [u.username.toLowerCase(), u.extension].filter((x): x is string => !!x)));
  for (const e of c.echoExtensions) dialable.add(e.toLowerCase());
  c.queues.forEach((q, i) => {
    const k = `queues[${i}]`;
    if (!q || typeof q.name !== 'string' || !/^[A-Za-z0-9._-]{1,40}$/.test(q.name)) throw new ConfigError(`${k}.name must be 1-40 letters, digits, . _ -`);
    if (names.has(q.name.toLowerCase())) throw new ConfigError(`${k}.name "${q.name}" is used twice`);
    if (dialable.has(q.name.toLowerCase())) throw new ConfigError(`${k}.name "${q.name}" is already a user or extension`);
    names.add(q.name.toLowerCase());
    if (q.extension !== undefined) {
      if (typeof q.extension !== 'string' || !/^[A-Za-z0-9._-]{1,40}$/.test(q.extension)) throw new ConfigError(`${k}.extension must be 1-40 letters, digits, . _ -`);
      if (dialable.has(q.extension.toLowerCase()) || names.has(q.extension.toLowerCase())) throw new ConfigError(`${k}.extension "${q.extension}" is already a user, extension or queue`);
      dialable.add(q.extension.toLowerCase());
    }
    if (q.strategy !== undefined && !['longest-idle', 'round-robin', 'skills'].includes(q.strategy)) throw new ConfigError(`${k}.strategy must be longest-idle, round-robin or skills`);
    for (const key of ['ringTimeoutSeconds', 'maxWaitSeconds', 'serviceLevelSeconds'] as const) {
      const v = q[key];
      if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= 86400)) throw new ConfigError(`${k}.${key} must be a number of seconds > 0`);
    }
    if (q.priority !== undefined && !Number.isInteger(q.priority)) throw new ConfigError(`${k}.priority must be a whole number`);
    if (q.music !== undefined) {
      try {
        readMusicWav(q.music);
      } catch (err) {
        throw new ConfigError(`${k}.music: ${(err as Error).message}`);
      }
    }
    if (q.skills !== undefined && (typeof q.skills !== 'object' || Array.isArray(q.skills) || Object.values(q.skills).some((l) => !Number.isInteger(l) || l < 1 || l > 10))) {
      throw new ConfigError(`${k}.skills must map skill names to levels 1-10`);
    }
    if (q.members !== undefined && (!Array.isArray(q.members) || q.members.some((m) => !c.users.some((u) => u.username.toLowerCase() === String(m).toLowerCase())))) {
      throw new ConfigError(`${k}.members must list configured users`);
    }
  });
  c.queues.forEach((q, i) => {
    const o = q.overflow;
    if (o === undefined) return;
    const k = `queues[${i}].overflow`;
    if ('queue' in o) {
      if (!names.has(String(o.queue).toLowerCase())) throw new ConfigError(`${k}.queue: no queue named "${o.queue}"`);
      if (String(o.queue).toLowerCase() === q.name.toLowerCase()) throw new ConfigError(`${k}.queue: a queue cannot overflow into itself`);
    } else if ('extension' in o) {
      if (typeof o.extension !== 'string' || !o.extension) throw new ConfigError(`${k}.extension must be an extension, user or number`);
    } else if (!('reject' in o)) {
      throw new ConfigError(`${k} must be {"queue": name}, {"extension": target} or {"reject": true}`);
    }
  });
}

/** The token secret to use: configured, or a random one for this process. */
export function tokenSecret(c: GatewayConfig): Buffer {
  return c.auth.tokenSecret ? Buffer.from(c.auth.tokenSecret, 'utf8') : randomBytes(32);
}
