/**
 * Bundles the recorder program into one ESM file for the container image (the Dockerfile runs this).
 * playwright-core stays external: it resolves its own files at run time.
 *   node scripts/build-recorder.ts <outdir>
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const outdir = process.argv[2] ?? 'dist/recorder';
const root = fileURLToPath(new URL('..', import.meta.url));
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'recorder-image/src/main.ts' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  outdir,
  outExtension: { '.js': '.mjs' },
  external: ['playwright-core'],
  minify: true,
  sourcemap: true,
  metafile: true,
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`recorder bundle: ${outdir}/main.mjs (${(bytes / 1024).toFixed(0)} KiB with source map)`);
