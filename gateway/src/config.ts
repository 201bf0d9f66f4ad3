/**
 * Gateway configuration: built-in defaults ← a JSON file ← environment variables, validated by
 * one zod schema ({@link ConfigSchema}). The schema is the single source of the configuration's
 * TypeScript types, of its defaults, and of the reference table in docs/configuration.md
 * (`npm run docs:config` writes it; a test checks it is current). Unknown keys and wrong types
 * stop the gateway with the key's path (`sip.udpport: unknown key (did you mean udpPort?)`).
 *
 * Production defaults have no users and no queues; {@link demoConfig} adds the demo's (what
 * `npm start` runs when no configuration is given).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DigestAlgorithm } from './sip/digest.js';
import { DEFAULT_GUARD, type GuardOptions } from './sip/guard.js';
import { parseUri, type SipUri } from './sip/uri.js';
import type { QueueConfig as AcdQueueConfig } from './center/acd.js';
import { readMusicWav } from './media/music.js';

// ---------------------------------------------------------------------------------------------
// Building blocks

const port = z.number({ error: 'must be a port number 0-65535' }).int({ error: 'must be a port number 0-65535' }).min(0, { error: 'must be a port number 0-65535' }).max(65535, { error: 'must be a port number 0-65535' });
const count = (min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.number({ error: `must be a whole number >= ${min}` }).int({ error: `must be a whole number >= ${min}` }).min(min, { error: `must be a whole number >= ${min}` }).max(max, { error: `must be a whole number <= ${max}` });
const name40 = z.string().regex(/^[A-Za-z0-9._-]{1,40}$/, { error: 'must be 1-40 letters, digits, . _ -' });
/** A feature code: what a phone's keypad can dial. */
const featureCode = z.string().regex(/^[*#0-9]{1,8}$/, { error: 'must be 1-8 of 0-9 * #' });
const digestAlgorithms = z.array(z.enum(['SHA-256', 'MD5'], { error: 'must list "SHA-256" and/or "MD5"' }), { error: 'must list "SHA-256" and/or "MD5"' }).min(1, { error: 'must list "SHA-256" and/or "MD5"' });
const skills = z.record(z.string(), z.number().int().min(1).max(10), { error: 'must map skill names to levels 1-10' }).refine((s) => Object.values(s).every((l) => Number.isInteger(l) && l >= 1 && l <= 10), { error: 'must map skill names to levels 1-10' });
const codeList = z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/i), { error: 'must be a list of codes (letters, digits, - _; up to 32)' });
const existingFile = (what: string) => z.string().min(1, { error: `must be the path of ${what}` }).refine((f) => existsSync(f), { error: (iss) => `no such file ${String(iss.input)}` });
const role = z.enum(['agent', 'supervisor', 'admin'], { error: 'must be agent, supervisor or admin' });

// ---------------------------------------------------------------------------------------------
// Sections

const destinationClass = z.enum(['internal', 'national', 'international', 'premium'], { error: 'must be internal, national, international or premium' });
const CallingRightsSchema = z.strictObject({
  /** Classes of destination allowed. */
  allow: z.array(destinationClass),
  /** Numbers starting with these are allowed whatever their class. */
  allowPrefixes: z.array(z.string().regex(/^\+?[0-9*#]{1,20}$/, { error: 'must be digits, optionally starting with +' })).optional(),
  /** Numbers starting with these are refused whatever else. */
  denyPrefixes: z.array(z.string().regex(/^\+?[0-9*#]{1,20}$/, { error: 'must be digits, optionally starting with +' })).optional(),
  /** External calls at once. */
  maxConcurrentCalls: count(0, 10_000).optional(),
  /** External calls started per minute; more is refused and logged as possible fraud. */
  maxCallsPerMinute: count(0, 10_000).optional(),
});

const UserSchema = z.strictObject({
  /** Login and SIP user name. */
  username: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, . _ -' }),
  /** The password: plain (at least 6 characters), or an scrypt hash from `switchboard-gateway hash-password`. */
  password: z.string({ error: 'must be at least 6 characters' }).min(6, { error: 'must be at least 6 characters' }),
  /**
   * Digest HA1 values for SIP devices when `password` is an scrypt hash (digest needs
   * `H(user:realm:password)`, which a one-way hash cannot give); `hash-password --user --realm` prints them.
   */
  digestHa1: z
    .strictObject({
      /** HA1 for MD5: hex MD5 of `username:realm:password`. */
      MD5: z.string().regex(/^[0-9a-f]{32}$/).optional(),
      /** HA1 for SHA-256: hex SHA-256 of `username:realm:password`. */
      'SHA-256': z.string().regex(/^[0-9a-f]{64}$/).optional(),
    })
    .optional(),
  /** agent, supervisor or admin (tokens carry it; it decides calling rights and supervision). */
  role: role,
  /** Shown to called parties and in the demo. */
  displayName: z.string().max(128).optional(),
  /** Dialable number, e.g. "1001". */
  extension: z.string().regex(/^[A-Za-z0-9._*#+-]{1,40}$/, { error: 'must be 1-40 letters, digits, . _ - * # +' }).optional(),
  /**
   * Digest algorithms for this user's SIP device, overriding `sip.digestAlgorithms`. Use
   * `["MD5"]` for phones that fail on SHA-256 challenges (baresip 1.0, many older desk phones).
   */
  digestAlgorithms: digestAlgorithms.optional(),
  /**
   * A SIP URI for a device that does not register (a static desk phone, an IVR, a test peer):
   * calls to this user go there when no registration exists, e.g. `sip:3001@10.0.0.5:5060;transport=tcp`.
   */
  staticContact: z.string().optional(),
  /** Agent skills with levels 1–10, matched against queue requirements (e.g. `{ "es": 7 }`). */
  skills: skills.optional(),
  /** This user's calling rights, replacing their role's (`calling.roles`). */
  calling: CallingRightsSchema.optional(),
});

const OverflowSchema = z.union([z.strictObject({ queue: z.string() }), z.strictObject({ extension: z.string().min(1, { error: 'must be an extension, user or number' }) }), z.strictObject({ reject: z.literal(true) })], {
  error: 'must be {"queue": name}, {"extension": target} or {"reject": true}',
});

const QueueSchema = z.strictObject({
  /** Unique name, shown to agents and in statistics. */
  name: name40,
  /** Extension (or user name) that dials the queue; trunk DIDs point here. */
  extension: name40.optional(),
  /** Skills an agent needs, with the minimum level of each (1–10). */
  skills: skills.optional(),
  /** Higher goes first when several queues wait for the same agent (default 0). */
  priority: z.number({ error: 'must be a whole number' }).int({ error: 'must be a whole number' }).optional(),
  /** Default `longest-idle`. */
  strategy: z.enum(['longest-idle', 'round-robin', 'skills'], { error: 'must be longest-idle, round-robin or skills' }).optional(),
  /** Ring an agent this long before trying the next (default 15 s). */
  ringTimeoutSeconds: z.number().gt(0, { error: 'must be a number of seconds > 0' }).max(86400).optional(),
  /** Overflow after this long in the queue (default 300 s). */
  maxWaitSeconds: z.number().gt(0, { error: 'must be a number of seconds > 0' }).max(86400).optional(),
  /** Where to overflow; rejected (the caller hears the call end) when absent. */
  overflow: OverflowSchema.optional(),
  /** Only these agents serve the queue (default: every agent with the skills). */
  members: z.array(z.string()).optional(),
  /** What callers hear while waiting: an 8 kHz mono 16-bit WAV file (default: the music on hold). */
  music: z.string().optional(),
  /** The service-level threshold: answered within this many seconds counts (default 20). */
  serviceLevelSeconds: z.number().gt(0, { error: 'must be a number of seconds > 0' }).max(86400).optional(),
});

const TrunkSchema = z.strictObject({
  /** Unique name, used in logs, metrics and `/api/health`. */
  name: name40,
  /** Host (name or address) and port of the PBX/carrier. */
  host: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  /** Port of the PBX/carrier (default 5060, TLS 5061). */
  port: port.optional(),
  /** Transport toward it (default udp). */
  transport: z.enum(['udp', 'tcp', 'tls'], { error: 'must be udp, tcp or tls' }).optional(),
  /** Send everything via this proxy instead (`host:port`). */
  outboundProxy: z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, { error: 'must be host or host:port' }).optional(),
  /** SIP domain for From/To and REGISTER (defaults to `host`). */
  domain: z.string().optional(),
  /** User part we register as and call from. */
  username: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  /** Digest user name when it differs from `username`. */
  authUsername: z.string().optional(),
  /** Digest password for registration and calls. */
  password: z.string().optional(),
  /** Only answer challenges for this realm (any realm when absent). */
  realm: z.string().optional(),
  /** Register to the trunk (default true when a password is set). */
  register: z.boolean().optional(),
  /** Requested registration lifetime in seconds (default 600). */
  expires: z.number().int().min(30, { error: 'must be 30-86400 seconds' }).max(86400, { error: 'must be 30-86400 seconds' }).optional(),
  /** Inbound: dialled number (To / Request-URI user, any format) → local user or extension. */
  dids: z.record(z.string(), z.string(), { error: 'must map numbers to users or extensions' }).optional(),
  /** Inbound: extra source addresses calls from this trunk may come from. */
  matchAddresses: z.array(z.string()).optional(),
  /** Outbound caller ID (user part of From); defaults to `username`. */
  callerId: z.string().optional(),
  /** Outbound number format: as dialled (default), or E.164 with this country code (`"1"`, `"44"`). */
  e164CountryCode: z.string().regex(/^[1-9]\d{0,2}$/, { error: 'must be 1-3 digits, e.g. "1" or "44"' }).optional(),
  /** Codec preference toward the trunk. */
  codecs: z.array(z.enum(['PCMU', 'PCMA']), { error: 'must list PCMU and/or PCMA' }).min(1, { error: 'must list PCMU and/or PCMA' }).optional(),
  /** Lower is tried first (default 10); ties by weight, higher first. */
  priority: z.number().int().optional(),
  /** Among trunks of equal priority, higher weight is tried first. */
  weight: z.number().int().optional(),
  /** OPTIONS keep-alive interval (s, default 30; 0 = off) and misses before the trunk is down (default 3). */
  optionsInterval: z.number().int().min(0).optional(),
  /** OPTIONS without answer before the trunk counts as down (default 3). */
  optionsMisses: z.number().int().min(1).optional(),
  /** Calls at once through this trunk (in and out); beyond it the next trunk is tried, or 503. */
  maxConcurrentCalls: count(1, 100_000).optional(),
});

const GuardSchema = z.strictObject({
  /** Unauthenticated requests allowed per source (address and port) per window; 0 disables the limit. */
  rateLimit: count(0).default(DEFAULT_GUARD.rateLimit),
  /** The window of both rate limits, ms. */
  rateWindowMs: count(1).default(DEFAULT_GUARD.rateWindowMs),
  /** Unauthenticated requests allowed per address, all its ports together, per window; 0 disables. */
  addressRateLimit: count(0).default(DEFAULT_GUARD.addressRateLimit),
  /** Failed authentications (wrong password, unknown user) per source per window before a ban; 0 disables. */
  authFailureLimit: count(0).default(DEFAULT_GUARD.authFailureLimit),
  /** The window of both failure limits, ms. */
  authFailureWindowMs: count(1).default(DEFAULT_GUARD.authFailureWindowMs),
  /** Failed authentications per address, all its ports together, before the address is banned; 0 disables. */
  addressAuthFailureLimit: count(0).default(DEFAULT_GUARD.addressAuthFailureLimit),
  /** How long a ban lasts. */
  banSeconds: count(1).default(DEFAULT_GUARD.banSeconds),
  /** Case-insensitive substrings of User-Agent values dropped without an answer. */
  scannerUserAgents: z.array(z.string().min(1), { error: 'must be a list of strings' }).default(() => [...DEFAULT_GUARD.scannerUserAgents]),
  /** Source addresses never limited or banned (PBX trunks, load balancers). */
  trustedAddresses: z.array(z.string().min(1), { error: 'must be a list of strings' }).default(() => []),
  /** Most sources tracked at once (memory bound). */
  maxTrackedSources: count(100).default(DEFAULT_GUARD.maxTrackedSources),
});

/** The configuration schema (see the file header). */
export const ConfigSchema = z
  .strictObject({
    /** Address every listener binds to. */
    host: z.string({ error: 'must be a non-empty address' }).min(1, { error: 'must be a non-empty address' }).default('127.0.0.1'),
    /** Host name or address to advertise in SIP and SDP (defaults to `host`). */
    advertisedHost: z.string().min(1).optional(),
    /** The HTTP front door: the demo page, `/api/*`, the SIP WebSocket (`/sip`), `/metrics`. */
    http: z
      .strictObject({
        /** HTTP (and WebSocket) port. */
        port: port.default(8080),
        /** HTTPS + WSS port, served when `tls` is set (default 8443). */
        httpsPort: port.optional(),
        /** Who may scrape `/metrics` without an admin token (Prometheus' address). */
        metricsAllowedAddresses: z.array(z.string().min(1)).default(() => ['127.0.0.1', '::1']),
        /**
         * Connections one address may hold open that have not authenticated (page loads, logins,
         * WebSockets before their token is checked). WebSockets with a token and trusted
         * addresses do not count.
         */
        maxConnectionsPerIp: count(1).default(128),
        /**
         * Host names the gateway is reached by (its DNS names). Requests and WebSocket upgrades
         * naming any other Host are refused with 421 — the DNS-rebinding defence. Default:
         * `advertisedHost`, `host`, localhost and this machine's own addresses.
         */
        allowedHosts: z.array(z.string().min(1)).optional(),
      })
      .prefault({}),
    /** SIP over UDP, TCP, TLS and WebSocket: listeners, digest, registrar, session timers. */
    sip: z
      .strictObject({
        /** SIP over UDP port. */
        udpPort: port.default(5060),
        /** SIP over TCP port (may equal the UDP port). */
        tcpPort: port.default(5060),
        /** SIP over TLS port, listened on when `tls` is set (default 5061). */
        tlsPort: port.optional(),
        /** Stream connections (TCP, TLS, WebSocket) idle this long are closed. */
        idleTimeoutSeconds: count(10).default(600),
        /** Most inbound connections one address may hold. */
        maxConnectionsPerIp: count(1).default(64),
        /**
         * Receive/send buffer asked for the SIP UDP socket. The kernel's default (~212 KB) drops
         * datagrams at a few hundred calls/s; the kernel caps this at net.core.rmem_max.
         */
        udpBufferBytes: count(65536, 256 * 1024 * 1024).default(4 * 1024 * 1024),
        /** Digest realm of challenges (RFC 3261 §22). */
        realm: z.string().min(1).default('switchboard'),
        /** Challenge algorithms, most preferred first. */
        digestAlgorithms: digestAlgorithms.default(() => ['SHA-256', 'MD5'] as DigestAlgorithm[]),
        /**
         * Challenges for SIP-over-WebSocket clients without a token. JsSIP 3.13 and sip.js 0.21 do
         * only MD5, and JsSIP gives up when a SHA-256 challenge is present at all (seen with JsSIP
         * in Chromium), so browsers get MD5 alone by default; their connection is Origin-checked.
         */
        webSocketDigestAlgorithms: digestAlgorithms.default(() => ['MD5'] as DigestAlgorithm[]),
        /**
         * SIP session timers (RFC 4028) on calls: the interval we ask for and the shortest we accept
         * (RFC floor 90 s; lower values are for tests). `enabled: false` turns them off.
         */
        sessionTimers: z
          .strictObject({
            /** Session timers on (default) or off. */
            enabled: z.boolean().default(true),
            /** Interval we ask for (Session-Expires), seconds. */
            expires: count(1, 86400).default(1800),
            /** Shortest interval we accept (Min-SE), seconds; shorter is refused with 422. */
            minSE: count(1, 86400).default(90),
          })
          .prefault({})
          .refine((t) => t.minSE <= t.expires, { error: 'minSE must not exceed expires' }),
        /** Most registered contacts per user (address of record). */
        maxContactsPerAor: count(1, 1000).default(10),
        /** At that cap a new contact replaces the oldest, or is refused with 403. */
        contactLimitPolicy: z.enum(['replace-oldest', 'reject']).default('replace-oldest'),
        /** Registrations asking for less get 423 Interval Too Brief. */
        minExpires: count(1).default(60),
        /** Longest registration granted (longer requests are cut to it). */
        maxExpires: count(1).default(3600),
        /** Registration lifetime when the REGISTER names none. */
        defaultExpires: count(1).default(600),
        /**
         * Busy lamp field: SUBSCRIBE to the dialog event package (RFC 4235) of a user or extension
         * (docs/devices.md). Lifetimes as for REGISTER.
         */
        subscriptions: z
          .strictObject({
            /** Any authenticated user may watch anyone (`users`), or only supervisors and admins watch others (`supervisors`). */
            watchers: z.enum(['users', 'supervisors']).default('users'),
            /** Subscriptions asking for less get 423 Interval Too Brief. */
            minExpires: count(1).default(60),
            /** Longest subscription granted, and the lifetime when the SUBSCRIBE names none. */
            maxExpires: count(1).default(3600),
            /** Subscriptions one user may hold at once. */
            maxPerUser: count(1, 100_000).default(200),
          })
          .prefault({})
          .refine((s) => s.minExpires <= s.maxExpires, { error: 'minExpires must not exceed maxExpires' }),
      })
      .prefault({})
      .refine((s) => s.minExpires <= s.defaultExpires && s.defaultExpires <= s.maxExpires, { error: 'expiry must satisfy 0 < minExpires <= defaultExpires <= maxExpires' }),
    /** Media: addresses, ports, the worker thread, music on hold, the inactivity timeout. */
    media: z
      .strictObject({
        /** Media bind address (defaults to `host`). */
        address: z.string().min(1).optional(),
        /** Media address announced in SDP/ICE (defaults to advertisedHost or the media address). */
        announcedAddress: z.string().min(1).optional(),
        /** Inclusive UDP port range for media, e.g. [20000, 29999]; random ports when absent. */
        portRange: z
          .tuple([z.number().int(), z.number().int()], { error: 'must be [low, high] within 1024-65535' })
          .refine(([lo, hi]) => lo >= 1024 && hi <= 65535 && hi - lo >= 1, { error: 'must be [low, high] within 1024-65535' })
          .optional(),
        /** Run the packet path in a worker thread (default true). */
        worker: z.boolean().default(true),
        /**
         * The media engine: `werift` (embedded, nothing to install) or `rtpengine` (browsers' and
         * phones' media terminated by rtpengine, bridges in the worker; docs/media.md).
         */
        engine: z.enum(['werift', 'rtpengine'], { error: 'must be "werift" or "rtpengine"' }).default('werift'),
        /** rtpengine's ng control addresses (`--listen-ng`), `host:port`; new calls go to the least loaded one that answers. */
        rtpengine: z
          .array(z.string().regex(/^(?:\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, { error: 'must be host:port' }), { error: 'must be a list of host:port' })
          .min(1, { error: 'needs at least one host:port' })
          .default(() => ['127.0.0.1:22222']),
        /**
         * With rtpengine: relay two-party calls peer to peer inside rtpengine, the worker only
         * for calls that need it (music, a third party, a digit to send). A direct call's line
         * quality comes from the far ends' RTCP reports, and its digits from rtpengine's DTMF log
         * (`rtpengineDtmfLog`; without it, keys pressed in a direct call are not seen). `false`:
         * every call's media through the worker (docs/media.md).
         */
        rtpengineDirect: z.boolean().default(true),
        /**
         * Where the gateway listens for rtpengine's DTMF log (rtpengine `--dtmf-log-dest`),
         * `host:port`: in direct mode the worker does not see a call's digits, rtpengine does.
         */
        rtpengineDtmfLog: z.string().regex(/^(?:\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, { error: 'must be host:port' }).optional(),
        /** Music on hold: an 8 kHz mono 16-bit PCM WAV file; a built-in loop when absent. */
        musicOnHold: existingFile('a WAV file').optional(),
        /**
         * End a call when a party that should be sending media has sent none for this long (a phone
         * that crashed, a caller gone without BYE). Holding parties are exempt. 0 turns it off.
         */
        rtpTimeoutSeconds: z.number().min(0, { error: 'must be 0-3600 seconds' }).max(3600, { error: 'must be 0-3600 seconds' }).default(60),
        /**
         * How often each party's incoming audio is sampled (loss, jitter, MOS: supervisors see it
         * live in `/api/calls`, records keep average and worst per party). 0 turns it off.
         */
        qualityIntervalSeconds: z.number().min(0, { error: 'must be 0-300 seconds' }).max(300, { error: 'must be 0-300 seconds' }).default(5),
      })
      .prefault({}),
    /** Browser authentication: access tokens, allowed origins, login attempt limits. */
    auth: z
      .strictObject({
        /** HMAC secret for access tokens; random per start when absent (tokens die with the process). */
        tokenSecret: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
        /** Access token lifetime (1 h default, 24 h at most). */
        tokenTtlSeconds: z.number().gt(0, { error: 'must be 1-86400 (24 h maximum)' }).max(86400, { error: 'must be 1-86400 (24 h maximum)' }).default(3600),
        /** Password guessing on `POST /api/login`: attempt limits with exponential backoff (docs/security.md). */
        login: z
          .strictObject({
            /** Failed logins of one user before it is locked out. */
            maxFailuresPerUser: count(1).default(5),
            /** Failed logins from one address (any users) before it is locked out. */
            maxFailuresPerAddress: count(1).default(20),
            /** The first lockout, seconds; each further one doubles. */
            lockSeconds: count(1, 86400).default(30),
            /** The longest lockout, seconds. */
            maxLockSeconds: count(1, 86400).default(900),
          })
          .prefault({}),
        /** Allowed Origin values for the SIP WebSocket and the HTTP API (CORS); empty = same host as the page. */
        allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, { error: 'must be an origin like https://agents.example.com (scheme, host, optional port; no path)' }), { error: 'must be a list of origins' }).default(() => []),
      })
      .prefault({}),
    /** Certificate and key (PEM files) for SIP over TLS and HTTPS/WSS; both off when absent. */
    tls: z
      .strictObject({
        /** Certificate (PEM), with its chain. */
        certFile: existingFile('a PEM file'),
        /** Private key (PEM). */
        keyFile: existingFile('a PEM file'),
        /** Verify certificates of TLS peers we connect to (trunks); default true. */
        verifyPeers: z.boolean().optional(),
        /** Extra CA certificates (PEM file) to trust for those peers. */
        caFile: existingFile('a PEM file').optional(),
      })
      .optional(),
    /** Connection limits and deadlines for every listener (docs/security.md). */
    limits: z
      .strictObject({
        /**
         * Most connections open at once over every listener (HTTP, WebSocket, SIP TCP/TLS). Default:
         * half the process's file-descriptor limit — the rest is kept for media sockets and files.
         */
        maxConnections: count(16).optional(),
        /** An HTTP request's headers must arrive within this long (a silent connection is closed then too). */
        headersTimeoutSeconds: z.number().min(1).max(300).default(10),
        /** A whole HTTP request within this long. */
        requestTimeoutSeconds: z.number().min(1).max(3600).default(30),
        /** Idle HTTP keep-alive connections are closed after this long. */
        keepAliveTimeoutSeconds: z.number().min(1).max(600).default(5),
        /** A TLS client (SIP over TLS, HTTPS/WSS) must finish its handshake within this long. */
        handshakeTimeoutSeconds: z.number().min(1).max(120).default(10),
        /** A SIP message begun on a TCP/TLS connection must be complete within this long (slow drip). */
        sipMessageTimeoutSeconds: z.number().min(1).max(300).default(10),
      })
      .prefault({}),
    /** Calls that outlive their connection (docs/calls.md). */
    calls: z
      .strictObject({
        /**
         * A browser whose WebSocket closed keeps its calls (and its agent state) this long, media
         * flowing, waiting for it to reconnect; then the call ends with "480 Connection Lost".
         * 0 ends them at once.
         */
        reconnectGraceSeconds: z.number().min(0, { error: 'must be 0-600 seconds' }).max(600, { error: 'must be 0-600 seconds' }).default(30),
        /**
         * Keep-alive of long calls: every this many seconds each connected SIP leg gets an in-dialog
         * OPTIONS; 481 or no answer ends the call ("Peer Unreachable"). 0 turns it off.
         */
        probeIntervalSeconds: z.number().min(0, { error: 'must be 0-86400 seconds' }).max(86400, { error: 'must be 0-86400 seconds' }).default(300),
      })
      .prefault({}),
    /** Conferences: calls with more than two parties (docs/conference.md). */
    conference: z
      .strictObject({
        /** Most parties in one call, supervisors included (each mixed party costs CPU in the media worker). */
        maxParties: count(3, 50).default(10),
        /**
         * When a call whose parties leave ends: `fewer-than-two` talking parties remain (a customer
         * and a consultee go on after the agent drops), or `no-agent` — no user of the gateway
         * (agent, supervisor) remains among them.
         */
        endWhen: z.enum(['fewer-than-two', 'no-agent']).default('fewer-than-two'),
      })
      .prefault({}),
    /** Supervisors listening in on agents' calls (docs/conference.md). */
    supervision: z
      .strictObject({
        /**
         * Feature codes a supervisor's desk phone dials before the agent's user name or extension:
         * `*511001` monitors extension 1001. During the session the keys 1, 2 and 3 switch to
         * monitor, whisper and barge.
         */
        featureCodes: z
          .strictObject({
            /** Silent monitor: hears everyone, heard by nobody. */
            monitor: featureCode.default('*51'),
            /** Whisper (coach): only the agent hears the supervisor. */
            whisper: featureCode.default('*52'),
            /** Barge: the supervisor joins as a full party. */
            barge: featureCode.default('*53'),
          })
          .prefault({}),
        /** Tell the supervised agent's softphone who supervises it and how (the customer is never told). */
        notifyAgent: z.boolean().default(false),
      })
      .prefault({}),
    /**
     * Device mode (docs/devices.md): agents whose call audio is on a SIP desk phone or headset
     * base, their calls shown and driven from the browser desktop.
     */
    devices: z
      .strictObject({
        /**
         * Headers of the INVITE that makes a device pick up by itself when its agent answers (or
         * dials) from the desktop; `{host}` is the gateway's host. The defaults are understood by
         * most desk phones (Polycom, Yealink, Snom, Grandstream: docs/devices.md).
         */
        autoAnswerHeaders: z
          .array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+:\s*\S[^\r\n]*$/, { error: 'must be a header line "Name: value"' }))
          .default(() => ['Call-Info: <sip:{host}>;answer-after=0', 'Alert-Info: <http://{host}/>;info=alert-autoanswer']),
        /** Kinds of devices that pick up differently, by User-Agent (first match wins). */
        profiles: z
          .array(
            z.strictObject({
              /** A regular expression for the device's User-Agent (case-insensitive), e.g. `^Yealink`. */
              userAgent: z.string().min(1).refine((re) => {
                try {
                  new RegExp(re, 'i');
                  return true;
                } catch {
                  return false;
                }
              }, { error: 'must be a regular expression' }),
              /**
               * `header`: rings, and picks up on the auto-answer headers; `device`: answers every call
               * by itself (auto-answer set on the device), so it is called only when the agent answers;
               * `none`: rings until the handset is lifted.
               */
              autoAnswer: z.enum(['header', 'device', 'none']),
              /** Its own auto-answer headers instead of `autoAnswerHeaders`. */
              headers: z.array(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+:\s*\S[^\r\n]*$/, { error: 'must be a header line "Name: value"' })).optional(),
            }),
          )
          .default(() => []),
        /** How long click-to-dial rings the agent's device, and then the target, seconds. */
        dialRingSeconds: z.number().int().min(5).max(300).default(30),
      })
      .prefault({}),
    /** Shutdown (SIGTERM): drain, then stop. */
    shutdown: z
      .strictObject({
        /**
         * How long SIGTERM waits for calls to end on their own (new calls get 503 meanwhile) before
         * ending the rest with BYE. A second SIGTERM stops at once.
         */
        drainSeconds: z.number().min(0, { error: 'must be 0-86400 seconds' }).max(86400, { error: 'must be 0-86400 seconds' }).default(30),
      })
      .prefault({}),
    /**
     * Calling rights (toll-fraud protection, docs/security.md): who may call which numbers out
     * through the trunks. Set `countryCode` and `premiumPrefixes` for your country.
     */
    calling: z
      .strictObject({
        /** Home country code (e.g. "1", "44"): +<cc>… and 00<cc>… are national numbers. */
        countryCode: z.string().regex(/^[1-9]\d{0,2}$/, { error: 'must be 1-3 digits, e.g. "1" or "44"' }).optional(),
        /** Prefixes that dial abroad. */
        internationalPrefixes: z.array(z.string().regex(/^\+?[0-9]{0,6}$/)).default(() => ['+', '00', '011']),
        /**
         * Premium-rate and other costly prefixes: the ITU's international premium (+979) and
         * global networks (+881–+883), +900, North American 1-900/1-976, and common national
         * premium ranges (0900, +49900). Extend for your country.
         */
        premiumPrefixes: z.array(z.string().regex(/^\+?[0-9]{1,20}$/)).default(() => ['+979', '+881', '+882', '+883', '+900', '+1900', '+1976', '1900', '1976', '0900', '00900', '+49900', '+449', '+4487']),
        /** Rights per role; a user's own `calling` replaces them. */
        roles: z
          .strictObject({
            /** Agents: internal and national numbers, 2 external calls at once, 10 a minute. */
            agent: CallingRightsSchema.default(() => ({ allow: ['internal', 'national'] as Array<'internal' | 'national'>, maxConcurrentCalls: 2, maxCallsPerMinute: 10 })),
            /** Supervisors: internal, national and international; 4 at once, 20 a minute. */
            supervisor: CallingRightsSchema.default(() => ({ allow: ['internal', 'national', 'international'] as Array<'internal' | 'national' | 'international'>, maxConcurrentCalls: 4, maxCallsPerMinute: 20 })),
            /** Admins: every class, premium too; 10 at once, 60 a minute. */
            admin: CallingRightsSchema.default(() => ({ allow: ['internal', 'national', 'international', 'premium'] as Array<'internal' | 'national' | 'international' | 'premium'>, maxConcurrentCalls: 10, maxCallsPerMinute: 60 })),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Abuse protection: rate limits, bans, scanner filtering (Kamailio-like defaults). */
    protection: GuardSchema.prefault({}),
    /** Extensions answered by the echo test. */
    echoExtensions: z.array(z.string().min(1)).default(() => ['600', 'echo']),
    /** PBX/carrier trunks (none by default). */
    trunks: z.array(TrunkSchema, { error: 'must be a list' }).default(() => []),
    /** Users: agents, supervisors, admins and SIP devices (none by default; see demoConfig). */
    users: z.array(UserSchema, { error: 'must be a list' }).default(() => []),
    /** Queues (ACD); none by default. */
    queues: z.array(QueueSchema, { error: 'must be a list' }).default(() => []),
    /** The contact-center core: where records go and how agents work (docs/contact-center.md). */
    center: z
      .strictObject({
        /** SQLite file for call records and agent history; `:memory:` keeps them in memory only. */
        database: z.string().min(1, { error: 'must be a file path or ":memory:"' }).default('data/switchboard.db'),
        /** After-call work: agents return to available this long after a queue call (0 = manual). */
        wrapUpSeconds: z.number().int({ error: 'must be 0-3600' }).min(0, { error: 'must be 0-3600' }).max(3600, { error: 'must be 0-3600' }).default(30),
        /** Not-ready reason codes agents may choose ("missed" is added: the ACD sets it on ring-no-answer). */
        notReadyReasons: codeList.default(() => ['break', 'lunch', 'training', 'meeting', 'after-call-work']),
        /** Wrap-up (disposition) codes offered to agents; any code is accepted when empty. */
        wrapUpCodes: codeList.default(() => ['resolved', 'follow-up', 'escalated', 'wrong-number', 'sale']),
        /**
         * After a restart, agents get back the state they had if it changed within this many hours
         * (when their first device registers; docs/contact-center.md). 0: everyone starts offline.
         */
        restoreStateHours: z.number().min(0, { error: 'must be 0-168 hours' }).max(168, { error: 'must be 0-168 hours' }).default(8),
        /**
         * Call data (`call.data` in the SDK): SIP headers of an incoming call copied into its
         * attributes, header name → attribute key — what a carrier or an IVR in front of the
         * gateway attached (an account number, RFC 7433 User-to-User). Values are cut at 1024 characters.
         */
        callDataHeaders: z
          .record(
            z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'must be a SIP header name' }),
            z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be an attribute key: letters, digits, _ - ., up to 64' }),
          )
          .default(() => ({ 'User-to-User': 'userToUser' })),
        /**
         * Feature codes an agent dials from a SIP phone to change state without a desktop
         * (docs/devices.md). The call is answered with a short confirmation tone (three beeps) or,
         * when the change is refused, a reorder tone, and ends by itself.
         */
        featureCodes: z
          .strictObject({
            /** Available. */
            available: featureCode.default('*70'),
            /** Not ready with the first reason code; followed by n (`*712`), with the n-th. */
            notReady: featureCode.default('*71'),
            /** Log out (offline). */
            logout: featureCode.default('*72'),
            /** After-call work done: available again. */
            wrapUpDone: featureCode.default('*73'),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Directories served over HTTP; defaults to the demo and the SDK bundle of this checkout. */
    staticDirs: z
      .array(
        z.strictObject({
          /** URL path prefix, e.g. `/` or `/sdk/`. */
          prefix: z.string(),
          /** Local directory served under it. */
          dir: z.string(),
        }),
      )
      .optional(),
  })
  .superRefine(crossChecks);

/** The whole configuration (defaults filled in). */
export type GatewayConfig = z.output<typeof ConfigSchema>;
/** A user of the gateway: an agent, supervisor or admin, with a SIP identity. */
export type UserConfig = z.output<typeof UserSchema>;
/** A SIP trunk to a PBX or carrier (docs/trunks.md). */
export type TrunkConfig = z.output<typeof TrunkSchema>;
/** The contact-center settings. */
export type CenterConfig = GatewayConfig['center'];
/** A queue as configured. */
export type QueueConfig = z.output<typeof QueueSchema>;

// The lower layers keep their own option contracts; the schema must produce what they expect.
type Assignable<T extends U, U> = T;
export type _Checks = [Assignable<QueueConfig, AcdQueueConfig>, Assignable<GatewayConfig['protection'], GuardOptions>];

/** Checks that span keys: unique names, references between sections, files that must parse. */
function crossChecks(c: z.output<z.ZodObject>, ctx: z.RefinementCtx): void {
  const cfg = c as unknown as GatewayConfig;
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const seen = new Set<string>();
  cfg.users.forEach((u, i) => {
    if (u.staticContact !== undefined) {
      let uri: SipUri | undefined;
      try {
        uri = parseUri(u.staticContact);
      } catch {
        uri = undefined;
      }
      if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips') || uri.headers !== undefined) {
        issue(['users', i, 'staticContact'], `must be a SIP URI like sip:user@host:port;transport=udp, got "${u.staticContact}"`);
      } else {
        const t = uri.params.transport?.toLowerCase();
        if (t && !['udp', 'tcp', 'tls'].includes(t)) issue(['users', i, 'staticContact'], 'transport must be udp, tcp or tls');
      }
    }
    for (const key of [u.username.toLowerCase(), u.extension]) {
      if (!key) continue;
      if (seen.has(key)) issue(['users', i], `"${key}" is used twice`);
      seen.add(key);
    }
  });
  // Feature codes: a code that starts another (or repeats it) would make one of them unreachable.
  const codes: Array<[string[], string]> = [
    ...Object.entries(cfg.center.featureCodes).map(([k, v]): [string[], string] => [['center', 'featureCodes', k], v]),
    ...Object.entries(cfg.supervision.featureCodes).map(([k, v]): [string[], string] => [['supervision', 'featureCodes', k], v]),
  ];
  codes.forEach(([path, code], i) => {
    const clash = codes.find(([, other], j) => j !== i && other.startsWith(code) && (other !== code || j < i));
    if (clash) issue(path, `"${code}" ${clash[1] === code ? 'is also' : 'is the start of'} ${clash[0].join('.')} ("${clash[1]}")`);
  });
  const trunkNames = new Set<string>();
  cfg.trunks.forEach((t, i) => {
    if (trunkNames.has(t.name)) issue(['trunks', i, 'name'], `"${t.name}" is used twice`);
    trunkNames.add(t.name);
    if (t.register && !t.password) issue(['trunks', i], 'register needs a password');
  });
  const names = new Set<string>();
  const dialable = new Set(cfg.users.flatMap((u) => [u.username.toLowerCase(), u.extension].filter((x): x is string => !!x)));
  for (const e of cfg.echoExtensions) dialable.add(e.toLowerCase());
  cfg.queues.forEach((q, i) => {
    if (names.has(q.name.toLowerCase())) issue(['queues', i, 'name'], `"${q.name}" is used twice`);
    else if (dialable.has(q.name.toLowerCase())) issue(['queues', i, 'name'], `"${q.name}" is already a user or extension`);
    names.add(q.name.toLowerCase());
    if (q.extension !== undefined) {
      if (dialable.has(q.extension.toLowerCase()) || names.has(q.extension.toLowerCase())) issue(['queues', i, 'extension'], `"${q.extension}" is already a user, extension or queue`);
      dialable.add(q.extension.toLowerCase());
    }
    if (q.music !== undefined) {
      try {
        readMusicWav(q.music);
      } catch (err) {
        issue(['queues', i, 'music'], (err as Error).message);
      }
    }
    if (q.members !== undefined && q.members.some((m) => !cfg.users.some((u) => u.username.toLowerCase() === String(m).toLowerCase()))) {
      issue(['queues', i, 'members'], 'must list configured users');
    }
  });
  cfg.queues.forEach((q, i) => {
    const o = q.overflow;
    if (!o || !('queue' in o)) return;
    if (!names.has(o.queue.toLowerCase())) issue(['queues', i, 'overflow', 'queue'], `no queue named "${o.queue}"`);
    else if (o.queue.toLowerCase() === q.name.toLowerCase()) issue(['queues', i, 'overflow', 'queue'], 'a queue cannot overflow into itself');
  });
}

// ---------------------------------------------------------------------------------------------
// Errors, parsing, loading

/** A configuration problem; the message names the key and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `sip.udpPort`, `users[2].role`. */
function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The keys an object schema accepts at `path` (for suggestions). */
function knownKeys(path: ReadonlyArray<PropertyKey>): string[] {
  let s: z.ZodType = ConfigSchema;
  const unwrap = (t: z.ZodType): z.ZodType => {
    for (;;) {
      const def = (t as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType } }).def;
      if (def.innerType) t = def.innerType;
      else if (def.type === 'pipe' && def.in) t = def.in;
      else return t;
    }
  };
  for (const k of path) {
    s = unwrap(s);
    const def = (s as unknown as { def: { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType } }).def;
    if (typeof k === 'number' && def.type === 'array' && def.element) s = def.element;
    else if (typeof k === 'string' && def.shape?.[k]) s = def.shape[k]!;
    else return [];
  }
  const shape = (unwrap(s) as unknown as { def: { shape?: Record<string, unknown> } }).def.shape;
  return shape ? Object.keys(shape) : [];
}

function describeIssue(i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') {
    return i.keys
      .map((k) => {
        const near = knownKeys(i.path).filter((c) => distance(c, k) <= 2).sort((a, b) => distance(a, k) - distance(b, k))[0];
        return `${keyPath([...i.path, k])}: unknown key${near ? ` (did you mean ${near}?)` : ''}`;
      })
      .join('; ');
  }
  const where = keyPath(i.path);
  if (i.code === 'custom' && /^[a-z]/.test(i.message) && !where) return i.message;
  // Messages that read as a sentence after the key ("must be …") follow it with a space.
  return where ? `${where}${/^(must|is|expiry\b|")/.test(i.message) ? ' ' : ': '}${i.message}` : i.message;
}

/**
 * Validates a configuration (a partial one gets the defaults) and returns it normalised.
 * Throws {@link ConfigError} naming every problem found, each with its key path.
 */
export function parseConfig(input: unknown): GatewayConfig {
  const r = ConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(r.error.issues.map(describeIssue).join('\n'));
}

/** Throws {@link ConfigError} for any problem (see {@link parseConfig}). */
export function validateConfig(c: unknown): void {
  parseConfig(c);
}

/** Built-in production defaults: no users, no queues (every value the schema defaults). */
export function defaultConfig(): GatewayConfig {
  return parseConfig({});
}

/**
 * The demo: defaults plus demo agents, a supervisor, a SIP desk phone and two queues. `npm start`
 * runs it when no configuration is given; never expose it — the passwords are public.
 */
export function demoConfig(): GatewayConfig {
  return parseConfig({
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
  });
}

/** A recursively optional configuration (arrays replace, objects merge). */
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<infer _U> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Merges a partial configuration over a base one (arrays replace, objects merge one level deep). */
export function mergeConfig(base: GatewayConfig, over: DeepPartial<GatewayConfig>): GatewayConfig {
  return mergeRaw(base, over) as GatewayConfig;
}

function mergeRaw(base: object, over: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = (base as Record<string, unknown>)[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? { ...cur, ...v } : v;
  }
  return out;
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

/** What {@link loadConfig} produced, and whether it is the public demo. */
export interface LoadedConfig {
  config: GatewayConfig;
  /** True when no configuration was given: the demo users and queues are in. */
  demo: boolean;
}

/**
 * Loads defaults ← file (`file`, else SWITCHBOARD_CONFIG) ← environment, then validates. With no
 * file at all the demo configuration is the base (see {@link demoConfig}).
 */
export function loadConfigWithMode(file?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = file ?? env.SWITCHBOARD_CONFIG;
  let raw: Record<string, unknown> = {};
  if (path) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object`);
    raw = parsed as Record<string, unknown>;
  }
  const demo = !path;
  const base = demo ? demoConfig() : {};
  const merged = mergeRaw(mergeRaw(base, raw), envOverrides(env));
  return { config: parseConfig(merged), demo };
}

/** Loads the configuration (see {@link loadConfigWithMode}). */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfigWithMode(file, env).config;
}

/** The token secret to use: configured, or a random one for this process. */
export function tokenSecret(c: GatewayConfig): Buffer {
  return c.auth.tokenSecret ? Buffer.from(c.auth.tokenSecret, 'utf8') : randomBytes(32);
}
