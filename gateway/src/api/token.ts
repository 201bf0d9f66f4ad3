/**
 * Short-lived signed access tokens (JWT, RFC 7519, HS256 per RFC 7518 §3.2) for browsers.
 * DESIGN.md: default TTL 1 h, hard maximum 24 h.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The role a token grants. */
export type Role = 'agent' | 'supervisor' | 'admin';

/** Claims the gateway puts in a token. */
export interface TokenClaims {
  /** User name. */
  sub: string;
  role: Role;
  /** Issued-at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
}

/** Hard limit on token lifetime. */
export const MAX_TOKEN_TTL_S = 24 * 3600;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Issues and verifies tokens with one secret. */
export class TokenService {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlSeconds: number,
    private readonly now: () => number = () => Date.now(),
    /**
     * The current role of a user, or undefined when there is no such user: a token for a user who
     * was removed, or whose role changed, stops working at once (not at its expiry).
     */
    private readonly roleOf?: (user: string) => Role | undefined,
  ) {
    if (ttlSeconds <= 0 || ttlSeconds > MAX_TOKEN_TTL_S) throw new RangeError(`token TTL must be 1..${MAX_TOKEN_TTL_S} s`);
  }

  /** Signs a token for `sub` with `role`. */
  issue(sub: string, role: Role, ttlSeconds = this.ttlSeconds): { token: string; expiresAt: number } {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + Math.min(ttlSeconds, MAX_TOKEN_TTL_S);
    const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64(JSON.stringify({ sub, role, iat, exp } satisfies TokenClaims));
    const sig = createHmac('sha256', this.secret).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, expiresAt: exp * 1000 };
  }

  /** Verifies signature, algorithm and expiry; returns the claims or a reason. */
  verify(token: string): { ok: true; claims: TokenClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'revoked' } {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [head, body, sig] = parts as [string, string, string];
    let header: { alg?: string };
    let claims: TokenClaims;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    // Only HS256: never trust the header's choice (the classic "alg: none" attack).
    if (header.alg !== 'HS256') return { ok: false, reason: 'bad-signature' };
    const expected = Buffer.from(createHmac('sha256', this.secret).update(`${head}.${body}`).digest('base64url'));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || typeof claims.sub !== 'string' || !['agent', 'supervisor', 'admin'].includes(claims.role)) return { ok: false, reason: 'malformed' };
    if (claims.exp * 1000 <= this.now()) return { ok: false, reason: 'expired' };
    // Issued in the future, or for longer than the hard maximum: not one of ours.
    if (claims.exp - claims.iat > MAX_TOKEN_TTL_S || claims.iat * 1000 > this.now() + 60_000) return { ok: false, reason: 'malformed' };
    if (this.roleOf && this.roleOf(claims.sub) !== claims.role) return { ok: false, reason: 'revoked' };
    return { ok: true, claims };
  }
}
