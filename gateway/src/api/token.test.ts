import assert from 'node:assert/strict';
import { test } from 'node:test';
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
