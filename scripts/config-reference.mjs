#!/usr/bin/env node
// Writes docs/configuration.md — the configuration reference — from the one source of truth:
// the zod schema in gateway/src/config.ts. Types, defaults, ranges and choices come from the
// schema itself (z.toJSONSchema of the built ConfigSchema); each key's description is the TSDoc
// comment above it in config.ts (read with the TypeScript compiler API).
//   node scripts/config-reference.mjs          write docs/configuration.md
//   node scripts/config-reference.mjs --check  exit 1 if it is out of date (the test suite runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { ConfigSchema } = await import(path.join(root, 'gateway', 'dist', 'index.js'));
const { z } = await import('zod');

// --- descriptions from the TSDoc comments in config.ts ------------------------------------------
const file = path.join(root, 'gateway', 'src', 'config.ts');
const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);

/** Schema constants (`const UserSchema = z.strictObject({...})`) → { relative path → doc }. */
const constDocs = new Map();
/** Where constants are used, per schema constant (ConfigSchema included): { id, prefix } relative to it. */
const usesIn = new Map();
const topDocs = new Map();

function docOf(node) {
  const jsdoc = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const text = jsdoc.map((d) => (typeof d.comment === 'string' ? d.comment : ts.getTextOfJSDocComment(d.comment) ?? '')).join(' ');
  return text.replace(/\s+/g, ' ').replace(/\{@link ([^}]+)\}/g, '`$1`').trim();
}

/** Walks an expression for object literals of properties; `prefix` is the path so far. */
function visit(node, prefix, into, constName) {
  if (ts.isPropertyAssignment(node) && ts.isObjectLiteralExpression(node.parent)) {
    const name = node.name.getText(sf).replace(/^'|'$/g, '');
    const p = [...prefix, name];
    const doc = docOf(node);
    if (doc) into.set(p.join('.'), doc);
    // An array of something: its elements' keys are name[].
    const isArray = /^z\s*\.array\(/.test(node.initializer.getText(sf));
    const childPrefix = isArray ? [...prefix, `${name}[]`] : p;
    // A schema constant used right here (not further down: those are found on the way down).
    const direct = node.initializer.getText(sf).replace(/\{[\s\S]*\}/g, '');
    for (const id of direct.match(/\b[A-Z][A-Za-z]+Schema\b/g) ?? []) {
      const list = usesIn.get(constName) ?? [];
      list.push({ id, prefix: childPrefix.join('.') });
      usesIn.set(constName, list);
    }
    ts.forEachChild(node.initializer, (c) => visit(c, childPrefix, into, constName));
    return;
  }
  ts.forEachChild(node, (c) => visit(c, prefix, into, constName));
}

for (const st of sf.statements) {
  if (!ts.isVariableStatement(st)) continue;
  for (const d of st.declarationList.declarations) {
    const name = d.name.getText(sf);
    if (!d.initializer || !/Schema$/.test(name)) continue;
    const m = name === 'ConfigSchema' ? topDocs : new Map();
    visit(d.initializer, [], m, name);
    constDocs.set(name, m);
  }
}
const docs = new Map();
function expand(name, prefix) {
  for (const [rel, doc] of constDocs.get(name) ?? []) docs.set(prefix ? `${prefix}.${rel}` : rel, doc);
  for (const u of usesIn.get(name) ?? []) expand(u.id, prefix ? `${prefix}.${u.prefix}` : u.prefix);
}
expand('ConfigSchema', '');

// --- types and defaults from the schema -------------------------------------------------------------
const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' });
const rows = [];

function typeOf(s) {
  if (!s) return 'any';
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.type === 'array') {
    if (s.prefixItems) return `[${s.prefixItems.map(typeOf).join(', ')}]`;
    const item = typeOf(s.items);
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  if (s.type === 'object' && !s.properties && s.additionalProperties) return `map of ${typeOf(s.additionalProperties)}`;
  if (s.type === 'integer' || s.type === 'number') {
    const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
    const hi = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
    const kind = s.type === 'integer' ? 'integer' : 'number';
    if (lo !== undefined && hi !== undefined) return `${kind} ${lo}–${hi}`;
    if (lo !== undefined) return `${kind} ≥ ${String(lo).replace(/^>/, '')}${String(lo).startsWith('>') ? ' (exclusive)' : ''}`;
    if (hi !== undefined) return `${kind} ≤ ${hi}`;
    return kind;
  }
  return s.type ?? 'any';
}

function fmtDefault(s) {
  if (!s || s.default === undefined) return '';
  const v = s.default;
  if (typeof v === 'object' && v && !Array.isArray(v) && !Object.keys(v).length) return '';
  const text = JSON.stringify(v);
  return `\`${text.length > 60 ? text.slice(0, 57) + '…' : text}\``;
}

function emit(s, p, required) {
  const isObject = s && s.type === 'object' && s.properties;
  const isArrayOfObjects = s && s.type === 'array' && s.items && s.items.type === 'object' && s.items.properties;
  const doc = docs.get(p) ?? '';
  if (p) rows.push({ key: p, type: isObject ? 'object' : isArrayOfObjects ? 'list of objects' : typeOf(s), def: fmtDefault(s), doc, required });
  if (isObject) for (const [k, v] of Object.entries(s.properties)) emit(v, p ? `${p}.${k}` : k, (s.required ?? []).includes(k) && v.default === undefined);
  if (isArrayOfObjects) for (const [k, v] of Object.entries(s.items.properties)) emit(v, `${p}[].${k}`, (s.items.required ?? []).includes(k) && v.default === undefined);
}
emit(schema, '', false);

const esc = (t) => t.replace(/\|/g, '\\|');
const lines = [
  '# Configuration reference',
  '',
  '<!-- Generated by `node scripts/config-reference.mjs` from the zod schema in gateway/src/config.ts; do not edit by hand. -->',
  '',
  'The gateway reads built-in defaults, then a JSON file (`--config FILE` or `SWITCHBOARD_CONFIG`), then environment',
  'variables (README). Every key is checked: an unknown key (`sip.udpport: unknown key (did you mean udpPort?)`) or a',
  'wrong type stops the gateway with the key\'s path. Without any configuration, `npm start` runs the public demo',
  '(demo users and queues; never expose it). Passwords may be scrypt hashes from `switchboard-gateway hash-password`.',
  '',
  '| Key | Type | Default | Description |',
  '|---|---|---|---|',
  ...rows.map((r) => `| \`${r.key}\`${r.required ? ' *(required)*' : ''} | ${esc(r.type)} | ${r.def} | ${esc(r.doc)} |`),
  '',
];
const out = lines.join('\n');
const target = path.join(root, 'docs', 'configuration.md');
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing
  }
  if (current !== out) {
    console.error('docs/configuration.md is out of date: run `npm run docs:config`');
    process.exit(1);
  }
  console.log(`docs/configuration.md is current (${rows.length} keys)`);
} else {
  writeFileSync(target, out);
  const missing = rows.filter((r) => !r.doc).map((r) => r.key);
  console.log(`wrote docs/configuration.md (${rows.length} keys${missing.length ? `; without a description: ${missing.join(', ')}` : ''})`);
}
