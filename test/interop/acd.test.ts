/**
 * The ACD under load with real SIP peers: sipp places 50 calls (5 per second, digest auth) into
 * the "support" queue, and 3 s later a second sipp places 5 more whose callers hang up after 2 s
 * in the queue; five agents' phones (one sipp UAS behind five static contacts) answer
 * after a random 0.2–1.5 s and hang up after a random 0.5–3 s talk; a sixth agent's phone
 * rings and never answers. Agents are made available by a supervisor over the HTTP API.
 * Checked from the call records, the statistics and sipp's own verdicts: every call is
 * answered or overflowed per the rules, none is offered to two agents at once, no agent has
 * two calls at once, waiting order is respected, and the numbers add up.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { freePort, settle } from '../support/net.js';
import { sipp, type SippRun } from '../support/sipp.js';
import { demoConfig } from '../../gateway/src/index.js';

const MAX_WAIT_S = 20;
const RING_TIMEOUT_S = 4;
let gw: TestGateway | undefined;
const running: SippRun[] = [];

after(async () => {
  for (const r of running) r.proc.kill('SIGKILL');
  await gw?.stop();
});

interface Rec {
  id: string; startedAt: number; answeredAt?: number; endedAt: number; agent?: string; outcome: string; waitMs?: number; queue?: string;
  timeline: Array<{ at: number; event: string; detail?: string }>;
}

test('55 sipp calls into a queue served by 5 agents: answered, overflowed or abandoned, fair, nothing lost or doubled', { timeout: 150_000 }, async () => {
  const agentsPort = await freePort();
  const missPort = await freePort();
  const base = demoConfig();
  const agents = ['agent1', 'agent2', 'agent3', 'agent4', 'agent5'];
  // The agents' phones, bound before the gateway picks its own ports (no port collisions).
  const phones = sipp(['-sf', 'uas-agent.xml', '-p', String(agentsPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-timeout', '120s'], 130_000);
  const deaf = sipp(['-sf', 'uas-ring-cancel.xml', '-p', String(missPort), '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '120s'], 130_000);
  running.push(phones, deaf);
  await settle();
  gw = await startGateway({
    users: [
      ...base.users,
      ...agents.map((a, i) => ({ username: a, password: `${a}-password`, role: 'agent' as const, extension: `40${i + 1}`, skills: { support: 5 }, staticContact: `sip:${a}@127.0.0.1:${agentsPort}` })),
      { username: 'agent6', password: 'agent6-password', role: 'agent' as const, extension: '406', skills: { support: 5 }, staticContact: `sip:agent6@127.0.0.1:${missPort}` },
      // The callers who give up (sipp does MD5 digest only).
      { username: 'quitter', password: 'quitter-password', role: 'agent' as const, digestAlgorithms: ['MD5' as const] },
    ],
    queues: [{ name: 'support', extension: '700', skills: { support: 1 }, members: [...agents, 'agent6'], strategy: 'longest-idle', ringTimeoutSeconds: RING_TIMEOUT_S, maxWaitSeconds: MAX_WAIT_S }],
    center: { ...base.center, database: ':memory:', wrapUpSeconds: 1 },
  });
  const api = gw.addrs.httpUrl;
  const supervisor = gw.gw.tokens.issue('carol', 'supervisor').token;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, api), { method, headers: { authorization: `Bearer ${supervisor}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  // The one who never answers logs in first (so is idle longest and rung first), the others after.
  assert.equal((await call('POST', '/api/agents/agent6/state', { state: 'available' })).status, 200);
  for (const a of agents) {
    const r = await call('POST', `/api/agents/${a}/state`, { state: 'available' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body.agent as { state: string }).state, 'available');
  }
  // Clear errors for bad requests, nothing changed.
  assert.equal((await call('POST', '/api/agents/agent1/state', { state: 'not-ready', reason: 'nap' })).status, 400);
  assert.equal((await call('POST', '/api/agents/agent1/state', { state: 'on-call' })).status, 400);
  assert.equal((await fetch(new URL('/api/stats', api))).status, 401);

  const t0 = Date.now();
  const callers = sipp([
    `127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-wait-bye.xml', '-s', '700', '-au', 'deskphone', '-ap', 'deskphone-demo',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '50', '-r', '5', '-rp', '1000', '-l', '60', '-timeout', '110s',
  ], 120_000);
  running.push(callers);
  await new Promise((r) => setTimeout(r, 3000));
  const quitters = sipp([
    `127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-abandon.xml', '-s', '700', '-au', 'quitter', '-ap', 'quitter-password',
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '5', '-r', '5', '-rp', '1000', '-timeout', '60s',
  ], 70_000);
  running.push(quitters);
  const quit = await quitters.done;
  assert.equal(quit.code, 0, `sipp quitters: answered into the queue, hung up after 2 s:\n${quit.out.slice(-2500)}`);
  const result = await callers.done;
  assert.equal(result.code, 0, `sipp callers: every call must be answered and end with a BYE:\n${result.out.slice(-2500)}`);
  const elapsed = Date.now() - t0;
  await settle(500);
  assert.equal(gw.gw.b2bua.active.length, 0, 'no call left');

  const { body } = await call('GET', '/api/records?queue=support&limit=1000');
  const records = (body.records as Array<Rec & { caller: string }>).sort((a, b) => a.startedAt - b.startedAt);
  assert.equal(records.length, 55, 'one record per call');
  const stayed = records.filter((r) => r.caller === 'deskphone');
  const left = records.filter((r) => r.caller === 'quitter');
  assert.equal(stayed.length, 50);
  assert.equal(stayed.filter((r) => r.outcome === 'answered' || r.outcome === 'overflowed').length, 50, `outcomes: ${JSON.stringify(stayed.map((r) => r.outcome))}`);
  // The quitters waited behind the backlog: abandoned (or, had an agent been that quick, answered) — never lost.
  for (const r of left) assert.ok(r.outcome === 'abandoned' || r.outcome === 'answered', `a quitter's outcome: ${r.outcome}`);
  const abandoned = left.filter((r) => r.outcome === 'abandoned');
  assert.ok(abandoned.length >= 1, 'at least one caller abandoned');
  for (const r of abandoned) {
    assert.ok(r.timeline.some((e) => e.event === 'abandoned') && !r.timeline.some((e) => e.event === 'answered'), `abandoned timeline: ${JSON.stringify(r.timeline)}`);
    assert.ok(Math.abs((r.waitMs ?? 0) - 2000) < 1000, `abandoned after ~2 s in the queue (${r.waitMs} ms)`);
  }
  const answered = records.filter((r) => r.outcome === 'answered');
  const overflowed = records.filter((r) => r.outcome === 'overflowed');
  for (const r of answered) assert.ok(r.agent && agents.includes(r.agent), `answered by a real agent: ${r.agent}`);
  for (const r of overflowed) assert.ok((r.waitMs ?? 0) >= MAX_WAIT_S * 1000 - 50, `overflowed only after ${MAX_WAIT_S} s (waited ${r.waitMs} ms)`);
  for (const r of answered) assert.ok((r.waitMs ?? 0) < (MAX_WAIT_S + RING_TIMEOUT_S) * 1000 + 500, `answered within max wait + one ring (${r.waitMs} ms)`);

  // Never offered to two agents at once: every offer after the first follows that offer's outcome.
  for (const r of records) {
    let ringing = false;
    for (const e of r.timeline) {
      if (e.event === 'offered') {
        assert.ok(!ringing, `call ${r.id} offered while still ringing: ${JSON.stringify(r.timeline)}`);
        ringing = true;
      }
      if (e.event === 'no-answer' || e.event === 'answered' || e.event === 'abandoned' || e.event === 'overflowed') ringing = false;
    }
  }
  // No agent had two calls at once (offer to end, per agent).
  const busy = new Map<string, Array<[number, number]>>();
  for (const r of answered) {
    const offered = r.timeline.filter((e) => e.event === 'offered' && e.detail === r.agent).at(-1)!.at;
    busy.set(r.agent!, [...(busy.get(r.agent!) ?? []), [offered, r.endedAt]]);
  }
  for (const [agent, spans] of busy) {
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], `${agent} had two calls at once`);
  }
  // Waiting order: calls were first offered in the order they queued (one queue, one priority).
  const queuedAt = (r: Rec) => r.timeline.find((e) => e.event === 'queued')!.at;
  const firstOffer = (r: Rec) => r.timeline.find((e) => e.event === 'offered')?.at;
  const offeredInOrder = records.filter((r) => firstOffer(r) !== undefined).sort((a, b) => queuedAt(a) - queuedAt(b));
  for (let i = 1; i < offeredInOrder.length; i++) {
    assert.ok(firstOffer(offeredInOrder[i]!)! >= firstOffer(offeredInOrder[i - 1]!)!, `call ${offeredInOrder[i]!.id} was offered before ${offeredInOrder[i - 1]!.id}, which queued earlier`);
  }
  // Overflowed calls are the ones that waited longest: none of them queued before an answered call that was offered later.
  // The agent who never answers: rung once, timed out, not-ready "missed"; that call went to someone else.
  const missed = records.filter((r) => r.timeline.some((e) => e.event === 'no-answer' && e.detail?.startsWith('agent6')));
  assert.equal(missed.length, 1, 'agent6 was rung exactly once');
  assert.equal(missed[0]!.outcome, 'answered');
  const a6 = (await call('GET', '/api/agents/agent6')).body as { state: string; reason?: string };
  assert.deepEqual([a6.state, a6.reason], ['not-ready', 'missed']);
  const deafDone = await deaf.done;
  assert.equal(deafDone.code, 0, `the unanswered phone saw INVITE, then CANCEL:\n${deafDone.out.slice(-1500)}`);

  // Statistics agree with the records.
  const stats = (await call('GET', '/api/stats')).body as { queues: Array<Record<string, number | string>>; agents: Array<{ username: string; callsHandled: number }> };
  const q = stats.queues.find((x) => x.name === 'support')!;
  assert.equal(q.entered, 55);
  assert.equal(q.answered, answered.length);
  assert.equal(q.overflowed, overflowed.length);
  assert.equal(q.abandoned, abandoned.length);
  assert.equal(q.waiting, 0);
  const handled = stats.agents.filter((a) => agents.includes(a.username)).reduce((n, a) => n + a.callsHandled, 0);
  assert.equal(handled, answered.length);
  for (const a of agents) assert.equal(stats.agents.find((x) => x.username === a)!.callsHandled, answered.filter((r) => r.agent === a).length, `${a}'s count`);
  // Agent history persisted in order.
  const hist = (await call('GET', '/api/agents/agent1/history')).body.history as Array<{ state: string }>;
  assert.deepEqual(hist.slice(0, 3).map((h) => h.state), ['available', 'ringing', 'on-call']);
  // CSV export carries every call.
  const csv = await (await fetch(new URL('/api/records?queue=support&limit=1000&format=csv', api), { headers: { authorization: `Bearer ${supervisor}` } })).text();
  assert.equal(csv.trim().split('\r\n').length, 56);

  // Agents see and change only themselves.
  const agentToken = gw.gw.tokens.issue('agent1', 'agent').token;
  const asAgent = (method: string, path: string, body?: unknown) =>
    fetch(new URL(path, api), { method, headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const mine = ((await (await asAgent('GET', '/api/records?limit=1000')).json()) as { records: Rec[] }).records;
  assert.equal(mine.length, answered.filter((r) => r.agent === 'agent1').length);
  assert.ok(mine.every((r) => r.agent === 'agent1'));
  assert.equal((await asAgent('POST', '/api/agents/agent2/state', { state: 'offline' })).status, 403);
  assert.equal((await asAgent('GET', '/api/agents/agent2/history')).status, 403);
  assert.equal((await asAgent('GET', '/api/agents/agent1/history')).status, 200);

  const waits = answered.map((r) => r.waitMs!).sort((a, b) => a - b);
  console.log(`# ACD run: 55 calls in ${(elapsed / 1000).toFixed(1)} s; answered ${answered.length}, overflowed ${overflowed.length}, abandoned ${abandoned.length}; ` +
    `wait p50 ${waits[Math.floor(waits.length / 2)]} ms, max ${waits.at(-1)} ms; service level ${q.serviceLevel}% within ${q.serviceLevelSeconds} s; ` +
    `per agent ${agents.map((a) => answered.filter((r) => r.agent === a).length).join('/')}`);
});
