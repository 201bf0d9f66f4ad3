/**
 * Passwords in the configuration: plain, or an scrypt hash (RFC 7914) written by
 * `switchboard-gateway hash-password`, so a leaked config file does not hand out logins.
 *
 * Format: `scrypt$<N>$<r>$<p>$<salt base64url>$<key base64url>` (a 32-byte key). Node's own
 * `crypto.scrypt` does the work; no library is needed for one function and its inverse.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

const PREFIX = 'scrypt$';
/**
 * N = 2^15, r = 8, p = 1: ~150 ms and 32 MiB per check on this hardware, so checks run in libuv's
 * thread pool (async), never on the event loop that carries SIP timers.
 */
const DEFAULTS = { N: 1 << 15, r: 8, p: 1 };

/** True when `stored` is an scrypt hash (not a plain password). */
export function isPasswordHash(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** Hashes a password for the configuration. */
export function hashPassword(password: string, params = DEFAULTS): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 });
  return `${PREFIX}${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks `password` against a stored value (hash or plain) in constant time for equal lengths. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  if (!isPasswordHash(stored)) {
    const a = Buffer.from(stored);
    const b = Buffer.from(password);
    return a.length === b.length && timingSafeEqual(a, b);
  }
  const parts = stored.slice(PREFIX.length).split('$');
  if (parts.length !== 5) return false;
  const [n, r, p, salt, key] = parts as [string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (!Number.isInteger(N) || !Number.isInteger(R) || !Number.isInteger(P) || N < 2 || R < 1 || P < 1) return false;
  const expected = Buffer.from(key, 'base64url');
  const got = await new Promise<Buffer | undefined>((resolve) =>
    scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: R, p: P, maxmem: 128 * N * R * 2 }, (err, key) => resolve(err ? undefined : key)),
  );
  if (!got) return false;
  return got.length === expected.length && timingSafeEqual(got, expected);
}
