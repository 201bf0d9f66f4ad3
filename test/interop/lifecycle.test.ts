/**
 * The gateway's life as an operator sees it, with the CLI in its own process:
 * - SIGTERM with calls up and WebSockets open: new INVITEs get 503, the calls end with BYE and
 *   finished records, WebSockets close with 1001, the process exits 0 within the drain limit and
 *   the ports are free for a restart;
 * - `kill -9` with 10 calls up: after a restart their 10 records are `interrupted`, and SQLite's
 *   integrity check passes;
 * - agents get their state back after a restart.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { WORK } from '../support/browser.js';
import { GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/net.js';
import { sipp, type SippRun } from '../support/sipp.js';

const running: GatewayProcess[] = [];
const sipps: SippRun[] = [];
after(async () => {
  for (const s of sipps) s.proc.kill('SIGKILL');
  for (const g of running) await g.stop();
});

async function config(name: string, extra: Record<string, unknown> = {}) {
  const dir = path.join(WORK, `lifecycle-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const sip = await freePort();
  return {
    db: path.join(dir, 'records.db'),
    sipPort: sip,
    cfg: {
      host: '127.0.0.1',
      http: { port: await freePort() },
      sip: { udpPort: sip, tcpPort: sip },
      auth: { tokenSecret: 'lifecycle-test-secret-0123456789' },
      protection: { trustedAddresses: ['127.0.0.1'] },
      users: [
        { username: 'deskphone', password: 'lifecycle-desk-pw', role: 'agent', extension: '2001', digestAlgorithms: ['MD5'] },
        { username: 'alice', password: 'lifecycle-alice-pw', role: 'agent', extension: '1001', skills: { support: 5 } },
      ],
      queues: [{ name: 'support', extension: '700', skills: { support: 1 } }],
      center: { database: path.join(dir, 'records.db') },
      ...extra,
    } as Record<string, unknown> & { http: { port: number } },
  };
}

/** One INVITE over UDP (no credentials needed to see a 503); resolves with the status line. */
function probeInvite(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      const msg = [`INVITE sip:600@127.0.0.1:${port} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bKprobe${Date.now()};rport`, 'Max-Forwards: 70',
        `From: <sip:probe@127.0.0.1>;tag=p1`, `To: <sip:600@127.0.0.1>`, `Call-ID: probe-${Date.now()}@test`, 'CSeq: 1 INVITE', `Contact: <sip:probe@127.0.0.1:${p}>`,
        'Content-Type: application/sdp', 'Content-Length: 0', '', ''].join('\r\n');
      const t = setTimeout(() => {
        s.close();
        reject(new Error('no answer to the probe INVITE'));
      }, 3000);
      s.on('message', (m) => {
        const line = m.toString().split('\r\n')[0]!;
        if (/^SIP\/2.0 1\d\d/.test(line)) return;
        clearTimeout(t);
        s.close();
        resolve(line);
      });
      s.send(msg, port, '127.0.0.1');
    });
  });
}

const callArgs = (port: number, n: number) => [`127.0.0.1:${port}`, '-sf', 'uac-wait-bye.xml', '-s', '600', '-au', 'deskphone', '-ap', 'lifecycle-desk-pw',
  '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', String(n), '-l', String(n), '-r', '50', '-timeout', '60s'];

/** Waits until `n` calls are connected (answered), from `/metrics` — `/api/health` counts calls still routing. */
async function waitCalls(g: GatewayProcess, n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  const connected = async () => {
    const text = await (await fetch(new URL('/metrics', g.httpUrl))).text();
    return Number(/^switchboard_calls\{state="connected"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  while ((await connected()) < n) {
    if (Date.now() > deadline) throw new Error(`${n} calls did not come up:\n${g.output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('SIGTERM drains: 503 for new calls, BYE and finished records for the calls up, WebSockets closed, exit 0, port free', async () => {
  const { cfg, db, sipPort } = await config('sigterm', { shutdown: { drainSeconds: 3 } });
  const g = await GatewayProcess.start('sigterm', cfg);
  running.push(g);
  const calls = sipp(callArgs(sipPort, 2));
  sipps.push(calls);
  await waitCalls(g, 2);
  // An agent's WebSocket, logged in with a token.
  const login = (await (await fetch(new URL('/api/login', g.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'lifecycle-alice-pw' }) })).json()) as { token: string };
  const ws = new WebSocket(`ws://127.0.0.1:${cfg.http.port}/sip?access_token=${login.token}`, 'sip', { headers: { origin: g.httpUrl.replace(/\/$/, '') } });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  const wsClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));

  const t0 = Date.now();
  g.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  const probe = await probeInvite(sipPort);
  assert.match(probe, /^SIP\/2.0 503/, 'a new call during the drain gets 503');
  assert.equal((await fetch(new URL('/api/health', g.httpUrl))).status, 503, 'health says draining');
  const sippDone = await calls.done;
  const exit = await g.exited;
  const tookMs = Date.now() - t0;
  console.log(`# SIGTERM → exit ${exit.code} in ${tookMs} ms (drain limit 3 s); probe: ${probe}; WebSocket closed with ${await wsClosed}`);
  assert.equal(sippDone.code, 0, `the calls got their BYE:\n${sippDone.out}`);
  assert.equal(exit.code, 0);
  assert.ok(tookMs < 3000 + 3000, `exited within the drain limit plus shutdown (${tookMs} ms)`);
  assert.equal(await wsClosed, 1001, 'WebSockets close with 1001 Going Away');
  const records = new Database(db, { readonly: true }).prepare('SELECT outcome, end_reason AS reason FROM calls').all() as Array<{ outcome: string; reason: string }>;
  assert.equal(records.length, 2);
  for (const r of records) assert.deepEqual(r, { outcome: 'answered', reason: 'Gateway shutting down' });
  // The ports are free: the same configuration starts again at once.
  const again = await GatewayProcess.start('sigterm-again', cfg);
  running.push(again);
  assert.equal((await again.health()).status, 'ok');
  await again.stop();
});

test('kill -9 with 10 calls up: after a restart the 10 records are interrupted; the database is sound', async () => {
  const { cfg, db, sipPort } = await config('kill9');
  const g = await GatewayProcess.start('kill9', cfg);
  running.push(g);
  const calls = sipp(callArgs(sipPort, 10));
  sipps.push(calls);
  await waitCalls(g, 10);
  g.proc.kill('SIGKILL');
  await g.exited;
  calls.proc.kill('SIGKILL');
  const again = await GatewayProcess.start('kill9-again', cfg);
  running.push(again);
  assert.match(again.output, /10 calls were live when the gateway last stopped unexpectedly/);
  await again.stop();
  const d = new Database(db, { readonly: true });
  const rows = d.prepare('SELECT outcome, last_state AS state, end_reason AS reason, ended_at >= started_at AS sane FROM calls').all() as Array<{ outcome: string; state: string; reason: string; sane: number }>;
  console.log(`# after kill -9 and a restart: ${rows.length} records, ${rows.filter((r) => r.outcome === 'interrupted').length} interrupted (last state ${[...new Set(rows.map((r) => r.state))].join(', ')})`);
  assert.equal(rows.length, 10);
  for (const r of rows) assert.deepEqual(r, { outcome: 'interrupted', state: 'connected', reason: 'Gateway stopped unexpectedly', sane: 1 });
  assert.equal(d.pragma('integrity_check', { simple: true }), 'ok');
});

test('after a restart an agent gets its state back when its device registers', async () => {
  const { cfg, sipPort } = await config('restore', { users: [{ username: 'deskphone', password: 'lifecycle-desk-pw', role: 'agent', extension: '2001', digestAlgorithms: ['MD5'], skills: { support: 3 } }] });
  const register = () => sipp([`127.0.0.1:${sipPort}`, '-sf', 'uac-register.xml', '-s', 'deskphone', '-au', 'deskphone', '-ap', 'lifecycle-desk-pw', '-i', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '10s']).done;
  const api = async (g: GatewayProcess, method: string, p: string, body?: unknown) => {
    const login = (await (await fetch(new URL('/api/login', g.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'deskphone', password: 'lifecycle-desk-pw' }) })).json()) as { token: string };
    const res = await fetch(new URL(p, g.httpUrl), { method, headers: { authorization: `Bearer ${login.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return (await res.json()) as { state: string; agent?: { state: string } };
  };
  const g = await GatewayProcess.start('restore', cfg);
  running.push(g);
  assert.equal((await register()).code, 0);
  assert.equal((await api(g, 'POST', '/api/agents/deskphone/state', { state: 'available' })).agent?.state, 'available');
  await g.stop();
  const again = await GatewayProcess.start('restore-again', cfg);
  running.push(again);
  assert.equal((await api(again, 'GET', '/api/agents/deskphone')).state, 'offline', 'no device yet: offline');
  assert.equal((await register()).code, 0);
  const after = await api(again, 'GET', '/api/agents/deskphone');
  console.log(`# restored after the restart: ${after.state}`);
  assert.equal(after.state, 'available');
  await again.stop();
});

test('a configuration without users starts with none: no demo accounts, no passwords printed', async () => {
  const { cfg } = await config('nousers', { users: [], queues: [] });
  const g = await GatewayProcess.start('nousers', cfg);
  running.push(g);
  const res = await fetch(new URL('/api/login', g.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'alice-demo' }) });
  assert.equal(res.status, 401, 'the demo accounts do not exist');
  assert.match(g.output, /Users: none configured/);
  assert.doesNotMatch(g.output, /DEMO MODE/);
  await g.stop();
});
