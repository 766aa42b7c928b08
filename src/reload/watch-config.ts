/**
 * Watching the config file for edits. The file's directory is watched, not the file: editors (vim, VS Code, sed -i)
 * and config tools write a new file and rename it over the old one, which a watch on the file itself stops seeing
 * after the first edit. Changes are debounced, and only a change of the file's content triggers a reload (a touch,
 * a save without edits, or events for other files in the directory do not). A slow poll backs up the watch for
 * file systems where inotify sees nothing (NFS, some network mounts).
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';

/** A running watch. */
export interface ConfigWatch {
  /** The content the running config came from (a reload through another path, SIGHUP or the API, sets it). */
  setLoaded(hash: string | undefined): void;
  close(): void;
}

export interface ConfigWatchOptions {
  readonly file: string;
  /** Read at every change, so a reload that changes it applies from the next edit. */
  readonly debounceMs: () => number;
  /** Poll interval backing up the watch; 0 turns it off. */
  readonly pollMs: number;
  /** The file's content changed: reload. Called one at a time (the next change waits for this one). */
  readonly onChange: () => Promise<void>;
  readonly log: Logger;
}

/** The hash a config file's content is compared by. */
export function contentHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads the hash of `file`'s content, or undefined when it cannot be read now (mid-rename, removed). */
export async function fileHash(file: string): Promise<string | undefined> {
  try {
    return contentHash(await readFile(file));
  } catch {
    return undefined;
  }
}

/** Starts watching `options.file`'s directory; `initialHash` is the content of the config now running. */
export function watchConfig(options: ConfigWatchOptions, initialHash: string | undefined): ConfigWatch {
  const { file, log } = options;
  const dir = dirname(file);
  let loaded = initialHash;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const check = async (): Promise<void> => {
    const hash = await fileHash(file);
    // Unreadable (between an editor's unlink and rename, or removed): the next event or poll looks again.
    if (closed || hash === undefined || hash === loaded) return;
    log.info({ file }, 'config file changed, reloading');
    loaded = hash;
    await options.onChange();
  };

  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = check()
      .catch((err: unknown) => log.error({ err, file }, 'config reload failed'))
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          run();
        }
      });
  };

  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(run, options.debounceMs());
    timer.unref();
  };

  let watcher: FSWatcher | undefined;
  try {
    // Any event in the directory is worth a look: an editor's temporary file is renamed to `name`, and some
    // platforms give no file name at all. The content hash decides whether anything changed.
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) => log.warn({ err, dir }, 'config directory watch failed; the periodic check remains'));
  } catch (err) {
    log.warn({ err, dir }, 'config directory cannot be watched; the periodic check remains');
  }
  const poll = options.pollMs > 0 ? setInterval(run, options.pollMs) : undefined;
  poll?.unref();

  return {
    setLoaded(hash) {
      loaded = hash;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
