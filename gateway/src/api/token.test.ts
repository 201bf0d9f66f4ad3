import assert from 'node:assert/strict';
import { test } from 'node:test';
import crypto from 'node:crypto';
import { TokenService } from './token.js';

test('issues and verifies HS256 tokens; rejects expired, tampered and alg=none', () => {
  let now = 1_700_000_000_000;
  const svc = new TokenService(Buffer.from('k'.repeat(32)), 3600, () => now);
  const { token, expiresAt } = svc.issue('alice', 'agent');
  assert.equal(expiresAt, now + 3_600_000);
  const v = svc.verify(token);
  assert.ok(v.ok && v.claims.sub === 'alice' && v.claims.role === 'agent');
  const [h, b, s] = token.split('.');
  const evil = Buffer.from(JSON.stringify({ sub: 'admin', role: 'admin', iat: 1, exp: 9e9 })).toString('base64url');
  assert.deepEqual(svc.verify(`${h}.${evil}.${s}`), { ok: false, reason: 'bad-signature' });
  const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
  assert.deepEqual(svc.verify(`${none}.${b}.`), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(svc.verify('garbage'), { ok: false, reason: 'malformed' });
  now += 3_600_000;
  assert.deepEqual(svc.verify(token), { ok: false, reason: 'expired' });
  assert.deepEqual(new TokenService(Buffer.from('other'), 60).verify(svc.issue('a', 'agent').token), { ok: false, reason: 'bad-signature' });
});

test('lifetime is capped at 24 h', () => {
  assert.throws(() => new TokenService(Buffer.from('k'), 86_401), RangeError);
  const svc = new TokenService(Buffer.from('k'), 3600, () => 0);
  assert.equal(svc.issue('a', 'agent', 10 * 86_400).expiresAt, 86_400_000);
});

test('tokens without iat, issued in the future, or for users who no longer exist (or changed role) are refused', () => {
  const now = 1_700_000_000_000;
  const roles: Record<string, 'agent' | 'supervisor'> = { alice: 'agent', carol: 'supervisor' };
  const svc = new TokenService(Buffer.from('k'.repeat(32)), 3600, () => now, (u) => roles[u]);
  const sign = (claims: object) => {
    const { createHmac } = crypto;
    const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const b = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${h}.${b}.${createHmac('sha256', Buffer.from('k'.repeat(32))).update(`${h}.${b}`).digest('base64url')}`;
  };
  const exp = now / 1000 + 600;
  assert.deepEqual(svc.verify(sign({ sub: 'alice', role: 'agent', exp })), { ok: false, reason: 'malformed' }, 'no iat');
  assert.deepEqual(svc.verify(sign({ sub: 'alice', role: 'agent', iat: now / 1000 + 3600, exp: now / 1000 + 7200 })), { ok: false, reason: 'malformed' }, 'issued in the future');
  assert.equal(svc.verify(sign({ sub: 'alice', role: 'agent', iat: now / 1000, exp })).ok, true);
  assert.deepEqual(svc.verify(svc.issue('mallory', 'agent').token), { ok: false, reason: 'revoked' }, 'no such user');
  assert.deepEqual(svc.verify(svc.issue('alice', 'admin').token), { ok: false, reason: 'revoked' }, 'not her role');
  assert.equal(svc.verify(svc.issue('carol', 'supervisor').token).ok, true);
});
