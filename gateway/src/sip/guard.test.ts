import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../util/clock.js';
import { DEFAULT_GUARD, SourceGuard } from './guard.js';
import { SipRequest } from './message.js';
import type { Source } from './transport/types.js';

const FLOOD: Source = { transport: 'UDP', address: '203.0.113.9', port: 5070, flowId: 'udp' };
const GOOD: Source = { transport: 'UDP', address: '198.51.100.7', port: 5060, flowId: 'udp' };

function options(ua?: string): SipRequest {
  const r = new SipRequest('OPTIONS', 'sip:switchboard');
  r.add('via', 'SIP/2.0/UDP 203.0.113.9:5070;branch=z9hG4bKg');
  if (ua) r.add('user-agent', ua);
  return r;
}

test('the 17th unauthenticated request in 2 s bans that source (address and port) for 300 s; other sources are untouched', () => {
  const clock = new FakeClock();
  const g = new SourceGuard(clock, DEFAULT_GUARD);
  for (let i = 0; i < 16; i++) g.unauthenticated(FLOOD);
  assert.equal(g.accepts(FLOOD), true, '16 are allowed');
  g.unauthenticated(FLOOD);
  assert.equal(g.stats.bans, 1);
  assert.equal(g.isBanned(FLOOD.address, FLOOD.port), true);
  assert.equal(g.isBanned(FLOOD.address), false, 'the address as a whole is not banned');
  assert.equal(g.accepts(FLOOD), false, 'dropped before parsing');
  assert.equal(g.accepts({ ...FLOOD, port: 5071 }), true, 'another phone behind the same address is not');
  assert.equal(g.accepts(GOOD), true);
  clock.advance(299_999);
  assert.equal(g.accepts(FLOOD), false);
  clock.advance(1);
  assert.equal(g.accepts(FLOOD), true, 'ban over after 300 s');
  assert.equal(g.stats.activeBans, 0);
  assert.equal(g.stats.droppedBanned, 2);
  assert.equal(g.stats.droppedRate, 1);
});

test('a flood that rotates ports bans the address once it passes addressRateLimit', () => {
  const g = new SourceGuard(new FakeClock(), DEFAULT_GUARD);
  for (let i = 0; i < 161; i++) g.unauthenticated({ ...FLOOD, port: 10_000 + i });
  assert.equal(g.isBanned(FLOOD.address), true);
  assert.equal(g.accepts({ ...FLOOD, port: 40_000 }), false, 'every port of the address');
});

test('authenticated traffic is never counted: 30 phones behind one NAT, one challenge each every 10 s, never banned', () => {
  const clock = new FakeClock();
  const g = new SourceGuard(clock, DEFAULT_GUARD);
  for (let round = 0; round < 60; round++) {
    // Each phone's re-REGISTER: one challenge (counted), then the authenticated retry (not counted).
    for (let p = 0; p < 30; p++) g.unauthenticated({ ...GOOD, port: 20_000 + p });
    clock.advance(10_000);
  }
  assert.equal(g.stats.bans, 0);
});

test('a steady 16 unauthenticated requests per window never bans', () => {
  const clock = new FakeClock();
  const g = new SourceGuard(clock, DEFAULT_GUARD);
  for (let w = 0; w < 10; w++) {
    for (let i = 0; i < 16; i++) g.unauthenticated(GOOD);
    clock.advance(2000);
  }
  assert.equal(g.stats.bans, 0);
});

test('failed authentication: the 5th failure of a source within a minute bans it; failures spread out do not; 20 from one address ban it', () => {
  const clock = new FakeClock();
  const g = new SourceGuard(clock, DEFAULT_GUARD);
  for (let i = 0; i < 4; i++) {
    g.authFailed(GOOD);
    clock.advance(20_000);
  }
  assert.equal(g.isBanned(GOOD.address, GOOD.port), false, '4 failures, each minute window holds at most 3');
  for (let i = 0; i < 5; i++) g.authFailed(FLOOD);
  assert.equal(g.isBanned(FLOOD.address, FLOOD.port), true);
  assert.equal(g.isBanned(FLOOD.address), false);
  for (let i = 0; i < 20; i++) g.authFailed({ ...FLOOD, port: 30_000 + i });
  assert.equal(g.isBanned(FLOOD.address), true, 'a guesser rotating ports');
});

test('scanner User-Agents are dropped whatever the rate; ordinary phones pass', () => {
  const g = new SourceGuard(new FakeClock(), DEFAULT_GUARD);
  assert.equal(g.check(options('friendly-scanner'), GOOD), 'scanner');
  assert.equal(g.check(options('sipvicious 0.3.4'), GOOD), 'scanner');
  assert.equal(g.check(options('SIPCLI/v1.8'), GOOD), 'scanner');
  assert.equal(g.check(options('baresip v1.0.0 (x86_64/linux)'), GOOD), 'ok');
  assert.equal(g.check(options('Yealink SIP-T46S 66.86.0.15'), GOOD), 'ok');
  assert.equal(g.stats.droppedScanner, 3);
});

test('trusted addresses and token-authenticated flows are exempt', () => {
  const g = new SourceGuard(new FakeClock(), { ...DEFAULT_GUARD, trustedAddresses: [FLOOD.address] });
  const agent: Source = { transport: 'WS', address: '192.0.2.1', port: 1, flowId: 'ws-1', auth: { user: 'alice', role: 'agent' } };
  for (let i = 0; i < 1000; i++) {
    g.unauthenticated(FLOOD);
    g.unauthenticated(agent);
  }
  for (let i = 0; i < 100; i++) g.authFailed(FLOOD);
  assert.equal(g.stats.bans, 0);
  assert.equal(g.accepts(FLOOD) && g.accepts(agent), true);
});

test('tracked sources stay bounded under a spoofed-address flood', () => {
  const g = new SourceGuard(new FakeClock(), { ...DEFAULT_GUARD, maxTrackedSources: 1000 });
  for (let i = 0; i < 50_000; i++) g.unauthenticated({ ...FLOOD, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
  const sizes = g as unknown as { sources: Map<string, unknown>; addresses: Map<string, unknown> };
  assert.ok(sizes.sources.size <= 1000 && sizes.addresses.size <= 1000, `tracked ${sizes.sources.size} / ${sizes.addresses.size}`);
});
