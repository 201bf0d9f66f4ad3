/**
 * The built SDK as a user's bundler sees it: both bundles load, export the public API, carry
 * types, and stay within the size budget (DESIGN.md: ≤ 70 KB min+gzip including sip.js).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

const DIST = path.resolve(import.meta.dirname, '..', 'sdk', 'dist');
const PUBLIC = ['Softphone', 'Call', 'CallState', 'ConnectionState', 'RegistrationState', 'SwitchboardError', 'ERROR_CATALOG', 'login'];

test('ESM bundle exports the public API', async () => {
  const mod = await import(path.join(DIST, 'switchboard.esm.js'));
  for (const name of PUBLIC) assert.ok(name in mod, `missing export ${name}`);
  assert.equal(new mod.SwitchboardError('SB_BUSY').code, 'SB_BUSY');
});

test('UMD bundle loads with require()', () => {
  const require = createRequire(import.meta.url);
  const sb = require(path.join(DIST, 'switchboard.umd.js'));
  for (const name of PUBLIC) assert.ok(name in sb, `missing export ${name}`);
});

test('type declarations are shipped', () => {
  const dts = readFileSync(path.join(DIST, 'index.d.ts'), 'utf8');
  for (const name of PUBLIC) assert.match(dts, new RegExp(`\\b${name}\\b`));
});

test('bundle size within budget (min+gzip, sip.js included)', () => {
  const size = gzipSync(readFileSync(path.join(DIST, 'switchboard.esm.js')), { level: 9 }).length;
  console.log(`# measured: SDK ESM bundle ${size} bytes min+gzip`);
  assert.ok(size <= 70 * 1024, `bundle is ${size} bytes, budget 71680`);
});
