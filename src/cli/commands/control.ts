/**
 * The commands that ask the running instance of a config file through its control socket (src/control.ts), by way
 * of `controlFor` (src/cli/state-dir.ts: the file's state directory, and a refusal when another file's instance
 * answers): `renew NAME`, `reload`, `status` (or `status --admin URL`, over HTTP).
 */
import { CliError } from '../cli-error.js';
import { controlFor } from '../state-dir.js';
import type { CommandContext } from '../usage.js';

/** The config file of a command that needs one, or a usage error saying how to give it. */
export function requireFile(ctx: CommandContext, command: string): string {
  if (ctx.file !== undefined) return ctx.file;
  throw new CliError(`${command} needs the config file of the running instance; give it as gatehouse ${command} FILE (or --config FILE, or GATEHOUSE_CONFIG)`, 2);
}

/** `renew NAME`: resolves 0 once the instance has a new certificate for NAME; a failed renewal is a CliError. */
export async function runRenew(ctx: CommandContext): Promise<number> {
  const name = ctx.positionals[0]!;
  if (ctx.file === undefined) throw new CliError('renew needs the config file of the running instance; give it as gatehouse renew NAME --config FILE (or GATEHOUSE_CONFIG)', 2);
  const answer = await controlFor(ctx.file, { command: 'renew', name }, ctx.env);
  if (!answer.ok) throw new CliError(`renewal of ${name} failed: ${answer.error ?? 'unknown error'}; gatehouse certs ${ctx.file} shows its last error, the instance's log the details`);
  process.stdout.write(`${name}: renewed\n`);
  return 0;
}

/** Exit code of `gatehouse reload` when the config was applied but disables part of itself (docs: README, usage). */
export const RELOAD_APPLIED_WITH_PROBLEMS = 3;

/**
 * `reload`: the instance re-reads its file. Exits 0 when all of it serves; 1 with the reasons when it is refused;
 * 3 when it was applied with problems (routers or certificates it disables, a listener that could not be applied),
 * printing them one per line on stderr as `gatehouse check` does.
 */
export async function runReload(ctx: CommandContext): Promise<number> {
  const file = requireFile(ctx, 'reload');
  const answer = await controlFor(file, { command: 'reload' }, ctx.env);
  if (!answer.ok) throw new CliError(`reload refused, the running config stays; fix the file (gatehouse check ${file}) and reload again:\n${answer.error ?? 'unknown error'}`);
  const result = answer.data as { ms?: number; outcome?: string; summary?: string; problems?: string[]; errors?: string[] } | undefined;
  const took = result?.ms !== undefined ? ` in ${result.ms} ms` : '';
  if (result?.outcome === 'problems') {
    process.stdout.write(`${file}: reloaded${took}, ${result.summary ?? 'with problems'}; what they disable does not serve (gatehouse check ${file} lists the same):\n`);
    process.stderr.write([...(result.errors ?? []), ...(result.problems ?? [])].map((line) => `gatehouse: ${line}\n`).join(''));
    return RELOAD_APPLIED_WITH_PROBLEMS;
  }
  process.stdout.write(`${file}: reloaded${took}\n`);
  return 0;
}

/** `status`: the instance's state as JSON, from its control socket or, with --admin URL, its admin entry point. */
export async function runStatus(ctx: CommandContext): Promise<number> {
  const admin = ctx.values['admin'];
  if (typeof admin === 'string') {
    const { fetchAdminStatus } = await import('../../admin/client.js');
    let status: unknown;
    try {
      status = await fetchAdminStatus(admin);
    } catch (err) {
      const message = (err as Error).message;
      // fetchAdminStatus's messages say what to do, but for an address where nothing answers.
      throw new CliError(message.startsWith('cannot reach') ? `${message}; check that the instance runs with an admin section listening there` : message);
    }
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const answer = await controlFor(requireFile(ctx, 'status'), { command: 'status' }, ctx.env);
  process.stdout.write(`${JSON.stringify(answer.data, null, 2)}\n`);
  return 0;
}
