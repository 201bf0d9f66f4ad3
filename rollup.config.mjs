// Builds the SDK (ESM + UMD, minified, with sip.js bundled in) and the demo app.
import commonjs from '@rollup/plugin-commonjs';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';

const plugins = (tsconfig, declarations = false) => [
  nodeResolve({ browser: true }),
  commonjs(),
  typescript({
    tsconfig,
    compilerOptions: declarations
      ? { composite: false, declaration: true, declarationDir: 'sdk/dist', outDir: 'sdk/dist', sourceMap: false }
      : { composite: false, declaration: false, outDir: undefined, sourceMap: false },
  }),
  terser({ format: { comments: false } }),
];

export default [
  {
    input: 'sdk/src/index.ts',
    output: [
      { file: 'sdk/dist/switchboard.esm.js', format: 'es' },
    ],
    plugins: plugins('sdk/tsconfig.json', true),
  },
  {
    input: 'sdk/src/index.ts',
    output: [{ file: 'sdk/dist/switchboard.umd.js', format: 'umd', name: 'Switchboard' }],
    plugins: plugins('sdk/tsconfig.json'),
  },
  {
    input: 'demo/src/main.ts',
    output: [{ file: 'demo/dist/app.js', format: 'es' }],
    plugins: plugins('demo/tsconfig.json'),
  },
];
