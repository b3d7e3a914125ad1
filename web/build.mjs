// Builds the client into one folder (default dist/, or the first argument): app.js and
// app.css bundled and minified by esbuild, and index.html. crates/pvs-web embeds that folder.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const out = process.argv[2] || 'dist';
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: out,
  loader: { '.json': 'json' },
  legalComments: 'linked',
  logLevel: 'warning',
});
await copyFile('src/index.html', join(out, 'index.html'));
