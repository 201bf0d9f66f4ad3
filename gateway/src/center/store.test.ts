import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RecordStore, recordsToCsv, type CallRecord } from './store.js';
import { AgentState } from './agents.js';

const rec = (id: string, over: Partial<CallRecord> = {}): CallRecord => ({
  id, startedAt: 1_000, endedAt: 5_000, caller: '+15551234', callee: 'alice', endedBy: 'caller', endStatus: 200, endReason: 'bye-received', outcome: 'answered',
  timeline: [{ at: 1_000, event: 'arrived' }], transfers: [], ...over,
});

test('records: written, filtered, wrap-up added, and still there after the database is reopened', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-store-'));
  const file = path.join(dir, 'sub', 'records.db');
  try {
    const store = new RecordStore(file);
    store.addCall(rec('a', { queue: 'support', agent: 'alice', answeredAt: 2_000, talkMs: 3_000, waitMs: 900 }));
    store.addCall(rec('b', { startedAt: 2_000, queue: 'sales', outcome: 'abandoned', callee: 'sales' }));
    store.addCall(rec('c', { startedAt: 3_000, caller: 'bob', callee: '5552000', trunk: 'pbx', transfers: [{ at: 4_000, by: 'bob', to: 'carol', result: 'completed' }] }));
    assert.deepEqual(store.calls().map((r) => r.id), ['c', 'b', 'a'], 'newest first');
    assert.deepEqual(store.calls({ queue: 'SUPPORT' }).map((r) => r.id), ['a']);
    assert.deepEqual(store.calls({ agent: 'alice' }).map((r) => r.id), ['a']);
    assert.deepEqual(store.calls({ party: 'bob' }).map((r) => r.id), ['c']);
    assert.deepEqual(store.calls({ outcome: 'abandoned' }).map((r) => r.id), ['b']);
    assert.deepEqual(store.calls({ from: 2_000, to: 3_000 }).map((r) => r.id), ['b']);
    assert.deepEqual(store.calls({ limit: 1, offset: 1 }).map((r) => r.id), ['b']);
    assert.equal(store.setWrapUp('a', 'resolved', 'fixed it', 6_000), true);
    assert.equal(store.setWrapUp('nope', 'resolved', undefined, 6_000), false);
    // Call data: written with the record, replaced after the call (a CRM attaching its case).
    store.addCall(rec('d', { data: { caller: 'carol', dialed: '5551700', queue: 'support', attributes: { customerId: 'C-1' } } }));
    assert.equal(store.setData('d', { caller: 'carol', dialed: '5551700', queue: 'support', attributes: { customerId: 'C-1', caseId: 'K-9' } }), true);
    assert.equal(store.setData('nope', { caller: 'x', dialed: 'y', attributes: {} }), false);
    store.addAgentTransition({ agent: 'alice', at: 10, state: AgentState.Available, previous: AgentState.Offline, by: 'agent' });
    store.addAgentTransition({ agent: 'alice', at: 20, state: AgentState.NotReady, previous: AgentState.Available, by: 'supervisor', reason: 'lunch' });
    store.close();
    // A new process opens the same file: nothing was lost.
    const again = new RecordStore(file);
    const a = again.call('a')!;
    assert.deepEqual([a.wrapUpCode, a.wrapUpNotes, a.waitMs, a.talkMs], ['resolved', 'fixed it', 900, 3_000]);
    assert.deepEqual(a.timeline.map((e) => e.event), ['arrived', 'wrap-up']);
    assert.deepEqual(again.call('c')!.transfers, [{ at: 4_000, by: 'bob', to: 'carol', result: 'completed' }]);
    assert.deepEqual(again.call('d')!.data, { caller: 'carol', dialed: '5551700', queue: 'support', attributes: { customerId: 'C-1', caseId: 'K-9' } });
    assert.equal(again.call('a')!.data, undefined);
    assert.match(recordsToCsv([again.call('d')!]), /,customerId=C-1;caseId=K-9\r?$/m);
    assert.deepEqual(again.agentHistory('ALICE').map((h) => [h.state, h.reason, h.by]), [['available', undefined, 'agent'], ['not-ready', 'lunch', 'supervisor']]);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: one row per record, RFC 4180 quoting, no spreadsheet formulas', () => {
  const csv = recordsToCsv([rec('x', { wrapUpNotes: 'said "hi", then\nleft' }), rec('y', { caller: '=HYPERLINK("http://evil")', wrapUpCode: '+1' })]);
  const lines = csv.split('\r\n');
  assert.equal(lines[0], 'id,startedAt,answeredAt,endedAt,caller,callee,queue,agent,trunk,codec,outcome,waitMs,talkMs,endedBy,endStatus,endReason,wrapUpCode,wrapUpNotes,transfers,parties,attributes');
  assert.ok(csv.includes('"said ""hi"", then\nleft"'));
  assert.ok(csv.includes(`"'=HYPERLINK(""http://evil"")"`), 'formula neutralised');
  // OWASP: formulas behind leading spaces, and cells starting with TAB or CR, too.
  const more = recordsToCsv([rec('z', { caller: '  =1+2', callee: '\t@SUM(A1)', wrapUpNotes: '\r=cmd', wrapUpCode: '-3' })]);
  assert.ok(more.includes(`'  =1+2`), more);
  assert.ok(more.includes(`'\t@SUM(A1)`), more);
  assert.ok(more.includes(`"'\r=cmd"`), more);
  assert.ok(more.includes(',-3,'), 'a plain negative number stays a number');
  assert.ok(csv.includes(',+1,'), 'a phone-number-like +1 stays a number');
  assert.ok(csv.includes('1970-01-01T00:00:01.000Z'));
});
