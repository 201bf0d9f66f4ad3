/**
 * The hearing matrix, rule by rule: who hears whom for each mode, hold and mute.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hearingMatrix, type HearingParty, type PartyMode } from './hearing.js';

function party(id: string, mode: PartyMode = 'conference', extra: Partial<HearingParty> = {}): HearingParty {
  return { id, mode, holding: false, serverMuted: false, ...extra };
}

/** The matrix as `listener: sorted speakers` (or `listener: music`). */
function table(parties: HearingParty[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of hearingMatrix(parties)) out[e.id] = e.music !== undefined ? `music${e.music ? `(${e.music})` : ''}` : [...e.hears].sort().join(',');
  return out;
}

test('conference: everyone hears everyone else, nobody hears themself (mix-minus)', () => {
  assert.deepEqual(table([party('cust'), party('agent'), party('third'), party('fourth')]), {
    cust: 'agent,fourth,third',
    agent: 'cust,fourth,third',
    third: 'agent,cust,fourth',
    fourth: 'agent,cust,third',
  });
});

test('two parties: each hears the other (the relay case)', () => {
  assert.deepEqual(table([party('cust'), party('agent')]), { cust: 'agent', agent: 'cust' });
});

test('monitor: the supervisor hears both, nobody hears the supervisor', () => {
  assert.deepEqual(table([party('cust'), party('agent'), party('sup', 'monitor', { coaches: 'agent' })]), {
    cust: 'agent',
    agent: 'cust',
    sup: 'agent,cust',
  });
});

test('whisper: only the coached agent hears the supervisor; the customer never does', () => {
  assert.deepEqual(table([party('cust'), party('agent'), party('sup', 'whisper', { coaches: 'agent' })]), {
    cust: 'agent',
    agent: 'cust,sup',
    sup: 'agent,cust',
  });
});

test('barge: the supervisor is a full party', () => {
  assert.deepEqual(table([party('cust'), party('agent'), party('sup', 'barge', { coaches: 'agent' })]), {
    cust: 'agent,sup',
    agent: 'cust,sup',
    sup: 'agent,cust',
  });
});

test('two supervisors: a monitor does not hear the other one whisper to the agent', () => {
  const t = table([party('cust'), party('agent'), party('s1', 'whisper', { coaches: 'agent' }), party('s2', 'monitor', { coaches: 'agent' })]);
  assert.deepEqual(t, { cust: 'agent', agent: 'cust,s1', s1: 'agent,cust', s2: 'agent,cust' });
});

test('two-party hold: the holder hears nothing, the other hears music on hold', () => {
  assert.deepEqual(table([party('cust'), party('agent', 'conference', { holding: true })]), { cust: 'music', agent: '' });
});

test('hold in a conference: the holder steps out, the others still hear each other (no music)', () => {
  assert.deepEqual(table([party('cust'), party('agent', 'conference', { holding: true }), party('third')]), { cust: 'third', agent: '', third: 'cust' });
});

test('hold with a supervisor listening: the customer gets music, the supervisor still hears the customer', () => {
  assert.deepEqual(table([party('cust'), party('agent', 'conference', { holding: true }), party('sup', 'monitor', { coaches: 'agent' })]), { cust: 'music', agent: '', sup: 'cust' });
});

test('a party muted at the gateway is heard by nobody but still hears', () => {
  assert.deepEqual(table([party('cust'), party('agent'), party('third', 'conference', { serverMuted: true })]), { cust: 'agent', agent: 'cust', third: 'agent,cust' });
});

test('waiting in a queue: the caller hears the queue music only', () => {
  assert.deepEqual(table([party('cust', 'conference', { music: 'sales.wav' })]), { cust: 'music(sales.wav)' });
});

test('switching a mode changes only the matrix: whisper → barge → monitor', () => {
  const sup = party('sup', 'whisper', { coaches: 'agent' });
  const ps = [party('cust'), party('agent'), sup];
  assert.equal(table(ps).cust, 'agent');
  sup.mode = 'barge';
  assert.equal(table(ps).cust, 'agent,sup');
  sup.mode = 'monitor';
  assert.deepEqual(table(ps), { cust: 'agent', agent: 'cust', sup: 'agent,cust' });
});
