// prepack: puts the built demo softphone into the package (gateway/demo-app), so that
// `npm i -g @switchboard/gateway && switchboard-gateway` serves it like a checkout does.
// Needs `npm run build` at the repository root first (the demo bundle, demo/dist/app.js).
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.resolve(pkg, '..', 'demo');
const out = path.join(pkg, 'demo-app');
if (!existsSync(path.join(demo, 'dist', 'app.js'))) {
  console.error('copy-demo: demo/dist/app.js is missing; run `npm run build` at the repository root first');
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
cpSync(path.join(demo, 'public'), out, { recursive: true });
cpSync(path.join(demo, 'dist'), out, { recursive: true });
console.log(`copy-demo: ${path.relative(process.cwd(), out) || out} holds the demo app`);
