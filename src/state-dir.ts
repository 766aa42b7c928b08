/**
 * The state directory at start-up: it must be writable before anything is served, because what goes there (the
 * default certificate, ACME accounts and certificates, the control socket) is lost or never made otherwise, and a
 * warning in a log is no way to learn that ACME can never store a certificate. A container whose host directory was
 * created by Docker (root-owned) is the usual case, so the message names the directory, the uid and the fix.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from './errors.js';
import type { Logger } from './log.js';

/** Makes `dir` when missing (0700) and proves it writable with a probe file; throws STATE_DIR saying how to fix it. */
export async function ensureWritableStateDir(dir: string): Promise<void> {
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const handle = await open(probe, 'wx', 0o600);
    await handle.close();
    await unlink(probe);
  } catch (err) {
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    const who = uid === undefined ? 'this user' : `uid ${uid}${gid !== undefined ? ` (gid ${gid})` : ''}`;
    const chown = uid === undefined ? '' : `chown -R ${uid}:${gid ?? uid} on that directory (the host directory, for a container), or `;
    throw new GatehouseError(
      'STATE_DIR',
      `state directory ${dir} is not writable by ${who}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; ${chown}set stateDir or GATEHOUSE_STATE_DIR to a directory it may write`,
      { cause: err },
    );
  }
}

/**
 * Warns when the state directory a config file had by default before each file got its own (`state` in the working
 * directory) holds state that the new default does not: a default certificate or ACME accounts there would otherwise
 * be silently replaced (and certificates ordered again, against the CA's rate limits).
 */
export function warnLegacyState(legacyDir: string | undefined, stateDir: string, log: Logger): void {
  if (legacyDir === undefined || !existsSync(legacyDir)) return;
  let found: string[];
  try {
    found = readdirSync(legacyDir).filter((n) => n === 'acme' || n === 'default-cert');
  } catch {
    return;
  }
  if (found.length === 0) return;
  const missing = found.filter((n) => !existsSync(join(stateDir, n)));
  if (missing.length === 0) return;
  log.warn(
    { legacyDir, stateDir, found: missing, fix: `mv ${join(legacyDir, '{acme,default-cert}')} ${stateDir}/ (or set "stateDir" to ${legacyDir})` },
    'state found in the old default state directory; not used',
  );
}
