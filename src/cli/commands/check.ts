/**
 * `gatehouse check [FILE] [--strict]`: every problem of a config file, one per line, exit 1; or `FILE: config ok`,
 * exit 0, after the warnings (routers that never serve, src/check-warnings.ts), which exit 1 only with --strict.
 */
import { checkConfig } from '../../check.js';
import { configWarnings } from '../../check-warnings.js';
import { loadConfigFile } from '../../config/index.js';
import { GatehouseErrors } from '../../errors.js';
import { CliError } from '../cli-error.js';
import type { CommandContext } from '../usage.js';

/** Checks the config file; throws GatehouseErrors (printed one per line by main) when it has problems. */
export async function runCheck(ctx: CommandContext): Promise<number> {
  const { file } = ctx;
  if (file === undefined) throw new CliError('check needs a config file; give it as gatehouse check FILE (or --config FILE, or GATEHOUSE_CONFIG)', 2);
  const problems = checkConfig(file, ctx.env);
  if (problems.length > 0) throw new GatehouseErrors(problems);
  const warnings = configWarnings(loadConfigFile(file, ctx.env));
  for (const w of warnings) process.stderr.write(`gatehouse: warning: ${file} at ${w.path}: ${w.message}\n`);
  if (warnings.length > 0 && ctx.values['strict'] === true) {
    process.stderr.write(`gatehouse: ${warnings.length} warning${warnings.length > 1 ? 's' : ''}, and --strict: the check fails\n`);
    return 1;
  }
  process.stdout.write(`${file}: config ok${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''})` : ''}\n`);
  return 0;
}
