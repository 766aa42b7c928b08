#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
/**
 * The `gatehouse` command: thin, it checks the command line against the command table (src/cli/usage.ts) and only
 * then loads the one command it runs, with a dynamic import. `version`, `--help` and a wrong argument load nothing
 * of the library; `health` (a container HEALTHCHECK every few seconds) loads only the control-socket client.
 *   gatehouse start [FILE]            run (FILE or --config, else $GATEHOUSE_CONFIG, else the embedded demo)
 *   gatehouse check [FILE]            validate a config, print every problem, exit 0 or 1
 *   gatehouse certs [FILE]            list the ACME certificates: names, issuer, expiry, next renewal, last error
 *   gatehouse renew NAME [--config FILE]   make the running instance renew NAME's certificate now
 *   gatehouse reload [FILE]           make the running instance reload its config now
 *   gatehouse status [FILE | --admin URL]   show the running instance's state (JSON)
 *   gatehouse health [FILE]           exit 0 when the running instance answers and its entry points accept connections
 *   gatehouse explain URL | --sni NAME [--config FILE]   which router or TCP route a request or handshake gets, and why
 *   gatehouse import-traefik STATIC [DYNAMIC|DIR ...] [--out FILE] [--allow-dropped]   convert a Traefik config
 * Exit codes: 0 done, 1 failed, 2 wrong usage (explain: 0 matched, 1 nothing matched, 2 errors).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { reportError, UsageError } from './cli-error.js';
import { COMMANDS, USAGE, type CommandContext, type CommandSpec } from './usage.js';

/** Each command's runner, loaded only when that command runs; resolves with the exit code. */
const RUNNERS: Readonly<Record<string, (ctx: CommandContext) => Promise<number>>> = {
  start: async (ctx) => (await import('./commands/start.js')).runStart(ctx),
  check: async (ctx) => (await import('./commands/check.js')).runCheck(ctx),
  certs: async (ctx) => (await import('./commands/certs.js')).runCerts(ctx),
  renew: async (ctx) => (await import('./commands/control.js')).runRenew(ctx),
  reload: async (ctx) => (await import('./commands/control.js')).runReload(ctx),
  status: async (ctx) => (await import('./commands/control.js')).runStatus(ctx),
  health: async (ctx) => (await import('./commands/health.js')).runHealth(ctx),
  explain: async (ctx) => (await import('./explain.js')).runExplain(ctx.argv, ctx.env),
  'import-traefik': async (ctx) => (await import('./import-traefik.js')).runImportTraefik(ctx.argv),
  version: async () => {
    process.stdout.write(`${version()}\n`);
    return 0;
  },
  help: async (ctx) => {
    const topic = ctx.positionals[0];
    if (topic === undefined) process.stdout.write(USAGE);
    else process.stdout.write(specOf(topic).help);
    return 0;
  },
};

/** Exit code of a command that throws: `explain` documents 2 for errors (an invalid config), the others 1. */
const THROWN_EXIT: Readonly<Record<string, number>> = { explain: 2 };

/** The package's version, from package.json only. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function specOf(command: string): CommandSpec {
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (spec) return spec;
  throw new UsageError(undefined, `unknown command "${command}"`);
}

/** The command and its arguments: `gatehouse` alone and `gatehouse --config FILE` start, `-h`/`-v` are help/version. */
function splitCommand(argv: readonly string[]): [string, string[]] {
  const [first, ...rest] = argv;
  if (first === undefined) return ['start', []];
  if (first === '-h' || first === '--help') return ['help', rest];
  if (first === '-v' || first === '--version') return ['version', rest];
  if (first.startsWith('-')) return ['start', [...argv]];
  return [first, rest];
}

/** Checks the command line (exit 2 on anything wrong) and builds what the runner gets; `help` for --help. */
function parseCommandLine(command: string, argv: readonly string[], env: NodeJS.ProcessEnv): CommandContext | 'help' {
  const spec = specOf(command);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: spec.options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs' own sentence, without its advice on `--` (the help says what the options are).
    throw new UsageError(command, ((err as Error).message.split('. ')[0] ?? '').replace(/\.$/, '').replace(/^\w/, (c) => c.toLowerCase()));
  }
  const { values, positionals } = parsed;
  if (values['help'] === true) return 'help';
  const extra = (max: number, what: string) => {
    if (positionals.length > max) throw new UsageError(command, `${what}, got ${positionals.length}: ${positionals.join(' ')}`);
  };
  switch (spec.positionals) {
    case 'none':
      extra(0, 'takes no arguments');
      break;
    case 'command':
      extra(1, 'one command at a time');
      break;
    case 'name':
      if (positionals.length === 0) throw new UsageError(command, 'needs NAME, the main domain of the certificate');
      extra(1, 'one NAME at a time');
      break;
    case 'files':
      if (positionals.length === 0) throw new UsageError(command, 'needs the Traefik static config file');
      break;
    case 'config':
      extra(1, 'one config file at a time');
      if (positionals.length === 1 && values['config'] !== undefined) throw new UsageError(command, 'give the config file once: FILE or --config FILE');
      if (values['admin'] !== undefined && (positionals.length > 0 || values['config'] !== undefined)) {
        throw new UsageError(command, '--admin reads an instance over HTTP, a config file through its control socket: give one of them');
      }
      break;
    case 'url':
      break;
  }
  const named = spec.positionals === 'config' ? (positionals[0] ?? (values['config'] as string | undefined)) : (values['config'] as string | undefined);
  const file = named ?? env['GATEHOUSE_CONFIG'];
  return { argv, values, positionals, file: file === '' ? undefined : file, env };
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, args] = splitCommand(argv);
  let ctx: CommandContext | 'help';
  try {
    ctx = parseCommandLine(command, args, process.env);
  } catch (err) {
    return reportError(err);
  }
  if (ctx === 'help') {
    process.stdout.write(COMMANDS[command]!.help);
    return 0;
  }
  try {
    return await RUNNERS[command]!(ctx);
  } catch (err) {
    return reportError(err, THROWN_EXIT[command] ?? 1);
  }
}

/**
 * Ends a command that has finished: once stdout and stderr are flushed, exit with `code`, so nothing a command left
 * open (a control-socket client waiting minutes for an answer that will no longer be read) delays the exit.
 */
function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const argv = process.argv.slice(2);
main(argv).then(
  // `start` resolves once it serves and runs on; every other command is done.
  (code) => (splitCommand(argv)[0] === 'start' && code === 0 ? void (process.exitCode = 0) : exitWhenFlushed(code)),
  (err: unknown) => exitWhenFlushed(reportError(err)),
);
