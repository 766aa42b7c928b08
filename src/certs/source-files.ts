/**
 * Reading certificate files for the store's scans: the certificates directory's listing, and each file parsed
 * only when it changed since the last scan (the periodic rescan then costs one stat per file).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { looksLikePem, parsePemFile, type PemFile } from './pem.js';

/** Files larger than this are not certificates (a chain of ten RSA 4096 certificates is under 25 KiB). */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * The regular files directly in `dir` (symbolic links followed, as Kubernetes mounts secrets), without
 * subdirectories and without dot-files: editors' swap files, atomic writers' temporaries and Kubernetes'
 * `..data` links all start with a dot. Undefined when the directory does not exist.
 */
export async function listCertsDir(dir: string): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  const files: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    try {
      if ((await stat(path)).isFile()) files.push(path);
    } catch {
      // vanished between readdir and stat, or a dangling link: nothing to load
    }
  }
  return files;
}

/** Parsed files by path, re-read only when size, mtime or inode change. */
export class PemFileCache {
  readonly #entries = new Map<string, { signature: string; file: PemFile }>();

  /** The file parsed (cached when unchanged), or undefined when it does not exist. */
  async read(path: string): Promise<PemFile | undefined> {
    let signature: string;
    try {
      const s = await stat(path);
      signature = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (s.size > MAX_FILE_BYTES) return { path, certs: [], keys: [], problems: [`file is larger than ${MAX_FILE_BYTES} bytes`] };
    } catch {
      this.#entries.delete(path);
      return undefined;
    }
    const cached = this.#entries.get(path);
    if (cached?.signature === signature) return cached.file;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      return { path, certs: [], keys: [], problems: [`unreadable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] };
    }
    // Not PEM at all (a README, a .gitkeep with content): nothing to serve and nothing to warn about.
    const file = looksLikePem(text) ? parsePemFile(path, text) : { path, certs: [], keys: [], problems: [] };
    this.#entries.set(path, { signature, file });
    return file;
  }

  /** Forgets every path not in `keep` (files gone from the directory). */
  prune(keep: ReadonlySet<string>): void {
    for (const path of this.#entries.keys()) if (!keep.has(path)) this.#entries.delete(path);
  }
}
