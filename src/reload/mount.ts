/**
 * Whether a file is itself a mount point: a single-file bind mount (`docker run -v ./config.json:/etc/...json`).
 * Edits that replace such a file (most editors write a new file and rename it) change the host's directory entry,
 * not the mounted inode, so the container never sees them (Traefik's issue 5589). Read from /proc/self/mountinfo,
 * whose fifth field is the mount point (octal escapes for spaces and the like, proc(5)).
 */
import { readFileSync, realpathSync } from 'node:fs';

/** True when `file` (after symlinks) is a mount point of this process's mount namespace; false when unknown. */
export function isMountPoint(file: string, mountinfo = '/proc/self/mountinfo'): boolean {
  let real: string;
  let text: string;
  try {
    real = realpathSync(file);
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return false;
  }
  for (const line of text.split('\n')) {
    const point = line.split(' ')[4];
    if (point !== undefined && unescape(point) === real) return true;
  }
  return false;
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
