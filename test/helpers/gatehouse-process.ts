/**
 * Runs the real gatehouse CLI (`dist/cli/main.js`) as a child process, the way an operator would: a config file
 * on disk, pino JSON lines on stdout. Every process started here is recorded, and `stopAllGatehouses()` (call it
 * in afterEach/afterAll) kills whatever is still alive by its PID, so a failing test never leaks a proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineSplitter, describeLines, parseLogLine, type LogLine } from './log-lines.js';

/** Absolute path of the built CLI entry; tests need `npm run build` first. */
export const MAIN_JS = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;
const CLI_TIMEOUT_MS = 10_000;

export interface GatehouseOptions {
  /** Extra environment variables (merged over this process's environment). */
  env?: Record<string, string>;
  /** Pass the config through `GATEHOUSE_CONFIG` instead of `--config`. */
  configViaEnv?: boolean;
  /** Pass the config as a positional argument (`gatehouse start FILE`) instead of `--config FILE`. */
  configPositional?: boolean;
  /** How long to wait for "gatehouse started"; default 10 s. */
  startTimeoutMs?: number;
  /** Start on this existing config file instead of writing `config` into a fresh temp dir. */
  file?: string;
  /** Working directory of the process (default: this one's). */
  cwd?: string;
  /** Run as this user and group (the test must be root). */
  uid?: number;
  gid?: number;
}

/** A running gatehouse process and what it has printed so far. */
export interface GatehouseProcess {
  readonly pid: number;
  /** The config file it was started with (tests rewrite it to exercise reloads). */
  readonly file: string;
  /** Sends `signal` (SIGHUP: reload) without waiting for anything. */
  signal(signal: NodeJS.Signals): void;
  /** Bound port of each entry point, by name, from the "entry point listening" lines. */
  readonly ports: Readonly<Record<string, number>>;
  /** Every stdout line so far, parsed; grows while the process runs. */
  readonly logs: LogLine[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** `http://127.0.0.1:<port>` of an entry point; throws for an unknown name. */
  url(entryPoint: string): string;
  /** Resolves with the first line (already printed or still to come) that satisfies `predicate`; bounded. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code (null if killed by a signal); bounded. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The outcome of a CLI run that is expected to end on its own (`check`, a failing `start`). */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

// Last resort if a test runner worker exits without running afterAll: never leave a proxy behind.
process.once('exit', () => {
  for (const child of live) if (child.pid !== undefined) safeKill(child.pid, 'SIGKILL');
});

function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function assertBuilt(): void {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` before the integration tests`);
}

/** Writes a config (object → JSON, string → as is, so tests can write broken files) into a fresh temp dir. */
export async function writeConfigFile(config: object | string, name = 'gatehouse.json'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-it-'));
  tempDirs.add(dir);
  const file = join(dir, name);
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

function exitPromise(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Starts `gatehouse start` on `config` and resolves once it logged "gatehouse started"; rejects (and kills) otherwise. */
export async function startGatehouse(config: object | string, opts: GatehouseOptions = {}): Promise<GatehouseProcess> {
  assertBuilt();
  const file = opts.file ?? (await writeConfigFile(config));
  const args = opts.configViaEnv ? [MAIN_JS, 'start'] : opts.configPositional ? [MAIN_JS, 'start', file] : [MAIN_JS, 'start', '--config', file];
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.configViaEnv) env['GATEHOUSE_CONFIG'] = file;
  else delete env['GATEHOUSE_CONFIG'];

  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  if (child.pid === undefined) throw new Error('gatehouse did not spawn');
  const pid = child.pid;
  live.add(child);
  const exited = exitPromise(child);
  void exited.then(() => live.delete(child));

  const logs: LogLine[] = [];
  const ports: Record<string, number> = {};
  const waiters = new Set<() => void>();
  let stderr = '';
  const splitter = new LineSplitter();
  const take = (lines: string[]): void => {
    for (const text of lines) {
      const line = parseLogLine(text);
      logs.push(line);
      if (line.msg === 'entry point listening' && typeof line['entryPoint'] === 'string' && typeof line['port'] === 'number') {
        ports[line['entryPoint']] = line['port'];
      }
    }
    for (const wake of waiters) wake();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => take(splitter.push(chunk)));
  child.stdout!.on('end', () => take(splitter.flush()));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });

  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    for (const wake of waiters) wake();
  });

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 5_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      let seen = 0;
      const check = (): boolean => {
        for (; seen < logs.length; seen++) {
          const line = logs[seen]!;
          if (predicate(line)) {
            done();
            resolve(line);
            return true;
          }
        }
        if (hasExited) {
          done();
          reject(new Error(`gatehouse exited before the expected log line.\nstdout:\n${describeLines(logs)}\nstderr:\n${stderr}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms.\nstdout:\n${describeLines(logs)}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const wake = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      waiters.add(wake);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS): Promise<number | null> => {
    safeKill(pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      safeKill(pid, 'SIGKILL');
      await exited;
      throw new Error(`gatehouse did not exit within ${timeoutMs} ms of ${signal}; killed.\nstdout:\n${describeLines(logs)}`);
    }
    return outcome.code;
  };

  try {
    await waitForLog((l) => l.msg === 'gatehouse started', opts.startTimeoutMs ?? START_TIMEOUT_MS);
  } catch (err) {
    safeKill(pid, 'SIGKILL');
    await exited;
    throw err;
  }

  return {
    pid,
    file,
    signal: (signal) => safeKill(pid, signal),
    ports,
    logs,
    stderr: () => stderr,
    url(entryPoint: string): string {
      const port = ports[entryPoint];
      if (port === undefined) throw new Error(`no entry point ${JSON.stringify(entryPoint)}; known: ${Object.keys(ports).join(', ')}`);
      return `http://127.0.0.1:${port}`;
    },
    waitForLog,
    stop,
    exited,
  };
}

/**
 * Runs the CLI with `args` (the config file path is appended as `--config FILE` when `config` is given) and
 * resolves when it exits on its own; a run that outlives `timeoutMs` is killed and reported as such.
 */
export async function runGatehouseCli(
  args: readonly string[],
  opts: { config?: object | string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  assertBuilt();
  const fullArgs = [MAIN_JS, ...args];
  if (opts.config !== undefined) fullArgs.push('--config', await writeConfigFile(opts.config));
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  const child = spawn(process.execPath, fullArgs, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) });
  if (child.pid === undefined) throw new Error('gatehouse did not spawn');
  const pid = child.pid;
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const drained = Promise.all([
    new Promise((r) => child.stdout!.once('close', r)),
    new Promise((r) => child.stderr!.once('close', r)),
  ]);
  const timeoutMs = opts.timeoutMs ?? CLI_TIMEOUT_MS;
  const timer = setTimeout(() => safeKill(pid, 'SIGKILL'), timeoutMs);
  const { code, signal } = await exitPromise(child);
  clearTimeout(timer);
  live.delete(child);
  // 'exit' can fire before the pipes drain; wait for them, boundedly.
  await Promise.race([drained, new Promise((r) => setTimeout(r, 1_000))]);
  if (signal === 'SIGKILL') stderr += `\n[harness] killed after ${timeoutMs} ms`;
  return { code, signal, stdout, stderr };
}

/** Kills (SIGKILL, by PID) every gatehouse still running and removes the temp config dirs. Idempotent. */
export async function stopAllGatehouses(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      waits.push(exitPromise(child));
      safeKill(child.pid, 'SIGKILL');
    }
  }
  live.clear();
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5_000))]);
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
