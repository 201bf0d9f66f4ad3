/**
 * The built SDK as its users get it: every build loads and exports the public API, the browser
 * bundle stays within the size budget (DESIGN.md: ≤ 70 KB min+gzip including sip.js), and the
 * npm tarball works in a fresh app — require() and import, a tree-shaken bundle, strict tsc
 * under three module resolutions, and the right files in the tarball.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'sdk', 'dist');
const PUBLIC = ['Softphone', 'Call', 'CallState', 'ConnectionState', 'RegistrationState', 'SwitchboardError', 'ERROR_CATALOG', 'login', 'Agent', 'Supervisor'];

test('the ES modules export the public API', async () => {
  const mod = await import(path.join(DIST, 'esm', 'index.js'));
  for (const name of PUBLIC) assert.ok(name in mod, `missing export ${name}`);
  assert.equal(new mod.SwitchboardError('SB_BUSY').code, 'SB_BUSY');
});

test('the CommonJS build works with require()', () => {
  const require = createRequire(import.meta.url);
  const sb = require(path.join(DIST, 'index.cjs'));
  for (const name of PUBLIC) assert.ok(name in sb, `missing export ${name}`);
  assert.equal(typeof sb.Softphone, 'function');
});

test('the <script> build defines the global Switchboard', () => {
  const context: { Switchboard?: Record<string, unknown> } & Record<string, unknown> = {};
  vm.runInNewContext(readFileSync(path.join(DIST, 'switchboard.global.js'), 'utf8'), context);
  for (const name of PUBLIC) assert.ok(context.Switchboard && name in context.Switchboard, `missing global export ${name}`);
});

test('the browser bundle is within budget (min+gzip, sip.js included), with a source map', () => {
  const size = gzipSync(readFileSync(path.join(DIST, 'switchboard.browser.js')), { level: 9 }).length;
  console.log(`# measured: SDK browser bundle ${size} bytes min+gzip`);
  assert.ok(size <= 70 * 1024, `bundle is ${size} bytes, budget 71680`);
  assert.ok(JSON.parse(readFileSync(path.join(DIST, 'switchboard.browser.js.map'), 'utf8')).sources.some((s: string) => s.endsWith('softphone.ts')));
});

// ---- the npm tarball in a fresh app ----

let app: string;
let files: string[];

before(() => {
  app = mkdtempSync(path.join(os.tmpdir(), 'sb-sdk-app-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', app], { cwd: path.join(ROOT, 'sdk'), encoding: 'utf8' });
  const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info!.files.map((f) => f.path);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'desk', private: true, version: '1.0.0' }));
  // Offline: the SDK has no dependencies; typescript comes from this repository.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(app, info!.filename)], { cwd: app, stdio: 'pipe' });
});

after(() => rmSync(app, { recursive: true, force: true }));

test('tarball: README, LICENSE, CHANGELOG, maps and types; no tests, no sources of the repository', () => {
  for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/index.cjs.map', 'dist/esm/index.js.map']) assert.ok(files.includes(f), `missing ${f}`);
  assert.deepEqual(files.filter((f) => /test|\.tsbuildinfo$|^src\//.test(f)), []);
  const pkg = JSON.parse(readFileSync(path.join(app, 'node_modules', '@switchboard', 'sdk', 'package.json'), 'utf8'));
  assert.deepEqual(pkg.dependencies ?? {}, {}, 'sip.js is bundled, not installed a second time');
});

test('installed: require() and import both give the Softphone', () => {
  const cjs = execFileSync(process.execPath, ['-e', "console.log(typeof require('@switchboard/sdk').Softphone)"], { cwd: app, encoding: 'utf8' });
  assert.equal(cjs.trim(), 'function');
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { Softphone } from '@switchboard/sdk'; console.log(typeof Softphone)"], { cwd: app, encoding: 'utf8' });
  assert.equal(esm.trim(), 'function');
});

test('installed: an app importing only SwitchboardError bundles to under 3 KB minified (tree-shaken)', async () => {
  writeFileSync(path.join(app, 'errors-only.js'), "import { SwitchboardError } from '@switchboard/sdk';\nconsole.log(new SwitchboardError('SB_BUSY').message);\n");
  const r = await build({ entryPoints: [path.join(app, 'errors-only.js')], bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', absWorkingDir: app, logLevel: 'silent' });
  const size = r.outputFiles[0]!.contents.length;
  console.log(`# measured: errors-only app ${size} bytes minified`);
  assert.ok(size < 3 * 1024, `errors-only bundle is ${size} bytes`);
  const full = await build({ stdin: { contents: "import { Softphone } from '@switchboard/sdk'; console.log(Softphone);", resolveDir: app }, bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', absWorkingDir: app, logLevel: 'silent' });
  assert.ok(full.outputFiles[0]!.contents.length > 100 * 1024, 'the full softphone does include sip.js');
});

test('installed: the headset entry point (@switchboard/sdk/headset) loads both ways and stays out of apps that do not import it', async () => {
  for (const f of ['dist/headset.d.ts', 'dist/headset.d.cts', 'dist/headset.cjs', 'dist/esm/headset/index.js']) assert.ok(files.includes(f), `missing ${f}`);
  const cjs = execFileSync(process.execPath, ['-e', "console.log(typeof require('@switchboard/sdk/headset').Headsets)"], { cwd: app, encoding: 'utf8' });
  assert.equal(cjs.trim(), 'function');
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { Headsets } from '@switchboard/sdk/headset'; console.log(typeof Headsets)"], { cwd: app, encoding: 'utf8' });
  assert.equal(esm.trim(), 'function');
  const bundle = async (contents: string) => (await build({ stdin: { contents, resolveDir: app }, bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', absWorkingDir: app, logLevel: 'silent' })).outputFiles[0]!.text;
  const headsetOnly = await bundle("import { Headsets } from '@switchboard/sdk/headset'; console.log(Headsets);");
  const phoneOnly = await bundle("import { Softphone } from '@switchboard/sdk'; console.log(Softphone);");
  console.log(`# measured: headset-only app ${headsetOnly.length} bytes minified; softphone app ${phoneOnly.length} bytes`);
  assert.ok(!headsetOnly.includes('SIP/2.0') && headsetOnly.length < 20 * 1024, 'the headset code alone does not pull in sip.js');
  assert.ok(!phoneOnly.includes('WebHID is not available'), 'the softphone alone does not carry the headset code');
});

test('installed: strict tsc passes with moduleResolution Bundler, NodeNext and Node10', () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const esmSrc = "import { Softphone, SwitchboardError, type CallState } from '@switchboard/sdk';\nconst s: CallState | undefined = undefined;\nexport const x: [typeof Softphone, typeof SwitchboardError, typeof s] = [Softphone, SwitchboardError, s];\n";
  const cases: Array<{ name: string; file: string; src: string; opts: string[]; type?: string }> = [
    { name: 'bundler', file: 'a.ts', src: esmSrc, opts: ['--module', 'ESNext', '--moduleResolution', 'Bundler'] },
    // The headset entry point takes the Softphone as it is (structural types: no second copy of the classes).
    { name: 'bundler-headset', file: 'e.ts', src: "import { Softphone } from '@switchboard/sdk';\nimport { Headsets } from '@switchboard/sdk/headset';\nexport const h = (p: Softphone) => new Headsets(p);\n", opts: ['--module', 'ESNext', '--moduleResolution', 'Bundler'] },
    { name: 'nodenext-headset', file: 'f.mts', src: "import { Softphone } from '@switchboard/sdk';\nimport { Headsets } from '@switchboard/sdk/headset';\nexport const h = (p: Softphone) => new Headsets(p);\n", opts: ['--module', 'NodeNext', '--moduleResolution', 'NodeNext'] },
    { name: 'nodenext-esm', file: 'b.mts', src: esmSrc, opts: ['--module', 'NodeNext', '--moduleResolution', 'NodeNext'] },
    { name: 'nodenext-cjs', file: 'c.cts', src: "import sb = require('@switchboard/sdk');\nexport const x = sb.Softphone;\n", opts: ['--module', 'NodeNext', '--moduleResolution', 'NodeNext'] },
    { name: 'node10', file: 'd.ts', src: esmSrc, opts: ['--module', 'CommonJS', '--moduleResolution', 'Node10'] },
  ];
  for (const c of cases) {
    writeFileSync(path.join(app, c.file), c.src);
    try {
      execFileSync(process.execPath, [tsc, '--strict', '--noEmit', '--lib', 'ES2022,DOM', '--target', 'ES2022', ...c.opts, c.file], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      assert.fail(`${c.name}: ${(err as { stdout?: string }).stdout}`);
    }
  }
});
