// Bundles the console (console/src) into dist/console/public: one script and one stylesheet named by
// their content hash, the page that loads them, and a gzip copy of each for the server to send.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, '..', 'dist', 'console', 'public');

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: { console: join(here, 'src', 'main.tsx') },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  entryNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((name) => name.endsWith('.js'));
const stylesheet = outputs.find((name) => name.endsWith('.css'));
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Beamline console</title>
<link rel="stylesheet" href="/console/${stylesheet}">
<script type="module" src="/console/${script}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
await writeFile(join(outdir, 'index.html'), page);
const sizes = [];
for (const name of [...outputs, 'index.html']) {
  const body = await readFile(join(outdir, name));
  const gzipped = gzipSync(body, { level: 9 });
  await writeFile(join(outdir, `${name}.gz`), gzipped);
  sizes.push({ name, bytes: body.length, gzip: gzipped.length });
}
await writeFile(join(outdir, 'sizes.json'), `${JSON.stringify(sizes, null, 2)}\n`);
if (process.argv.includes('--report')) console.table(sizes);
