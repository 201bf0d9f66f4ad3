/**
 * A custom agent desktop served from its own origin (not the gateway's), built only on the SDK's
 * ESM bundle: from an origin listed in `auth.allowedOrigins` it logs in (CORS), connects and
 * calls (the echo test's audio comes back); from an unlisted origin login and connect fail with
 * `SB_ORIGIN_REFUSED` — not the "cannot reach the gateway" an unreachable gateway gives.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchAgent, measureStreamAudio, type Agent } from '../support/browser.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/net.js';

const TONE = 900;
const SDK = path.resolve(import.meta.dirname, '..', '..', 'sdk', 'dist', 'switchboard.browser.js');

/** The whole custom desktop: log in, connect, dial, report (docs/desktop.md walks through it). */
const PAGE = `<!doctype html><meta charset="utf-8"><title>Custom desktop</title>
<script type="module">
import { login, Softphone } from './switchboard.browser.js';
window.desk = {
  async run(gateway, username, password, target) {
    const { token } = await login({ url: gateway, username, password });
    const phone = new Softphone({ url: gateway, token });
    await phone.connect();
    const call = await phone.dial(target);
    await new Promise((ok, fail) => {
      call.on('stateChanged', (s) => s === 'connected' && ok());
      call.on('ended', (e) => fail(e.error ?? new Error('ended')));
    });
    window.desk.call = call;
    return 'connected';
  },
  async connectWith(gateway, token) {
    await new Softphone({ url: gateway, token, reconnect: false }).connect();
  },
};
</script>`;

function desktopServer(port: number): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    if (req.url?.endsWith('switchboard.browser.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(readFileSync(SDK));
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    }
  });
  return new Promise((r) => srv.listen(port, '127.0.0.1', () => r(srv)));
}

let gw: TestGateway;
let listed: http.Server;
let unlisted: http.Server;
let agent: Agent;
let ports: { listed: number; unlisted: number };

before(async () => {
  ports = { listed: await freePort(), unlisted: await freePort() };
  gw = await startGateway({ auth: { allowedOrigins: [`http://127.0.0.1:${ports.listed}`] } });
  [listed, unlisted] = await Promise.all([desktopServer(ports.listed), desktopServer(ports.unlisted)]);
  agent = await launchAgent(`http://127.0.0.1:${ports.listed}/`, TONE);
});

after(async () => {
  await agent?.close();
  await Promise.all([listed, unlisted].map((s) => s && new Promise((r) => s.close(r))));
  await gw?.stop();
});

const gatewayUrl = () => gw.addrs.httpUrl.replace(/\/$/, '');

test('a desktop on a listed origin logs in (CORS), connects and calls; the echo comes back', async () => {
  const state = await agent.page.evaluate(([g]) => (window as unknown as { desk: { run(...a: string[]): Promise<string> } }).desk.run(g!, 'alice', 'alice-demo', '600'), [gatewayUrl()]);
  assert.equal(state, 'connected');
  const heard = await measureStreamAudio(agent.page, 'window.desk.call.remoteStream', 1200);
  console.log(`# custom desktop on its own origin hears ${heard.frequency.toFixed(0)} Hz at ${heard.levelDb.toFixed(1)} dBFS`);
  assert.ok(Math.abs(heard.frequency - TONE) < 15 && heard.levelDb > -40, JSON.stringify(heard));
  await agent.page.evaluate(() => (window as unknown as { desk: { call: { hangup(): Promise<void> } } }).desk.call.hangup());
});

test('from an unlisted origin: login and connect fail with SB_ORIGIN_REFUSED', async () => {
  const page = await agent.browser.newPage();
  await page.goto(`http://127.0.0.1:${ports.unlisted}/`);
  const loginError = await page.evaluate(([g]) => (window as unknown as { desk: { run(...a: string[]): Promise<string> } }).desk.run(g!, 'alice', 'alice-demo', '600').then(() => 'no error', (e: { code?: string }) => e.code ?? String(e)), [gatewayUrl()]);
  assert.equal(loginError, 'SB_ORIGIN_REFUSED');
  const token = gw.gw.tokens.issue('alice', 'agent').token;
  const connectError = await page.evaluate(([g, t]) => (window as unknown as { desk: { connectWith(...a: string[]): Promise<void> } }).desk.connectWith(g!, t!).then(() => 'no error', (e: { code?: string }) => e.code ?? String(e)), [gatewayUrl(), token]);
  assert.equal(connectError, 'SB_ORIGIN_REFUSED');
  // And a gateway that is simply down is told apart.
  const downError = await page.evaluate(() => (window as unknown as { desk: { run(...a: string[]): Promise<string> } }).desk.run('http://127.0.0.1:9', 'alice', 'x', '600').then(() => 'no error', (e: { code?: string }) => e.code ?? String(e)));
  assert.equal(downError, 'SB_CONNECTION_FAILED');
  await page.close();
});
