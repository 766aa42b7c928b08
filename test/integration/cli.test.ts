// The `gatehouse` command line as an operator meets it (src/cli/main.ts, src/cli/usage.ts): every command's --help
// answers at once and starts nothing, a wrong command line exits 2 with one line and no stack trace, `start FILE`
// runs that file, the commands that reach a running instance fail in one line when there is none, and `health`
// tells a running instance from a stopped one. The real built CLI runs as a child process; every process started
// here is stopped by PID in afterEach.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, writeConfigFile } from '../helpers/gatehouse-process.js';
import { httpRequest, tryConnect } from '../helpers/raw-http.js';
import { freePort } from '../helpers/ports.js';

afterEach(stopAllGatehouses);
afterAll(stopAllGatehouses);

/** A stack trace line, as Node prints one. */
const STACK = /\n\s+at /;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;


/** A config answering on one entry point at `port`. */
function plainConfig(port: number, body = 'from the named file'): object {
  return { entryPoints: { web: { address: `127.0.0.1:${port}` } }, http: { routers: { r: { rule: 'PathPrefix(`/`)', respond: { body } } } } };
}

/** Stderr is one `gatehouse: ` line without a stack trace. */
function expectOneLine(stderr: string): void {
  expect(stderr).not.toMatch(STACK);
  expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1);
  expect(stderr).toMatch(/^gatehouse: /);
}

describe('--help starts nothing', () => {
  const commands = ['start', 'check', 'certs', 'renew', 'reload', 'status', 'health', 'explain', 'import-traefik', 'version', 'help'];
  it.each(commands.flatMap((c) => [[c, '--help'], [c, '-h']]))('gatehouse %s %s prints its usage and exits 0 at once', async (command, flag) => {
    // Whatever the command would reach or start is there to be reached: a config on a free port (start) and as
    // GATEHOUSE_CONFIG, the demo's address on another.
    const [port, demoPort] = [await freePort(), await freePort()];
    const file = await writeConfigFile(plainConfig(port));
    const started = performance.now();
    const res = await runGatehouseCli([command, flag, ...(command === 'start' ? [file] : [])], {
      env: { GATEHOUSE_CONFIG: file, GATEHOUSE_DEMO_ADDRESS: `127.0.0.1:${demoPort}` },
      timeoutMs: 5_000,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Usage: gatehouse ${command}`));
    expect(res.stderr).toBe('');
    expect(performance.now() - started).toBeLessThan(3_000);
    expect(await tryConnect(port)).toBe('refused');
    expect(await tryConnect(demoPort)).toBe('refused');
  });

  it.each([
    ['gatehouse help reload', ['help', 'reload'], /^Usage: gatehouse reload/],
    ['gatehouse help', ['help'], /^Usage: gatehouse <command>/],
    ['gatehouse --help', ['--help'], /^Usage: gatehouse <command>/],
    ['gatehouse -h', ['-h'], /^Usage: gatehouse <command>/],
  ])('%s prints the help', async (_d, args, usage) => {
    const res = await runGatehouseCli(args, { timeoutMs: 5_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(usage);
  });
});

describe('a wrong command line exits 2 with one line, no stack trace', () => {
  it.each([
    ['an unknown flag on start', ['start', '--nope'], /start: unknown option '--nope'; see gatehouse start --help/],
    ['an unknown flag on check', ['check', '--verbose', 'x.json'], /check: unknown option '--verbose'/],
    ['an unknown flag on certs', ['certs', '--all'], /certs: unknown option/],
    ['an unknown flag on renew', ['renew', 'a.test', '--force'], /renew: unknown option/],
    ['an unknown flag on reload', ['reload', '--now'], /reload: unknown option/],
    ['an unknown flag on status', ['status', '--json'], /status: unknown option/],
    ['an unknown flag on health', ['health', '--timeout', '3'], /health: unknown option/],
    ['an unknown flag on explain', ['explain', 'http://a.test/', '--verbose'], /explain: unknown option/],
    ['an unknown flag on import-traefik', ['import-traefik', 'traefik.yml', '--force'], /import-traefik: unknown option/],
    ['an unknown flag on version', ['version', '--short'], /version: unknown option/],
    ['a flag without its value', ['start', '--config'], /start: option .*--config.* argument missing/],
    ['two config files', ['start', 'a.json', 'b.json'], /start: one config file at a time, got 2: a\.json b\.json/],
    ['a file both ways', ['check', 'a.json', '--config', 'b.json'], /check: give the config file once/],
    ['a positional for version', ['version', 'x'], /version: takes no arguments/],
    ['renew without NAME', ['renew'], /renew: needs NAME/],
    ['two NAMEs for renew', ['renew', 'a.test', 'b.test'], /renew: one NAME at a time/],
    ['import-traefik without a file', ['import-traefik'], /import-traefik: needs the Traefik static config file/],
    ['an unknown command', ['strat'], /unknown command "strat"; see gatehouse --help/],
    ['help on an unknown command', ['help', 'strat'], /unknown command "strat"/],
    ['--admin with a config file', ['status', 'a.json', '--admin', 'http://127.0.0.1:1'], /status: --admin .* give one of them/],
  ])('%s', async (_d, args, message) => {
    const res = await runGatehouseCli(args, { timeoutMs: 5_000 });
    expect(res.code, res.stderr).toBe(2);
    expectOneLine(res.stderr);
    expect(res.stderr).toMatch(message);
    expect(res.stdout).toBe('');
  });
});

describe('failures exit 1 with one line, no stack trace', () => {
  it.each([
    ['reload', (file: string) => ['reload', file], /no running gatehouse for .*; start it with/],
    ['status', (file: string) => ['status', '--config', file], /no running gatehouse for /],
    ['renew', (file: string) => ['renew', 'a.lab.test', '--config', file], /no running gatehouse for /],
    ['health', (file: string) => ['health', file], /unhealthy: no running gatehouse for /],
    ['start on an unreadable file', (file: string) => ['start', `${file}.missing`], /cannot read the config file: no such file or directory \(ENOENT\) \[CONFIG_READ\]/],
    ['certs on an unreadable file', (file: string) => ['certs', `${file}.missing`], /\[CONFIG_READ\]/],
    ['status --admin where nothing listens', () => ['status', '--admin', 'http://127.0.0.1:1'], /cannot reach the admin entry point at http:\/\/127\.0\.0\.1:1\/api\/status/],
  ])('%s with no running instance', async (_d, args, message) => {
    const file = await writeConfigFile(plainConfig(await freePort()));
    const res = await runGatehouseCli(args(file), { timeoutMs: 8_000 });
    expect(res.code, res.stderr).toBe(1);
    expectOneLine(res.stderr);
    expect(res.stderr).toMatch(message);
  });
});

describe('start FILE', () => {
  it('runs the named file: its entry points, its routes, not the demo', async () => {
    const demoPort = await freePort();
    const gh = await startGatehouse(plainConfig(0, 'positional config'), { configPositional: true, env: { GATEHOUSE_DEMO_ADDRESS: `127.0.0.1:${demoPort}` } });
    expect(Object.keys(gh.ports)).toEqual(['web']);
    expect((await httpRequest(gh.ports['web']!)).text).toBe('positional config');
    expect(await tryConnect(demoPort)).toBe('refused');
    expect(gh.stderr()).not.toMatch(/embedded demo/);
  });
});

describe('health', () => {
  it('exits 0 while the instance runs and serves, 1 with one line once it is stopped', async () => {
    const gh = await startGatehouse(plainConfig(0));
    const up = await runGatehouseCli(['health', gh.file], { timeoutMs: 8_000 });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`healthy \\(web 127\\.0\\.0\\.1:${gh.ports['web']}\\)`));

    expect(await gh.stop()).toBe(0);
    const down = await runGatehouseCli(['health', '--config', gh.file], { timeoutMs: 8_000 });
    expect(down.code, down.stderr).toBe(1);
    expectOneLine(down.stderr);
    expect(down.stderr).toMatch(/unhealthy: /);
  });

  it('without a config file checks the demo entry point (GATEHOUSE_DEMO_ADDRESS)', async () => {
    const port = await freePort();
    const res = await runGatehouseCli(['health'], { env: { GATEHOUSE_CONFIG: '', GATEHOUSE_DEMO_ADDRESS: `127.0.0.1:${port}` }, timeoutMs: 8_000 });
    expect(res.code, res.stderr).toBe(1);
    expectOneLine(res.stderr);
    expect(res.stderr).toMatch(new RegExp(`unhealthy: the embedded demo: entry point not accepting connections: web \\(127\\.0\\.0\\.1:${port}\\): ECONNREFUSED`));
  });
});

describe('version', () => {
  it.each([['version'], ['--version'], ['-v']])('gatehouse %s prints the package version', async (arg) => {
    const res = await runGatehouseCli([arg], { timeoutMs: 5_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`${VERSION}\n`);
  });
});
