// build.mjs: bundles src/ into dist/ with esbuild (content-hashed file names under dist/assets/,
// dist/index.html referencing them). `node build.mjs --check` builds into a temporary directory
// and fails when the committed dist/ differs from what the sources produce.
import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'sy-ui-')) : join(here, 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const res = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ['src/main.tsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  entryNames: 'assets/[name]-[hash]',
  assetNames: 'assets/[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outs = Object.keys(res.metafile.outputs).map((p) => relative(out, join(here, p)));
const js = outs.find((p) => p.endsWith('.js'));
const css = outs.find((p) => p.endsWith('.css'));
if (!js || !css) throw new Error('build: expected one .js and one .css output, got ' + outs.join(', '));

// Bundle budget (docs/ui.md "Bundle size"): the build fails above it, so a
// heavy dependency cannot slip in unnoticed. Raise it deliberately, in the
// same commit as the reason, never to make a build pass.
const BUDGET = { js: 250_000, jsGzip: 75_000, css: 30_000, cssGzip: 8_000 };
const sizes = {};
for (const [kind, f] of [['js', js], ['css', css]]) {
  const b = readFileSync(join(out, f));
  sizes[kind] = b.length;
  sizes[kind + 'Gzip'] = gzipSync(b, { level: 9 }).length;
}
const over = Object.keys(BUDGET).filter((k) => sizes[k] > BUDGET[k]);
if (over.length) {
  console.error('ui: bundle over budget: ' + over.map((k) => `${k} ${sizes[k]} B > ${BUDGET[k]} B`).join(', ') +
    ' (build.mjs BUDGET; docs/ui.md "Bundle size")');
  process.exit(1);
}

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/${css}">
<script type="module" src="/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>Switchyard's UI needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(out, 'index.html'), html);

if (check) {
  const list = (d) => {
    const files = [];
    const walk = (p) => {
      for (const n of readdirSync(p)) {
        const f = join(p, n);
        if (statSync(f).isDirectory()) walk(f);
        else files.push(relative(d, f));
      }
    };
    walk(d);
    return files.sort();
  };
  const committed = join(here, 'dist');
  const a = list(committed), b = list(out);
  const diffs = [];
  if (a.join('\n') !== b.join('\n')) diffs.push(`files differ: committed [${a}] vs built [${b}]`);
  else for (const f of a) if (!readFileSync(join(committed, f)).equals(readFileSync(join(out, f)))) diffs.push(`${f} differs`);
  rmSync(out, { recursive: true, force: true });
  if (diffs.length) {
    console.error('ui: dist/ is stale; run control/ui/build.sh and commit dist/:\n  ' + diffs.join('\n  '));
    process.exit(1);
  }
  console.log('ui: dist/ matches the sources');
} else {
  console.log('ui: built ' + [js, css, 'index.html'].join(', ') + ` (script ${sizes.js} B, ${sizes.jsGzip} B gzipped; ` +
    `stylesheet ${sizes.css} B, ${sizes.cssGzip} B gzipped)`);
}
