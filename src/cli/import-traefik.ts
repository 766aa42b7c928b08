/**
 * `gatehouse import-traefik STATIC [DYNAMIC|DIR ...] [--out FILE] [--allow-dropped]`: converts a Traefik
 * file-provider config and writes the gatehouse config (to --out or stdout). Every piece that did not carry over is
 * one stderr line, `traefik.path: reason`; exit 2 when there is any (0 with --allow-dropped), 1 when the input
 * cannot be read, 2 for a wrong command line. The config is written in every case but the last two, so the operator
 * can look at it.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { convertTraefik, readTraefikConfig, type TraefikImport } from '../import/index.js';
import { IMPORT_TRAEFIK_OPTIONS, IMPORT_TRAEFIK_USAGE } from './usage.js';

/** Runs the command on its own arguments (after `import-traefik`) and returns the exit code. */
export function runImportTraefik(argv: readonly string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: IMPORT_TRAEFIK_OPTIONS,
    });
  } catch (err) {
    process.stderr.write(`gatehouse: import-traefik: ${(err as Error).message.split('. ')[0]}; see gatehouse import-traefik --help\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(IMPORT_TRAEFIK_USAGE);
    return 0;
  }
  const [staticFile, ...dynamic] = parsed.positionals;
  if (!staticFile) {
    process.stderr.write('gatehouse: import-traefik: needs the Traefik static config file; see gatehouse import-traefik --help\n');
    return 2;
  }
  let result: TraefikImport;
  try {
    const { staticValue, sources } = readTraefikConfig(staticFile, dynamic);
    result = convertTraefik(staticValue, sources);
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    return 1;
  }
  const json = `${JSON.stringify(result.config, null, 2)}\n`;
  const out = parsed.values.out;
  try {
    if (out) writeFileSync(out, json);
    else process.stdout.write(json);
  } catch (err) {
    process.stderr.write(`gatehouse: cannot write ${out}: ${(err as Error).message}\n`);
    return 1;
  }
  for (const n of result.notes) process.stderr.write(`note: ${n.path}: ${n.reason}\n`);
  for (const d of result.dropped) process.stderr.write(`${d.path}: ${d.reason}\n`);
  if (result.dropped.length === 0) return 0;
  const allowed = parsed.values['allow-dropped'] === true;
  process.stderr.write(
    `gatehouse: ${result.dropped.length} item(s) of the Traefik config did not carry over (listed above)${allowed ? '' : '; pass --allow-dropped to accept'}\n`,
  );
  return allowed ? 0 : 2;
}
