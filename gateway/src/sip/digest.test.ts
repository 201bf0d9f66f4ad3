import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../util/clock.js';
import { answerChallenge, digestHa1, digestResponse, DigestServer, parseDigest } from './digest.js';

const req = (method: string, uri = 'sip:x', source?: string) => ({ method, uri, ...(source ? { source } : {}) });

// RFC 7616 §3.9.1 example (the same computation SIP uses, RFC 8760 §2).
const RFC7616 = {
  username: 'Mufasa', realm: 'http-auth@example.org', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', qop: 'auth' as const,
};

test('RFC 7616 §3.9.1 test vectors: MD5 and SHA-256', () => {
  assert.equal(digestResponse({ ...RFC7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec');
  assert.equal(digestResponse({ ...RFC7616, algorithm: 'SHA-256' }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

const users = (name: string) => (name === 'alice' ? { password: 'secret' } : name === 'phone' ? { password: 'pw', digestAlgorithms: ['MD5' as const] } : undefined);

function server(clock = new FakeClock()) {
  return { clock, srv: new DigestServer({ realm: 'switchboard', algorithms: ['SHA-256', 'MD5'], clock, nonceTtlMs: 60_000 }) };
}

test('challenges list SHA-256 then MD5 (RFC 8760 §2.4); a correct answer verifies with either', () => {
  const { srv } = server();
  const ch = srv.challenges();
  assert.equal(ch.length, 2);
  assert.match(ch[0]!, /algorithm=SHA-256/);
  assert.match(ch[1]!, /algorithm=MD5/);
  assert.equal(parseDigest(ch[0]!)!.qop, 'auth');
  // Both challenges carry one nonce, so the second answer must count up (nc=2).
  for (const [i, c] of ch.entries()) {
    const auth = answerChallenge([c], { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:switchboard', nc: i + 1 })!;
    assert.deepEqual(srv.verify([auth], req('REGISTER', 'sip:switchboard'), users), { ok: true, username: 'alice' });
  }
});

test('wrong password, unknown user, wrong method, missing header, foreign realm', () => {
  const { srv } = server();
  const [c] = srv.challenges();
  const wrong = answerChallenge([c!], { username: 'alice', password: 'nope', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([wrong], req('REGISTER'), users), { ok: false, why: 'wrong-password' });
  const ghost = answerChallenge([c!], { username: 'ghost', password: 'x', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([ghost], req('REGISTER'), users), { ok: false, why: 'unknown-user' });
  const right = answerChallenge([c!], { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([right], req('INVITE'), users), { ok: false, why: 'wrong-password' });
  assert.deepEqual(srv.verify([], req('REGISTER'), users), { ok: false, why: 'missing' });
  assert.deepEqual(srv.verify([right.replace('realm="switchboard"', 'realm="other"')], req('REGISTER'), users), { ok: false, why: 'realm' });
});

test('nonce-count replay protection: the same or a lower nc on a nonce is refused, a higher one accepted', () => {
  const { srv } = server();
  const [c] = srv.challenges();
  const answer = (nc: number) => answerChallenge([c!], { username: 'alice', password: 'secret', method: 'INVITE', uri: 'sip:1002@x', nc })!;
  const r = req('INVITE', 'sip:1002@x');
  const first = answer(1);
  assert.deepEqual(srv.verify([first], r, users), { ok: true, username: 'alice' });
  assert.deepEqual(srv.verify([first], r, users), { ok: false, why: 'replay' }, 'the captured request replayed');
  assert.deepEqual(srv.verify([answer(3)], r, users), { ok: true, username: 'alice' });
  assert.deepEqual(srv.verify([answer(2)], r, users), { ok: false, why: 'replay' }, 'counts must increase');
  const bad = answer(4).replace(/nc=[0-9a-f]+/, 'nc=zz');
  assert.equal(srv.verify([bad], r, users).ok, false, 'a malformed nc never verifies');
});

test('an expired nonce is stale (re-challenge with stale=true), a forged one too', () => {
  const { srv, clock } = server();
  const [c] = srv.challenges();
  const auth = answerChallenge([c!], { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:x' })!;
  clock.advance(60_001);
  assert.deepEqual(srv.verify([auth], req('REGISTER'), users), { ok: false, why: 'stale' });
  assert.match(srv.challenges(true)[0]!, /stale=true/);
  const forged = auth.replace(/nonce="([^"]+)"/, (_m, n: string) => `nonce="${n.slice(0, -2)}xx"`);
  assert.equal(srv.verify([forged], req('REGISTER'), users).ok, false);
});

test('per-user algorithms: an MD5-only phone gets only MD5 and SHA-256-only users cannot be downgraded', () => {
  const clock = new FakeClock();
  const srv = new DigestServer({ realm: 'switchboard', algorithms: ['SHA-256'], clock });
  const md5 = srv.challenges(false, ['MD5']);
  assert.equal(md5.length, 1);
  const phone = answerChallenge(md5, { username: 'phone', password: 'pw', method: 'REGISTER', uri: 'sip:x' })!;
  assert.equal(srv.verify([phone], req('REGISTER'), users).ok, true);
  const aliceMd5 = answerChallenge(md5, { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([aliceMd5], req('REGISTER'), users), { ok: false, why: 'malformed' });
});

test('client side answers the first supported challenge and skips unknown algorithms', () => {
  const auth = answerChallenge(['Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Digest realm="r", nonce="n", algorithm=MD5, qop="auth,auth-int", opaque="o"'], {
    username: 'u', password: 'p', method: 'INVITE', uri: 'sip:b@r',
  })!;
  const p = parseDigest(auth)!;
  assert.equal(p.algorithm, 'MD5');
  assert.equal(p.qop, 'auth');
  assert.equal(p.nc, '00000001');
  assert.equal(p.opaque, 'o');
  assert.equal(p.response, digestResponse({ algorithm: 'MD5', username: 'u', realm: 'r', password: 'p', method: 'INVITE', uri: 'sip:b@r', nonce: 'n', qop: 'auth', nc: p.nc!, cnonce: p.cnonce! }));
});

test('a response without qop is refused, however often it is sent (no nonce-count = replayable)', () => {
  const { srv } = server();
  const [c] = srv.challenges();
  const p = parseDigest(c!)!;
  const noQop = `Digest username="alice", realm="switchboard", nonce="${p.nonce}", uri="sip:1002@x", algorithm=SHA-256, response="${digestResponse({ algorithm: 'SHA-256', username: 'alice', realm: 'switchboard', password: 'secret', method: 'INVITE', uri: 'sip:1002@x', nonce: p.nonce! })}"`;
  for (let i = 0; i < 3; i++) assert.deepEqual(srv.verify([noQop], req('INVITE', 'sip:1002@x'), users), { ok: false, why: 'qop-required' });
});

test('the digest uri must name the Request-URI: a header captured for one target cannot call another', () => {
  const { srv } = server();
  const [c] = srv.challenges();
  const auth = answerChallenge([c!], { username: 'alice', password: 'secret', method: 'INVITE', uri: 'sip:1002@gw.example.com' })!;
  assert.equal((srv.verify([auth], req('INVITE', 'sip:+19005550100@gw.example.com'), users) as { why: string }).why, 'uri-mismatch');
  assert.deepEqual(srv.verify([auth], req('INVITE', 'sip:1002@gw.example.com:5060'), users), { ok: true, username: 'alice' }, 'the default port is the same target');
});

test('nonces are bound to the address they were issued to', () => {
  const { srv } = server();
  const [c] = srv.challenges(false, undefined, '192.0.2.10');
  const auth = answerChallenge([c!], { username: 'alice', password: 'secret', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([auth], req('REGISTER', 'sip:x', '198.51.100.7'), users), { ok: false, why: 'bad-nonce' }, 'from elsewhere: a fresh challenge');
  assert.deepEqual(srv.verify([auth], req('REGISTER', 'sip:x', '192.0.2.10'), users), { ok: true, username: 'alice' });
});

test('stored HA1 instead of a password (users whose password is an scrypt hash)', () => {
  const { srv } = server();
  const ha1 = { 'SHA-256': digestHa1('SHA-256', 'desk', 'switchboard', 'desk-secret') };
  const lookup = (n: string) => (n === 'desk' ? { ha1 } : undefined);
  const [sha] = srv.challenges();
  const ok = answerChallenge([sha!], { username: 'desk', password: 'desk-secret', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([ok], req('REGISTER'), lookup), { ok: true, username: 'desk' });
  const md5 = srv.challenges(false, ['MD5']);
  const noHa1 = answerChallenge(md5, { username: 'desk', password: 'desk-secret', method: 'REGISTER', uri: 'sip:x' })!;
  assert.deepEqual(srv.verify([noHa1], req('REGISTER'), lookup), { ok: false, why: 'no-secret' });
});
