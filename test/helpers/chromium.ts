/**
 * Debian's `chromium` in headless mode, driven from its command line: load a URL, return the DOM after load and the
 * console messages and errors it logged (`--enable-logging=stderr`). When chromium is missing, the helper installs
 * it with apt-get if it runs as root, and otherwise fails with the command to run. Each run gets a fresh profile
 * directory and is bounded in time; the browser is stopped by its PID (its process group) if it overruns.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureAptTools } from './apt.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const RUN_TIMEOUT_MS = 60_000;

/** Path of the chromium binary, installing it first when it is missing and we may; throws with a hint otherwise. */
export function chromiumBinary(): string {
  const find = () => CANDIDATES.find((p) => existsSync(p));
  ensureAptTools({ what: 'chromium', packages: ['chromium'], present: () => find() !== undefined, timeoutMs: 600_000 });
  return find()!; // ensureAptTools returns only once present() holds
}

/** What a headless load produced. */
export interface PageLoad {
  /** The serialized DOM after load (--dump-dom). */
  readonly dom: string;
  /** Console messages and page errors chromium logged (`INFO:CONSOLE:n]` lines whatever the level: console.error, uncaught errors, CSP refusals). */
  readonly console: readonly string[];
  readonly stderr: string;
}

/** Lines of chromium's log that are the page's console or its errors, not the browser's own chatter. */
const PAGE_MESSAGE = /:CONSOLE[:(]|Uncaught|Refused to|Failed to load resource/;

/** Load `url` in a fresh headless chromium; `windowSize` e.g. '390,844' (a phone). */
export async function loadPage(url: string, windowSize = '390,844'): Promise<PageLoad> {
  const binary = chromiumBinary();
  const profile = await mkdtemp(join(tmpdir(), 'gatehouse-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--enable-logging=stderr',
    '--v=0',
    `--window-size=${windowSize}`,
    `--user-data-dir=${profile}`,
    '--dump-dom',
    url,
  ];
  try {
    return await new Promise<PageLoad>((resolve, reject) => {
      const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        reject(new Error(`chromium did not finish within ${RUN_TIMEOUT_MS} ms; stderr:\n${stderr.slice(-2000)}`));
      }, RUN_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) return reject(new Error(`chromium exited with ${code}; stderr:\n${stderr.slice(-2000)}`));
        resolve({ dom: stdout, console: stderr.split('\n').filter((l) => PAGE_MESSAGE.test(l)), stderr });
      });
    });
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
