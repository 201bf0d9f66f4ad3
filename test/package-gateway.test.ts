/**
 * The gateway as its users get it: `npm pack` of the gateway and the protocol package, then
 * `npm i -g` into a temporary prefix (the registry supplies the third-party dependencies;
 * better-sqlite3 builds its native module the way it does on any machine). The installed
 * `switchboard-gateway` runs from outside the repository: `--help`, `hash-password`, and a real
 * start — health, the demo softphone served from the package, an echo call from sipp through
 * the media worker — then SIGTERM and exit 0.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { freePort } from './support/net.js';
import { sipp } from './support/sipp.js';

const ROOT = path.resolve(import.meta.dirname, '..');
let dir: string;
let bin: string;
const tarballs: Record<string, { filename: string; files: Array<{ path: string }> }> = {};

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sb-gateway-pkg-'));
  const out = execFileSync('npm', ['pack', '--json', '-w', 'protocol', '-w', 'gateway', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
  // prepack scripts print to stdout before npm's JSON.
  for (const t of JSON.parse(out.slice(out.indexOf('['))) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>) tarballs[t.name] = t;
  const t0 = Date.now();
  await promisify(execFile)('npm', ['install', '-g', '--prefix', path.join(dir, 'global'), '--prefer-offline', '--no-audit', '--no-fund',
    path.join(dir, tarballs['@switchboard/protocol']!.filename), path.join(dir, tarballs['@switchboard/gateway']!.filename)], { cwd: dir, maxBuffer: 1 << 24 });
  console.log(`# npm i -g of the two tarballs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  bin = path.join(dir, 'global', 'bin', 'switchboard-gateway');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('tarball: the compiled gateway, the demo app, README, LICENSE, CHANGELOG; no tests, no TypeScript sources', () => {
  const files = tarballs['@switchboard/gateway']!.files.map((f) => f.path);
  for (const f of ['dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/media/worker.js', 'demo-app/index.html', 'demo-app/app.js', 'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /\.test\.|^src\/|testing\//.test(f)), [], 'no tests, sources or test helpers');
  assert.ok(tarballs['@switchboard/protocol']!.files.some((f) => f.path === 'dist/index.js'));
});

test('installed globally: --help and hash-password work from any directory', () => {
  const help = execFileSync(bin, ['--help'], { cwd: dir, encoding: 'utf8' });
  assert.match(help, /^Usage: switchboard-gateway \[--config FILE\]/);
  const hash = execFileSync(bin, ['hash-password'], { cwd: dir, input: 'a-long-enough-password\n', encoding: 'utf8' });
  assert.match(JSON.parse(hash).password, /^scrypt\$\d+\$\d+\$\d+\$[\w-]+\$[\w-]{43}$/, 'a scrypt hash to paste into the configuration');
});

test('installed globally: starts from a config file, serves health and the demo, takes an echo call through the media worker, stops on SIGTERM', async () => {
  const http = await freePort();
  const sipPort = await freePort();
  const config = path.join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify({
    host: '127.0.0.1',
    http: { port: http },
    sip: { udpPort: sipPort, tcpPort: sipPort },
    auth: { tokenSecret: 'package-test-secret-0123456789' },
    protection: { trustedAddresses: ['127.0.0.1'] },
    users: [{ username: 'deskphone', password: 'package-desk-pw', role: 'agent', extension: '2001', digestAlgorithms: ['MD5'] }],
    center: { database: path.join(dir, 'records.db') },
  }));
  const proc = spawn(bin, ['--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHBOARD_LOG_FORMAT: 'text' } });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  try {
    const base = `http://127.0.0.1:${http}`;
    let health: { status?: string } = {};
    for (let i = 0; i < 100 && health.status !== 'ok'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = (await fetch(`${base}/api/health`).then((r) => r.json(), () => ({}))) as { status?: string };
    }
    assert.equal(health.status, 'ok', `health:\n${output}`);
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>[^<]*Switchboard/);
    assert.equal((await fetch(`${base}/app.js`)).status, 200, 'the demo bundle is served from the package');
    const call = await sipp([`127.0.0.1:${sipPort}`, '-sf', 'uac-auth-echo.xml', '-s', '600', '-au', 'deskphone', '-ap', 'package-desk-pw', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-t', 'u1', '-m', '1', '-timeout', '30s']).done;
    assert.equal(call.code, 0, `the echo call:\n${call.out.slice(-2000)}\n${output.slice(-2000)}`);
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, output.slice(-2000));
  } finally {
    proc.kill('SIGKILL');
  }
});
