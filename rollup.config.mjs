// Builds the SDK and the demo app.
//
// The SDK (sdk/dist), sip.js bundled in every build (it is not a dependency):
// - esm/ — ES modules, one file per source module (sip.js under esm/vendor/), so a bundler drops
//   what an app does not import (`sideEffects: false`): importing only the errors costs ~1 KB;
// - index.cjs — CommonJS for require();
// - switchboard.browser.js — one minified ES module for <script type="module"> and CDNs;
// - switchboard.global.js — one minified IIFE defining the global `Switchboard` for <script>;
// - index.d.ts / index.d.cts — the types, bundled into one file each (import and require).
// Every output has a source map.
import commonjs from '@rollup/plugin-commonjs';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

const ts = (tsconfig) =>
  typescript({ tsconfig, compilerOptions: { composite: false, declaration: false, declarationMap: false, outDir: undefined, sourceMap: true, inlineSources: true } });
const plugins = (tsconfig, minify) => [nodeResolve({ browser: true }), commonjs(), ts(tsconfig), ...(minify ? [terser({ format: { comments: false } })] : [])];
const SDK = 'sdk/src/index.ts';
// The headsets (WebHID) are a second entry point, `@switchboard/sdk/headset`: apps that do not
// import it do not bundle it.
const HEADSET = 'sdk/src/headset/index.ts';
// Everything is bundled: an import that does not resolve is a build error, not an external.
const onwarn = (warning, warn) => {
  if (warning.code === 'UNRESOLVED_IMPORT') throw new Error(`unresolved import: ${warning.message}`);
  warn(warning);
};

export default [
  {
    input: [SDK, HEADSET],
    output: {
      dir: 'sdk/dist/esm',
      format: 'es',
      preserveModules: true,
      preserveModulesRoot: 'sdk/src',
      sourcemap: true,
      // npm never packs a folder named node_modules: sip.js's modules go to vendor/.
      // (and the shared protocol package, a workspace sibling, goes there too).
      entryFileNames: (chunk) => `${chunk.name.replace(/^.*node_modules\//, 'vendor/').replace(/^(\.\.\/)*protocol\/dist\//, 'vendor/protocol/')}.js`,
    },
    plugins: plugins('sdk/tsconfig.json', false),
    onwarn,
  },
  {
    input: SDK,
    output: { file: 'sdk/dist/index.cjs', format: 'cjs', sourcemap: true, exports: 'named' },
    plugins: plugins('sdk/tsconfig.json', false),
    onwarn,
  },
  {
    input: HEADSET,
    output: { file: 'sdk/dist/headset.cjs', format: 'cjs', sourcemap: true, exports: 'named' },
    plugins: plugins('sdk/tsconfig.json', false),
    onwarn,
  },
  {
    input: SDK,
    output: [
      { file: 'sdk/dist/switchboard.browser.js', format: 'es', sourcemap: true },
      { file: 'sdk/dist/switchboard.global.js', format: 'iife', name: 'Switchboard', sourcemap: true },
    ],
    plugins: plugins('sdk/tsconfig.json', true),
    onwarn,
  },
  {
    input: SDK,
    output: [{ file: 'sdk/dist/index.d.ts', format: 'es' }, { file: 'sdk/dist/index.d.cts', format: 'es' }],
    // Types from @switchboard/protocol are inlined: it is not a dependency of the package.
    plugins: [dts({ tsconfig: 'sdk/tsconfig.json', respectExternal: true })],
  },
  {
    input: HEADSET,
    output: [{ file: 'sdk/dist/headset.d.ts', format: 'es' }, { file: 'sdk/dist/headset.d.cts', format: 'es' }],
    plugins: [dts({ tsconfig: 'sdk/tsconfig.json', respectExternal: true })],
  },
  {
    input: 'demo/src/main.ts',
    output: [{ file: 'demo/dist/app.js', format: 'es', sourcemap: true }],
    plugins: plugins('demo/tsconfig.json', true),
    onwarn,
  },
];
