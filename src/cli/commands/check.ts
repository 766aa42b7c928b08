/** `gatehouse check [FILE]`: every problem of a config file, one per line, exit 1; or `FILE: config ok`, exit 0. */
import { checkConfig } from '../../check.js';
import { GatehouseErrors } from '../../errors.js';
import { CliError } from '../cli-error.js';
import type { CommandContext } from '../usage.js';

/** Checks the config file; throws GatehouseErrors (printed one per line by main) when it has problems. */
export async function runCheck(ctx: CommandContext): Promise<number> {
  const { file } = ctx;
  if (file === undefined) throw new CliError('check needs a config file; give it as gatehouse check FILE (or --config FILE, or GATEHOUSE_CONFIG)', 2);
  const problems = checkConfig(file, ctx.env);
  if (problems.length > 0) throw new GatehouseErrors(problems);
  process.stdout.write(`${file}: config ok\n`);
  return 0;
}
