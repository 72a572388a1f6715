// Builds the tracker: minifies src/tracker.js into the Python package, where the collector
// serves it as GET /js/script.js, and fails when it outgrows its gzipped size budget.
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
