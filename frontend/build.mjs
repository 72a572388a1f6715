// Builds the browser code into the Python package: the tracker (src/tracker.js, served by the
// collector as GET /js/script.js) and the dashboard's script and stylesheet (src/dashboard.js and
// src/dashboard.css with uPlot, served under /dashboard/static/). Fails when either outgrows its
// gzipped size budget.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, '..', 'src', 'footfall', 'collect', 'static', 'script.js');
// Every visitor of every tracked site downloads this file: keep it under 1,000 bytes gzipped.
const GZIP_BUDGET_BYTES = 1000;

const result = await build({
  entryPoints: [join(here, 'src', 'tracker.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2017',
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});

const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
if (gzipped > GZIP_BUDGET_BYTES) {
  console.error(`tracker: ${gzipped} bytes gzipped, over the ${GZIP_BUDGET_BYTES}-byte budget`);
  process.exit(1);
}
mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(outfile, code);
console.log(`tracker: ${code.length} bytes, ${gzipped} bytes gzipped (level 9)`);

// The dashboard: script and stylesheet, with uPlot bundled in.
const dashboardDir = join(here, '..', 'src', 'footfall', 'dashboard', 'static');
// HTML + JS + CSS of the dashboard must stay under 150 KB gzipped; the bundle gets most of it.
const DASHBOARD_BUDGET_BYTES = 120 * 1024;
const dashboard = await build({
  entryPoints: [join(here, 'src', 'dashboard.js'), join(here, 'src', 'dashboard.css')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'none',
  outdir: dashboardDir,
  write: false,
  logLevel: 'warning',
});
mkdirSync(dashboardDir, { recursive: true });
let dashboardGzipped = 0;
for (const file of dashboard.outputFiles) {
  dashboardGzipped += gzipSync(file.contents, { level: 9 }).length;
  writeFileSync(file.path, file.contents);
}
if (dashboardGzipped > DASHBOARD_BUDGET_BYTES) {
  console.error(`dashboard: ${dashboardGzipped} bytes gzipped, over ${DASHBOARD_BUDGET_BYTES}`);
  process.exit(1);
}
console.log(`dashboard: ${dashboardGzipped} bytes gzipped (script and stylesheet)`);
