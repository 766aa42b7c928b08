#!/usr/bin/env node
/**
 * The `gatehouse` command: thin, it parses argv and calls the library API.
 *   gatehouse start [--config FILE]   run (embedded demo config when no file is given)
 *   gatehouse check [--config FILE]   validate a config, print every problem, exit 0 or 1
 *   gatehouse certs [--config FILE]   list the ACME certificates: names, issuer, expiry, next renewal, last error
 *   gatehouse renew NAME [--config FILE]   make the running instance renew NAME's certificate now
 *   gatehouse reload [--config FILE]       make the running instance reload its config now
 *   gatehouse status [--config FILE | --admin URL]   show the running instance's state (JSON)
 *   gatehouse explain URL | --sni NAME [--config FILE]   which router or TCP route a request or handshake gets, and why
 *   gatehouse import-traefik STATIC [DYNAMIC|DIR ...] [--out FILE] [--allow-dropped]   convert a Traefik config
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkConfig, createGatehouse, type Gatehouse } from '../api.js';
import { loadConfigFile } from '../config/index.js';
import { GatehouseError, GatehouseErrors } from '../errors.js';
import { sendControl } from '../control.js';
import { fetchAdminStatus } from '../admin/client.js';
import { resolveStateDir } from '../config/paths.js';
import { certificateRows, formatCertificateRows } from './certs.js';
import { stateDirOf } from './state-dir.js';
import { runExplain } from './explain.js';
import { demoConfig } from './demo-config.js';

const USAGE = `Usage: gatehouse <command> [--config FILE]

Commands:
  start    Run the proxy. Config from --config, else $GATEHOUSE_CONFIG, else the embedded demo (HTTP on :8080).
  check    Validate a config file: print every problem and exit 1, or exit 0 when it is valid.
  certs    List the ACME certificates (state directory and config): names, issuer, expiry, next renewal, last error.
  renew NAME  Make the running instance (same config and state directory) renew NAME's certificate now.
  reload   Make the running instance reload its config file now (as SIGHUP does); exit 1 with the reasons if it is refused.
  status   Show the running instance's state as JSON: entry points, reloads, last reload's errors, certificates.
           With --admin URL (http://[user:password@]host:port), the admin entry point's /api/status instead.
  explain URL | --sni NAME   Which router (or TCP route) a request (or TLS handshake) gets and why, offline on the
           config file; --help for its options. Exit 0 when something matches, 1 when nothing does, 2 on errors.
  import-traefik STATIC [DYNAMIC|DIR ...] [--out FILE] [--allow-dropped]
           Convert a Traefik file-provider config (YAML/TOML) to a gatehouse config; list what does not carry over (exit 2).
  version  Print the version.

Environment:
  GATEHOUSE_CONFIG      config file when --config is not given
  GATEHOUSE_LOG_LEVEL   log level (fatal, error, warn, info, debug, trace, silent)
`;

/** Print problems one per line on stderr and exit 1 (or `code`). */
function fail(err: unknown, code = 1): never {
  const lines =
    err instanceof GatehouseErrors ? err.errors.map((e) => e.toString()) : err instanceof GatehouseError ? [err.toString()] : [String((err as Error)?.stack ?? err)];
  for (const line of lines) process.stderr.write(`gatehouse: ${line}\n`);
  process.exit(code);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function start(file: string | undefined): Promise<void> {
  // Signal handlers first: a supervisor may send SIGTERM as soon as it sees "gatehouse started", and a signal that
  // arrives before its handler would kill the process without draining.
  let gh: Gatehouse | undefined;
  let started = false;
  let stopping = false;
  const shutdown = () => {
    gh!.stop().then(
      () => process.exit(0),
      (err) => fail(err),
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`gatehouse: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    if (started) shutdown(); // else: start() sees `stopping` when it returns
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP reloads (the config file; a refused one is logged and the running config stays).
  process.on('SIGHUP', () => {
    if (started && !stopping) void gh!.reload();
  });

  try {
    gh = createGatehouse({ config: file ?? demoConfig() });
    await gh.start();
  } catch (err) {
    fail(err);
  }
  started = true;
  if (stopping) return shutdown();
  if (!file) {
    const web = gh.addresses()['web'];
    process.stderr.write(`gatehouse: running the embedded demo config. Open http://localhost:${web?.port ?? 8080}/\n`);
  }
}

function check(file: string | undefined): void {
  if (!file) fail(new Error('check needs a config file: --config FILE or GATEHOUSE_CONFIG'));
  let problems: readonly GatehouseError[];
  try {
    problems = checkConfig(file);
  } catch (err) {
    fail(err);
  }
  if (problems.length > 0) fail(new GatehouseErrors(problems));
  process.stdout.write(`${file}: config ok\n`);
}

async function certs(file: string | undefined): Promise<void> {
  if (!file) fail(new Error('certs needs a config file: --config FILE or GATEHOUSE_CONFIG'));
  try {
    process.stdout.write(formatCertificateRows(await certificateRows(loadConfigFile(file))));
  } catch (err) {
    fail(err);
  }
}

async function renew(file: string | undefined, name: string | undefined): Promise<void> {
  if (!file || !name) fail(new Error('usage: gatehouse renew NAME --config FILE'));
  try {
    const answer = await sendControl(resolveStateDir(loadConfigFile(file)), { command: 'renew', name });
    if (!answer.ok) fail(new Error(`renewal of ${name} failed: ${answer.error ?? 'unknown error'}`));
    process.stdout.write(`${name}: renewed\n`);
  } catch (err) {
    fail(err);
  }
}

/** Sends `command` to the running instance of `file`'s state directory and prints its answer. */
async function control(file: string | undefined, command: 'reload' | 'status'): Promise<void> {
  if (!file) fail(new Error(`usage: gatehouse ${command} --config FILE`));
  try {
    const answer = await sendControl(stateDirOf(file), { command });
    if (command === 'status') {
      process.stdout.write(`${JSON.stringify(answer.data, null, 2)}\n`);
      return;
    }
    if (!answer.ok) fail(new Error(`reload refused, the running config stays:\n${answer.error ?? 'unknown error'}`));
    const result = answer.data as { ms?: number } | undefined;
    process.stdout.write(`${file}: reloaded${result?.ms !== undefined ? ` in ${result.ms} ms` : ''}\n`);
  } catch (err) {
    fail(err);
  }
}

/** `explain` has options of its own, so it parses its arguments itself; an invalid config exits 2. */
function explain(args: string[]): void {
  runExplain(args).then(
    (code) => void (process.exitCode = code),
    (err) => fail(err, 2),
  );
}

/** `status --admin URL`: the running instance's `/api/status`, printed as JSON. */
async function adminStatus(url: string): Promise<void> {
  try {
    process.stdout.write(`${JSON.stringify(await fetchAdminStatus(url), null, 2)}\n`);
  } catch (err) {
    fail(err);
  }
}

function main(argv: string[]): void {
  if (argv[0] === 'explain') return explain(argv.slice(1));
  // Its own options (--out, --allow-dropped), so it parses its own arguments. Loaded for this command only: its
  // YAML and TOML parsers are no part of a running gatehouse.
  if (argv[0] === 'import-traefik') {
    return void import('./import-traefik.js').then(({ runImportTraefik }) => void (process.exitCode = runImportTraefik(argv.slice(1))), fail);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, admin: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  const command = positionals[0] ?? (values.version ? 'version' : values.help ? 'help' : 'start');
  const file = values.config ?? process.env['GATEHOUSE_CONFIG'] ?? undefined;
  switch (command) {
    case 'start':
      void start(file || undefined);
      return;
    case 'check':
      check(file || undefined);
      return;
    case 'renew':
      void renew(file || undefined, positionals[1]);
      return;
    case 'status':
      if (values.admin !== undefined) return void adminStatus(values.admin);
      void control(file || undefined, command);
      return;
    case 'reload':
      void control(file || undefined, command);
      return;
    case 'certs':
      void certs(file || undefined);
      return;
    case 'explain':
      explain(argv.filter((a, i) => i !== argv.indexOf('explain')));
      return;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return;
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`gatehouse: unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2));
