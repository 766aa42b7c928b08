/**
 * The exec provider, lego's contract (go-acme/lego providers/dns/exec): the operator's program is run as
 * `PROGRAM present <fqdn.> <value>` and `PROGRAM cleanup <fqdn.> <value>` (fqdn with its trailing dot), or in RAW mode
 * `PROGRAM present|cleanup -- <domain.> <token> <keyAuthorization>`, with gatehouse's environment; exit 0 means done.
 * Anything that can update DNS (nsupdate, a vendor CLI, an HTTP call) fits behind it.
 */
import { spawn } from 'node:child_process';
import type { DnsProvider, TxtRecord } from './provider.js';

/** Options of the exec provider. */
export interface ExecOptions {
  /** The program, absolute (resolved against the config file's directory). */
  readonly path: string;
  readonly raw: boolean;
  readonly timeoutMs: number;
}

/** How much of the program's output is kept for the error message. */
const OUTPUT_LIMIT = 2048;

/** Builds the provider. */
export function createExecProvider(options: ExecOptions): DnsProvider {
  const run = (action: 'present' | 'cleanup', r: TxtRecord) =>
    runProgram(options, options.raw ? [action, '--', `${r.domain}.`, r.token, r.keyAuthorization] : [action, `${r.fqdn}.`, r.value]);
  return {
    description: `exec ${options.path}`,
    present: (r) => run('present', r),
    cleanup: (r) => run('cleanup', r),
  };
}

function runProgram(options: ExecOptions, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.path, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let output = '';
    const keep = (c: Buffer) => {
      output = (output + c.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const what = `${options.path} ${args[0]} ${args[args.length === 3 ? 1 : 2]}`;
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not be run: ${err.code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const said = output.trim().split('\n').slice(-3).join(' | ');
      if (timedOut) reject(new Error(`${what} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was killed${said ? `: ${said}` : ''}`));
      else if (code !== 0) reject(new Error(`${what} exited with ${code ?? signal}${said ? `: ${said}` : ''}`));
      else resolve();
    });
  });
}
