/**
 * HTTP Digest authentication for SIP (RFC 3261 §22, RFC 8760 for SHA-256, RFC 7616 §3.4).
 *
 * Server side: {@link DigestServer} issues challenges with stateless, HMAC-signed nonces bound to
 * the requester's address that expire (an expired nonce gets `stale=true`, §3.3 of RFC 7616), and
 * checks responses in constant time. It requires what it offers (RFC 7616 §3.3: qop=auth, so
 * every response carries a nonce-count), accepts each nonce-count once and only increasing
 * (§3.4.1; a sniffed header cannot be replayed), and binds `uri` to the Request-URI (RFC 2617
 * §3.2.2.5, RFC 3261 §22.4: a header captured for one target cannot place a call to another).
 * Client side: {@link answerChallenge} computes an Authorization value.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { parseParams, splitOutsideQuotes, unquote } from './uri.js';

/** Supported digest algorithms. */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

const HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(alg: DigestAlgorithm, s: string): string {
  return createHash(HASH[alg]).update(s, 'utf8').digest('hex');
}

/** A parsed `Digest` credentials or challenge value. */
export type DigestParams = Record<string, string>;

/** Parses `Digest a="b", c=d` into a map with lower-cased names; undefined if not Digest. */
export function parseDigest(value: string): DigestParams | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const out: DigestParams = {};
  for (const part of splitOutsideQuotes(m[1]!, ',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    out[part.slice(0, eq).trim().toLowerCase()] = unquote(part.slice(eq + 1).trim());
  }
  return out;
}

/** The inputs of a digest response computation (RFC 7616 §3.4.1). */
export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

/** HA1 = H(username:realm:password), what a server may store instead of the password. */
export function digestHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

/** Computes the `response` value (from the password, or from a stored HA1 when `ha1` is given). */
export function digestResponse(i: DigestInput & { ha1?: string }): string {
  const ha1 = i.ha1 ?? h(i.algorithm, `${i.username}:${i.realm}:${i.password}`);
  const ha2 = h(i.algorithm, `${i.method}:${i.uri}`);
  return i.qop
    ? h(i.algorithm, `${ha1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${ha2}`)
    : h(i.algorithm, `${ha1}:${i.nonce}:${ha2}`);
}

/**
 * Looks up a user's digest secret: the password, or stored HA1 values per algorithm (for users
 * whose password is kept only as a one-way hash), and the algorithms the user may use.
 */
export type CredentialLookup = (username: string) => { password?: string | undefined; ha1?: Partial<Record<DigestAlgorithm, string>> | undefined; digestAlgorithms?: DigestAlgorithm[] | undefined } | undefined;

/** Why credentials were refused. */
export type DigestFailure = 'missing' | 'malformed' | 'unknown-user' | 'wrong-password' | 'stale' | 'bad-nonce' | 'replay' | 'realm' | 'qop-required' | 'uri-mismatch' | 'no-secret';

/** Result of checking an Authorization header. */
export type DigestVerdict = { ok: true; username: string } | { ok: false; why: DigestFailure; detail?: string };

/** The request the credentials must belong to. */
export interface DigestRequest {
  method: string;
  /** The Request-URI as received. */
  uri: string;
  /** The source address the request came from (nonces are bound to it). */
  source?: string;
}

/** `sip:bob@host:5060;transport=udp` and `sip:bob@host:5060` name the same target for digest-uri purposes. */
function sameTarget(a: string, b: string): boolean {
  if (a === b) return true;
  const norm = (u: string) => {
    const m = /^(sips?):(?:([^@;?]*)@)?([^;?]+)/i.exec(u.trim());
    if (!m) return u;
    const hostPort = m[3]!.toLowerCase();
    const withPort = /:\d+$/.test(hostPort) || hostPort.endsWith(']') ? hostPort : `${hostPort}:${m[1]!.toLowerCase() === 'sips' ? 5061 : 5060}`;
    return `${m[1]!.toLowerCase()}:${m[2] ?? ''}@${withPort}`;
  };
  return norm(a) === norm(b);
}

/** Options for {@link DigestServer}. */
export interface DigestServerOptions {
  realm: string;
  /** Algorithms to challenge with, most preferred first (RFC 8760 §2.4: one challenge each). */
  algorithms: DigestAlgorithm[];
  /** Nonce lifetime in ms (default 5 minutes). */
  nonceTtlMs?: number;
  clock: Clock;
  /** HMAC key for nonces; random per process when omitted. */
  secret?: Buffer;
}

/** Server-side digest: challenge values and verification. */
export class DigestServer {
  private readonly secret: Buffer;
  private readonly ttl: number;
  /**
   * Highest nonce-count accepted per nonce (RFC 7616 §3.4: the server should check that nc
   * increases, to stop replays). Entries leave with their nonce's lifetime; insertion order is
   * issue order, so pruning walks from the front.
   */
  private readonly counts = new Map<string, { nc: number; issued: number }>();
  /** Most nonces tracked at once (memory bound under a flood of valid logins). */
  private readonly maxTracked = 100_000;

  constructor(private readonly opts: DigestServerOptions) {
    this.secret = opts.secret ?? randomBytes(32);
    this.ttl = opts.nonceTtlMs ?? 300_000;
  }

  get realm(): string {
    return this.opts.realm;
  }

  private mac(body: string, source: string): string {
    return createHmac('sha256', this.secret).update(`${body}|${source}`).digest('base64url').slice(0, 22);
  }

  private makeNonce(source = ''): string {
    const body = Math.floor(this.opts.clock.now()).toString(36) + '.' + randomBytes(6).toString('hex');
    return `${body}.${this.mac(body, source)}`;
  }

  /** Accepts `nc` for `nonce` only if it is higher than any accepted before (replay protection). */
  private acceptCount(nonce: string, ncHex: string): boolean {
    const nc = parseInt(ncHex, 16);
    if (!/^[0-9a-fA-F]{8}$/.test(ncHex) || nc < 1) return false;
    const now = this.opts.clock.now();
    const seen = this.counts.get(nonce);
    if (seen) {
      if (nc <= seen.nc) return false;
      seen.nc = nc;
      return true;
    }
    for (const [k, v] of this.counts) {
      if (now - v.issued <= this.ttl && this.counts.size < this.maxTracked) break;
      this.counts.delete(k);
    }
    this.counts.set(nonce, { nc, issued: now });
    return true;
  }

  /** Returns 'valid', 'stale' (ours but expired) or 'invalid' (forged, or issued to another address). */
  private checkNonce(nonce: string, source: string): 'valid' | 'stale' | 'invalid' {
    const last = nonce.lastIndexOf('.');
    if (last < 0) return 'invalid';
    const body = nonce.slice(0, last);
    const given = Buffer.from(nonce.slice(last + 1));
    const mac = Buffer.from(this.mac(body, source));
    if (given.length !== mac.length || !timingSafeEqual(given, mac)) return 'invalid';
    const issued = parseInt(body.split('.')[0]!, 36);
    return this.opts.clock.now() - issued > this.ttl ? 'stale' : 'valid';
  }

  /**
   * One WWW-Authenticate / Proxy-Authenticate value per algorithm (RFC 8760 §2.4), most
   * preferred first. `algorithms` overrides the server default for one user: some deployed
   * phones (libre/baresip 1.0) fail outright when any SHA-256 challenge is present.
   */
  challenges(stale = false, algorithms: readonly DigestAlgorithm[] = this.opts.algorithms, source = ''): string[] {
    const nonce = this.makeNonce(source);
    return algorithms.map(
      (alg) => `Digest realm="${this.opts.realm}", nonce="${nonce}", algorithm=${alg}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  /**
   * Verifies the credentials in `authorization` (the header values of Authorization or
   * Proxy-Authorization) for `req`. A user may answer only with an algorithm we challenge them
   * with: their own list, else `defaults` (else the server's) — no downgrade to one not offered.
   */
  verify(authorization: string[], req: DigestRequest, lookup: CredentialLookup, defaults?: readonly DigestAlgorithm[]): DigestVerdict {
    const mine = authorization.map(parseDigest).filter((p): p is DigestParams => !!p && p.realm === this.opts.realm);
    if (!mine.length) return { ok: false, why: authorization.length ? 'realm' : 'missing' };
    const p = mine[0]!;
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase() as DigestAlgorithm;
    if ((algorithm !== 'MD5' && algorithm !== 'SHA-256') || !p.username || !p.nonce || !p.uri || !p.response) {
      return { ok: false, why: 'malformed' };
    }
    // We always offer qop="auth": a response without it has no nonce-count and could be replayed.
    if (!p.qop) return { ok: false, why: 'qop-required' };
    if (p.qop !== 'auth' || !p.nc || !p.cnonce) return { ok: false, why: 'malformed' };
    const nonceState = this.checkNonce(p.nonce, req.source ?? '');
    // Not ours (forged, or issued to another address): challenge again, but this proves nothing.
    if (nonceState === 'invalid') return { ok: false, why: 'bad-nonce' };
    const creds = lookup(p.username);
    if (!creds) return { ok: false, why: 'unknown-user' };
    // Only an algorithm we challenged this user with is acceptable (no downgrade to MD5).
    if (!(creds.digestAlgorithms ?? defaults ?? this.opts.algorithms).includes(algorithm)) return { ok: false, why: 'malformed' };
    const ha1 = creds.ha1?.[algorithm];
    if (ha1 === undefined && creds.password === undefined) return { ok: false, why: 'no-secret' };
    const expected = digestResponse({
      algorithm, username: p.username, realm: this.opts.realm, password: creds.password ?? '', method: req.method, uri: p.uri,
      nonce: p.nonce, qop: 'auth', nc: p.nc, cnonce: p.cnonce, ...(ha1 !== undefined ? { ha1 } : {}),
    });
    const a = Buffer.from(expected);
    const b = Buffer.from(p.response.toLowerCase());
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, why: 'wrong-password' };
    // The digest is over `uri`; it must name the request it came with.
    if (!sameTarget(p.uri, req.uri)) return { ok: false, why: 'uri-mismatch', detail: `digest uri ${p.uri}, Request-URI ${req.uri}` };
    if (nonceState === 'stale') return { ok: false, why: 'stale' };
    // A nonce-count not above the last one is a replayed (or duplicated) request: challenge again.
    if (!this.acceptCount(p.nonce, p.nc)) return { ok: false, why: 'replay' };
    return { ok: true, username: p.username };
  }
}

/**
 * Client side of RFC 3261 §22.2 for a 401/407 response: the credentials header to retry with,
 * or undefined when the challenge should not be answered — no usable challenge, a realm other
 * than `realm`, or `attempts` already made (one, or two when the nonce was only stale).
 */
export function authorizationFor(
  res: { status: number; getAll(name: string): string[] },
  c: { username: string; password: string; method: string; uri: string; realm?: string | undefined },
  attempts: number,
): [header: 'authorization' | 'proxy-authorization', value: string] | undefined {
  if (res.status !== 401 && res.status !== 407) return undefined;
  const proxy = res.status === 407;
  const challenges = res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate');
  const stale = challenges.some((v) => /stale\s*=\s*"?true/i.test(v));
  if (attempts >= (stale ? 2 : 1)) return undefined;
  if (c.realm && !challenges.some((v) => v.includes(`realm="${c.realm}"`))) return undefined;
  const value = answerChallenge(challenges, c);
  return value ? [proxy ? 'proxy-authorization' : 'authorization', value] : undefined;
}

/**
 * Client side: answers the first challenge whose algorithm we support (RFC 8760 §2.4), with
 * qop=auth when offered. Returns the Authorization value, or undefined if none is usable.
 */
export function answerChallenge(
  challenges: string[],
  c: { username: string; password: string; method: string; uri: string; nc?: number },
): string | undefined {
  for (const value of challenges) {
    const p = parseDigest(value);
    if (!p || !p.nonce || p.realm === undefined) continue;
    const algorithm = (p.algorithm ?? 'MD5').toUpperCase();
    if (algorithm !== 'MD5' && algorithm !== 'SHA-256') continue;
    const qops = p.qop ? parseParams(p.qop.replace(/,/g, ';')) : {};
    const useQop = 'auth' in qops;
    const nc = (c.nc ?? 1).toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    const response = digestResponse({
      algorithm: algorithm as DigestAlgorithm, username: c.username, realm: p.realm, password: c.password, method: c.method,
      uri: c.uri, nonce: p.nonce, ...(useQop ? { qop: 'auth' as const, nc, cnonce } : {}),
    });
    let out = `Digest username="${c.username}", realm="${p.realm}", nonce="${p.nonce}", uri="${c.uri}", response="${response}", algorithm=${algorithm}`;
    if (useQop) out += `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
    if (p.opaque !== undefined) out += `, opaque="${p.opaque}"`;
    return out;
  }
  return undefined;
}
