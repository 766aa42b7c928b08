/**
 * Installing a tool a test needs from Debian's packages: when it is missing, the helper installs its packages with
 * apt-get if the tests run as root, and otherwise fails with the command to run, so a test never skips silently.
 * Synchronous on purpose: it runs once, before the servers a test starts, and every apt-get run is bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What a test needs and the packages that bring it. */
export interface AptTools {
  /** What is missing, as the messages name it: 'nginx', 'BIND', 'dnsmasq or dig'. */
  readonly what: string;
  /** The Debian packages to install. */
  readonly packages: readonly string[];
  /**
   * True when the tools are there; asked before and again after installing. Helpers check absolute paths (daemons
   * live in /usr/sbin, which is not on every user's PATH) or use onPath().
   */
  readonly present: () => boolean;
  /** Adds --no-install-recommends (bind9 and dnsmasq-base need none of theirs). */
  readonly noRecommends?: boolean;
  /** Bound on `apt-get install`; `apt-get update` gets at most 5 minutes. Default 5 minutes. */
  readonly timeoutMs?: number;
  /** Said beside the command in every message: what else the packages bring, what to do next. */
  readonly note?: string;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const UPDATE_TIMEOUT_MS = 300_000;

/** Whether this process already ran `apt-get update`: a second one would find the same lists. */
let updated = false;

/** Whether an executable `name` is in a directory on PATH (what `command -v` finds). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The command a person runs to install `tools`, as the messages quote it. */
export function aptCommand(tools: Pick<AptTools, 'packages' | 'noRecommends'>): string {
  return `sudo apt-get install -y ${tools.noRecommends === true ? '--no-install-recommends ' : ''}${tools.packages.join(' ')}`;
}

/**
 * Returns at once when `tools.present()`; otherwise installs `tools.packages` with apt-get (running `apt-get update`
 * first only when the install fails and this process has not updated yet: a fresh image has no package lists).
 * Throws, naming the packages and the command to run, when this process is not root, has no apt-get, the install
 * fails or times out, or the tools are still missing after it.
 */
export function ensureAptTools(tools: AptTools): void {
  if (tools.present()) return;
  const how = `run \`${aptCommand(tools)}\` (Debian/Ubuntu${tools.note === undefined ? '' : `; ${tools.note}`}) and run the tests again`;
  if (process.getuid?.() !== 0) throw new Error(`${tools.what} is not installed and the tests are not running as root: ${how}`);
  if (!onPath('apt-get')) throw new Error(`${tools.what} is not installed and this system has no apt-get: ${how}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // stderr is kept for the message: apt-get says there why it failed (no such package, lock held, no network).
  const apt = (args: string[], timeout: number) => execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout, env });
  const install = () =>
    apt(['install', '-y', '-q', ...(tools.noRecommends === true ? ['--no-install-recommends'] : []), ...tools.packages], tools.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    try {
      install();
    } catch (err) {
      if (updated) throw err;
      updated = true;
      apt(['update', '-q'], Math.min(UPDATE_TIMEOUT_MS, tools.timeoutMs ?? DEFAULT_TIMEOUT_MS));
      install();
    }
  } catch (err) {
    const reason = (err as Error).message.trim().slice(-2000);
    throw new Error(`${tools.what} is not installed and \`apt-get install -y ${tools.packages.join(' ')}\` failed (${reason}): ${how}`);
  }
  if (!tools.present()) throw new Error(`${tools.packages.join(' ')} installed but ${tools.what} is still missing: ${how}`);
}
