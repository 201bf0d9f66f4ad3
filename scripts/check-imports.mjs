#!/usr/bin/env node
// Fails on import cycles (runtime imports; `import type` is erased and ignored) and on gateway
// imports that point up the layer order (STYLE.md: layers only import downward).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// Lower index = lower layer. A file may import its own layer or lower ones.
// Each layer lists path prefixes relative to gateway/src; the longest matching prefix wins.
const GATEWAY_LAYERS = [
  ['util/'],
  ['sip/message.ts', 'sip/parser.ts', 'sip/uri.ts', 'sip/headers.ts'],
  ['sip/transport/'],
  ['sip/transaction/'],
  ['sip/'],
  ['media/'],
  ['trunks/'],
  ['calls/'],
  ['center/'],
  ['api/', 'config.ts'],
  [''],
];

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function imports(file) {
  const src = readFileSync(file, 'utf8');
  const out = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
    if (m[2]) continue;
    out.push(path.resolve(path.dirname(file), m[3].replace(/\.js$/, '.ts')));
  }
  return out;
}

function layerOf(rel) {
  let best = GATEWAY_LAYERS.length - 1;
  let bestLen = -1;
  GATEWAY_LAYERS.forEach((prefixes, i) => {
    for (const l of prefixes) {
      if (rel.startsWith(l) && l.length > bestLen) {
        best = i;
        bestLen = l.length;
      }
    }
  });
  return best;
}

let problems = 0;
for (const pkg of ['sdk/src', 'gateway/src']) {
  const dir = path.join(root, pkg);
  const graph = new Map(files(dir).map((f) => [f, imports(f)]));
  const state = new Map();
  const stack = [];
  const visit = (f) => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) {
        problems++;
        console.error(`cycle: ${[...stack.slice(stack.indexOf(d)), d].map((x) => path.relative(root, x)).join(' -> ')}`);
      } else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  if (pkg === 'gateway/src') {
    for (const [f, deps] of graph) {
      const rel = path.relative(dir, f);
      if (rel.startsWith('testing/')) continue;
      for (const d of deps) {
        const drel = path.relative(dir, d);
        if (layerOf(drel) > layerOf(rel)) {
          problems++;
          console.error(`upward import: ${path.relative(root, f)} -> ${path.relative(root, d)}`);
        }
      }
    }
  }
}
if (problems) process.exit(1);
console.log('imports: no cycles, no upward imports');
