// The `gatehouse` command as one bundle of gatehouse's own modules (run by `npm run build`, after tsc).
// Why: Node loads ESM module by module, and the ~170 small files of a start cost about 120 ms of CPU before the first
// connection is accepted (420 → 300 ms CPU to a listening plain HTTP config on this machine, bench/startup.mjs). The
// bundle keeps the lazy loading (each command, and each optional part such as ACME or the admin, is its own chunk,
// loaded by the same dynamic import() as before) and leaves every npm package external, loaded from node_modules as
// before. It is written over dist/cli/main.js, with its chunks beside it: at the same depth as every dist/<dir>/
// file, so paths made from import.meta.url (../../schema/…) resolve as they did. The library (dist/api.js) is not
// bundled.
import { build } from 'esbuild';
import { mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli');
const out = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-'));
try {
  await build({
    entryPoints: [join(cli, 'main.js')],
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    entryNames: '[name]',
    chunkNames: 'bundle-[name]-[hash]',
    logLevel: 'warning',
  });
  // Chunks of an earlier build would pile up: they all start with "bundle-".
  for (const f of readdirSync(cli)) if (f.startsWith('bundle-')) unlinkSync(join(cli, f));
  for (const f of readdirSync(out)) renameSync(join(out, f), join(cli, f));
  // tsc's map describes the file the bundle replaced.
  rmSync(join(cli, 'main.js.map'), { force: true });
} finally {
  rmSync(out, { recursive: true, force: true });
}
