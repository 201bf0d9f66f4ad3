/**
 * `/metrics` (Prometheus text format, prom-client): what an operator's dashboard reads — calls,
 * dialogs, registrations, transactions, queues, agents, media, guard counters, event-loop lag —
 * current during a call, and refused to addresses that are not allowed to scrape.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { demoConfig } from '../../gateway/src/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { sipp } from '../support/sipp.js';

let gw: TestGateway;
before(async () => {
  gw = await startGateway({ users: [...demoConfig().users, { username: 'root', password: 'root-password-1', role: 'admin' }] });
});
after(() => gw?.stop());

function scrape(localAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL('/metrics', gw.addrs.httpUrl);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, localAddress, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function value(body: string, metric: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(metric + ' ') || l.startsWith(metric + '{') && l.includes(metric));
  return line ? Number(line.split(' ').at(-1)) : undefined;
}

test('during a call, /metrics shows it; the process metrics include event-loop lag', async () => {
  const run = sipp([`127.0.0.1:${gw.addrs.sipUdpPort}`, '-sf', 'uac-auth-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'deskphone-demo', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']);
  for (let i = 0; i < 100 && !gw.gw.b2bua.active.some((c) => c.state === 'connected'); i++) await new Promise((r) => setTimeout(r, 50));
  const m = await scrape();
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain/);
  assert.equal(value(m.body, 'switchboard_calls{state="connected"}'), 1);
  assert.equal(value(m.body, 'switchboard_dialogs'), 1);
  assert.equal(value(m.body, 'switchboard_media_endpoints'), 1);
  for (const name of ['switchboard_registrations', 'switchboard_transactions{kind="server"}', 'switchboard_queue_waiting{queue="support"}', 'switchboard_agents{state="offline"}', 'switchboard_guard_active_bans', 'switchboard_udp_kernel_drops_total', 'switchboard_nodejs_eventloop_lag_seconds']) {
    assert.ok(value(m.body, name) !== undefined, `${name} is exported`);
  }
  console.log(`# /metrics: ${m.body.split('\n').filter((l) => l && !l.startsWith('#')).length} samples; event-loop lag ${value(m.body, 'switchboard_nodejs_eventloop_lag_seconds')} s`);
  assert.equal((await run.done).code, 0);
  const after = await scrape();
  assert.ok((value(after.body, 'switchboard_media_packets_total{what="relayed"}') ?? 0) > 100, 'the echo relayed packets');
});

test('another address may not scrape without an admin token', async () => {
  assert.equal((await scrape('127.0.0.2')).status, 403);
  const agent = gw.gw.tokens.issue('alice', 'agent').token;
  assert.equal((await scrape('127.0.0.2', { authorization: `Bearer ${agent}` })).status, 403);
  const admin = gw.gw.tokens.issue('root', 'admin').token; // root: an admin user of this test's gateway
  assert.equal((await scrape('127.0.0.2', { authorization: `Bearer ${admin}` })).status, 200);
});
