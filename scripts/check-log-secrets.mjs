#!/usr/bin/env node
// Fails when a password appears in the logs of a test run (issue 15: "no password is ever
// logged"). The passwords are every one the test suite uses: the demo accounts' (from the built
// gateway's demoConfig) and every literal the tests pass as `password: '…'`, `-ap …` or
// `auth_pass=…`. Usage: node scripts/check-log-secrets.mjs LOG [LOG…]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { demoConfig } = await import(path.join(root, 'gateway', 'dist', 'index.js'));

const secrets = new Set(demoConfig().users.map((u) => u.password));
const walk = (dir) => readdirSync(dir).flatMap((f) => {
  const p = path.join(dir, f);
  if (f === 'node_modules' || f === '.work') return [];
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});
for (const file of walk(path.join(root, 'test'))) {
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/password:\s*'([^'\\]{6,})'/g)) secrets.add(m[1]);
  for (const m of src.matchAll(/'-ap',\s*'([^']{6,})'/g)) secrets.add(m[1]);
}
// Not secrets: placeholders and the wrong passwords tests type on purpose are fine to see.
for (const s of ['wrong-password', 'unused']) secrets.delete(s);

let found = 0;
const logs = process.argv.slice(2).filter((f) => existsSync(f));
for (const log of logs) {
  const lines = readFileSync(log, 'utf8').split('\n');
  lines.forEach((line, i) => {
    for (const s of secrets) {
      if (line.includes(s)) {
        found++;
        if (found <= 20) console.error(`${path.relative(root, log)}:${i + 1}: a password appears in the log: ${line.slice(0, 200)}`);
      }
    }
  });
}
if (found) {
  console.error(`${found} log lines carry a password`);
  process.exit(1);
}
console.log(`logs: no password in ${logs.length} log file(s) (${secrets.size} passwords checked)`);
