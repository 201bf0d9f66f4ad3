import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoConfig } from '../config.js';
import { FakeClock } from '../util/clock.js';
import { CallingPolicy } from './policy.js';

const cfg = demoConfig().calling;
const users: Record<string, { role: 'agent' | 'supervisor' | 'admin'; rights?: { allow: Array<'internal' | 'national' | 'international' | 'premium'>; allowPrefixes?: string[]; denyPrefixes?: string[] } }> = {
  alice: { role: 'agent' },
  carol: { role: 'supervisor' },
  root: { role: 'admin' },
  sales: { role: 'agent', rights: { allow: ['internal', 'national'], allowPrefixes: ['+4420'], denyPrefixes: ['0800'] } },
};

function policy(over: Partial<typeof cfg> = {}, clock = new FakeClock()) {
  return new CallingPolicy({ ...cfg, ...over }, (u) => users[u], clock);
}

test('classes: premium prefixes first, then international unless the home country code follows, else national', () => {
  const p = policy({ countryCode: '1' });
  assert.equal(p.classify('+900 555 0100'), 'premium');
  assert.equal(p.classify('+1 (900) 555-0100'), 'premium');
  assert.equal(p.classify('+9795551234'), 'premium');
  assert.equal(p.classify('00 33 1 40 00 00 00'), 'international');
  assert.equal(policy({ countryCode: '44' }).classify('00 11 88 555'), 'international');
  assert.equal(p.classify('011 44 20 7946 0000'), 'international');
  assert.equal(p.classify('+44 20 7946 0000'), 'international');
  assert.equal(p.classify('+1 212 555 0100'), 'national', 'the home country');
  assert.equal(p.classify('0015551234567'), 'national', '00 + home country');
  assert.equal(p.classify('5552000'), 'national');
  assert.equal(policy().classify('+12125550100'), 'international', 'no home country set: every + number is international');
});

test('defaults: agents call national only, supervisors add international, admins premium; refusals say why', () => {
  const p = policy({ countryCode: '1' });
  assert.equal(p.check('alice', '5552000', 'c1'), undefined);
  assert.deepEqual(p.check('alice', '+9005550100', 'c2'), { status: 403, reason: 'Premium Numbers Not Allowed' });
  assert.deepEqual(p.check('alice', '0033140000000', 'c3'), { status: 403, reason: 'International Numbers Not Allowed' });
  assert.equal(p.check('carol', '+442079460000', 'c4'), undefined);
  assert.deepEqual(p.check('carol', '+19005550100', 'c5'), { status: 403, reason: 'Premium Numbers Not Allowed' });
  assert.equal(p.check('root', '+19005550100', 'c6'), undefined);
  assert.deepEqual(p.check('nobody', '5552000', 'c7'), { status: 403, reason: 'National Numbers Not Allowed' }, 'unknown users: internal only');
  assert.equal(p.stats.refused, 4);
});

test('per-user rights: allow and deny prefixes override the classes', () => {
  const p = policy();
  assert.equal(p.check('sales', '+442079460000', 'c1'), undefined, 'an allowed prefix abroad');
  assert.deepEqual(p.check('sales', '+33140000000', 'c2'), { status: 403, reason: 'International Numbers Not Allowed' });
  assert.deepEqual(p.check('sales', '0800 123 456', 'c3'), { status: 403, reason: 'Number Not Allowed' });
});

test('concurrent external calls and a calls-per-minute fraud limit (alerted)', () => {
  const clock = new FakeClock();
  const p = policy({}, clock);
  assert.equal(p.check('alice', '5550001', 'a'), undefined);
  assert.equal(p.check('alice', '5550002', 'b'), undefined);
  assert.deepEqual(p.check('alice', '5550003', 'c'), { status: 403, reason: 'Too Many External Calls (at most 2 at once)' });
  p.ended('alice', 'a');
  p.ended('alice', 'b');
  for (let i = 0; i < 8; i++) {
    assert.equal(p.check('alice', `555${i}`, `x${i}`), undefined);
    p.ended('alice', `x${i}`);
  }
  assert.deepEqual(p.check('alice', '5559999', 'y'), { status: 403, reason: 'External Call Rate Limit' }, 'the 11th in a minute');
  assert.equal(p.stats.fraudAlerts, 1);
  clock.advance(60_000);
  assert.equal(p.check('alice', '5559999', 'z'), undefined, 'a minute later');
});
