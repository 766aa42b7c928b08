/**
 * What each `gatehouse` command accepts and says about itself: its options (node:util parseArgs, strict), how many
 * positionals it takes and its help text. Pure data, so `main.ts` can refuse a wrong argument or print a command's
 * help before loading anything of the command (a `--help` starts nothing and a typo costs no library load).
 */
import type { ParseArgsConfig } from 'node:util';

/** The options of one command, as parseArgs takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** One row of the command table. */
export interface CommandSpec {
  readonly options: CommandOptions;
  /**
   * What the positionals are: `config` (at most one: the config file, instead of --config), `name` (exactly one),
   * `url` (at most one, checked by the command), `files` (one or more), `command` (at most one), `none`.
   */
  readonly positionals: 'config' | 'name' | 'url' | 'files' | 'command' | 'none';
  /** The `Usage:` line(s) and what the command does, printed by `--help`. */
  readonly help: string;
}

const help = { type: 'boolean', short: 'h' } as const;
const config = { type: 'string', short: 'c' } as const;

const CONFIG_LINES = `  FILE, -c, --config FILE   the config file (else $GATEHOUSE_CONFIG)
  -h, --help                this help`;

/** `explain`'s options; src/cli/explain.ts parses them again with the same table. */
export const EXPLAIN_OPTIONS = {
  config,
  method: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  'client-ip': { type: 'string' },
  'entry-point': { type: 'string' },
  sni: { type: 'string' },
  alpn: { type: 'string' },
  json: { type: 'boolean' },
  running: { type: 'boolean' },
  udp: { type: 'boolean' },
  tcp: { type: 'boolean' },
  help,
} as const satisfies CommandOptions;

export const EXPLAIN_USAGE = `Usage: gatehouse explain URL [--config FILE] [--method M] [--header 'Name: value' ...] [--client-ip IP] [--entry-point NAME] [--running] [--json]
       gatehouse explain --sni NAME [--alpn P,...] [--config FILE] [--client-ip IP] [--entry-point NAME] [--running] [--json]
       gatehouse explain --udp [--config FILE] [--entry-point NAME] [--running] [--json]
       gatehouse explain --tcp [--client-ip IP] [--config FILE] [--entry-point NAME] [--running] [--json]
Which router (or TCP route) a request (or TLS handshake) gets and why, offline on the config file.
Exit 0 when something matches, 1 when nothing does, 2 on errors.
  --running   ask the running instance of FILE (its config in force, certificates served now, upstream health now)
`;

/** `import-traefik`'s options; src/cli/import-traefik.ts parses them again with the same table. */
export const IMPORT_TRAEFIK_OPTIONS = { out: { type: 'string', short: 'o' }, 'allow-dropped': { type: 'boolean' }, help } as const satisfies CommandOptions;

export const IMPORT_TRAEFIK_USAGE = `Usage: gatehouse import-traefik STATIC.yml [DYNAMIC.yml|DIR ...] [--out FILE] [--allow-dropped]
Convert a Traefik file-provider config (YAML/TOML, v2 or v3) to a gatehouse config, written to --out or stdout.
What does not carry over is listed on stderr, one line each, and exits 2 (0 with --allow-dropped); 1 when the input
cannot be read. See docs/import-traefik.md for what maps to what.
`;

/** Every command, by name. */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  start: {
    options: { config, help },
    positionals: 'config',
    help: `Usage: gatehouse start [FILE | --config FILE]
Run the proxy. Config from FILE, else $GATEHOUSE_CONFIG, else the embedded demo (HTTP on :8080).
SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the config file.
${CONFIG_LINES}
`,
  },
  check: {
    options: { config, help, strict: { type: 'boolean' } },
    positionals: 'config',
    help: `Usage: gatehouse check [FILE | --config FILE] [--strict]
Validate a config file: print every problem and exit 1, or exit 0 when it is valid. Routers that are valid but can
never serve (tls without a TLS entry point, a rule another router with the same rule is always tried before, Host
names on an entry point bound to loopback only) are printed as warnings on stderr; they fail the check (exit 1) only
with --strict.
${CONFIG_LINES}
`,
  },
  certs: {
    options: { config, help },
    positionals: 'config',
    help: `Usage: gatehouse certs [FILE | --config FILE]
List the ACME certificates (state directory and config): names, issuer, expiry, next renewal, last error.
${CONFIG_LINES}
`,
  },
  renew: {
    options: { config, help },
    positionals: 'name',
    help: `Usage: gatehouse renew NAME [--config FILE]
Make the running instance of FILE renew NAME's certificate now; exit 1 when the renewal fails.
  -c, --config FILE   the config file (else $GATEHOUSE_CONFIG)
  -h, --help          this help
`,
  },
  reload: {
    options: { config, help },
    positionals: 'config',
    help: `Usage: gatehouse reload [FILE | --config FILE]
Make the running instance of FILE reload its config file now (as SIGHUP does). Exit 0 when all of the new config
serves; 1 with the reasons when it is refused (the running config stays); 3 when it was applied but disables
routers or certificates (a broken rule, a misspelt service or middleware name), listed one per line as gatehouse
check lists them. With lifecycle.reload: strict such a config is refused instead (exit 1).
${CONFIG_LINES}
`,
  },
  status: {
    options: { config, admin: { type: 'string' }, help },
    positionals: 'config',
    help: `Usage: gatehouse status [FILE | --config FILE | --admin URL]
Show the running instance's state as JSON: entry points, reloads, last reload's errors, certificates.
${CONFIG_LINES}
  --admin URL               read the admin entry point's /api/status instead (http://[user:password@]host:port)
`,
  },
  health: {
    options: { config, help },
    positionals: 'config',
    help: `Usage: gatehouse health [FILE | --config FILE]
For a container HEALTHCHECK: exit 0 when the running instance of FILE answers on its control socket and each of its
entry points accepts a TCP connection (2 s each); exit 1 with one line saying what failed. Without a config file, the
embedded demo's entry point (127.0.0.1:8080) is checked.
${CONFIG_LINES}
`,
  },
  explain: { options: EXPLAIN_OPTIONS, positionals: 'url', help: EXPLAIN_USAGE },
  'import-traefik': { options: IMPORT_TRAEFIK_OPTIONS, positionals: 'files', help: IMPORT_TRAEFIK_USAGE },
  version: { options: { help }, positionals: 'none', help: 'Usage: gatehouse version\nPrint the version.\n' },
  help: { options: { help }, positionals: 'command', help: 'Usage: gatehouse help [COMMAND]\nList the commands, or show one command\'s help.\n' },
};

export const USAGE = `Usage: gatehouse <command> [FILE] [options]

Commands:
  start [FILE]     Run the proxy. Config from FILE or --config, else $GATEHOUSE_CONFIG, else the embedded demo (HTTP on :8080).
  check [FILE]     Validate a config file: print every problem and exit 1, or exit 0 when it is valid.
  certs [FILE]     List the ACME certificates (state directory and config): names, issuer, expiry, next renewal, last error.
  renew NAME       Make the running instance (same config and state directory) renew NAME's certificate now.
  reload [FILE]    Make the running instance reload its config file now (as SIGHUP does); exit 1 with the reasons if it is
                   refused, 3 with the problems if it was applied but disables routers or certificates.
  status [FILE]    Show the running instance's state as JSON: entry points, reloads, last reload's errors, certificates.
                   With --admin URL (http://[user:password@]host:port), the admin entry point's /api/status instead.
  health [FILE]    Exit 0 when the running instance answers and its entry points accept connections, else 1 (HEALTHCHECK).
  explain URL | --sni NAME   Which router (or TCP route) a request (or TLS handshake) gets and why, offline on the
                   config file. Exit 0 when something matches, 1 when nothing does, 2 on errors.
  import-traefik STATIC [DYNAMIC|DIR ...] [--out FILE] [--allow-dropped]
                   Convert a Traefik file-provider config (YAML/TOML) to a gatehouse config; list what does not carry over (exit 2).
  version          Print the version.
  help [COMMAND]   This list, or a command's help (same as gatehouse COMMAND --help).

FILE is the config file, the same as --config FILE. Exit codes: 0 done, 1 failed, 2 wrong usage (reload: 3 applied with problems).

Environment:
  GATEHOUSE_CONFIG      config file when none is given
  GATEHOUSE_LOG_LEVEL   log level (fatal, error, warn, info, debug, trace, silent)
  GATEHOUSE_DEBUG=1     print the stack trace of an unexpected error
`;

/** What a command's runner gets once main.ts has checked the command line. */
export interface CommandContext {
  /** The arguments after the command name, as given (explain and import-traefik parse their own). */
  readonly argv: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** The config file: FILE, --config FILE or $GATEHOUSE_CONFIG (an empty one counts as unset). */
  readonly file: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}
