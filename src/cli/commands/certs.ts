/** `gatehouse certs [FILE]`: the ACME certificates of a config's state directory as a table (src/cli/certs.ts). */
import { loadConfigFile } from '../../config/index.js';
import { CliError } from '../cli-error.js';
import { certificateRows, formatCertificateRows } from '../certs.js';
import type { CommandContext } from '../usage.js';

/** Prints the table. */
export async function runCerts(ctx: CommandContext): Promise<number> {
  const { file } = ctx;
  if (file === undefined) throw new CliError('certs needs a config file; give it as gatehouse certs FILE (or --config FILE, or GATEHOUSE_CONFIG)', 2);
  process.stdout.write(formatCertificateRows(await certificateRows(loadConfigFile(file, ctx.env), file, ctx.env)));
  return 0;
}
