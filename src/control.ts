/**
 * The control socket of a running gatehouse: a Unix socket `<stateDir>/control.sock` (mode 0600, so only the
 * account running gatehouse may use it) through which `gatehouse renew NAME` asks the ACME manager for a renewal
 * now, `gatehouse reload` reloads the config, `gatehouse status` reads the instance's state and `gatehouse health`
 * asks whether it serves. One JSON line in, one JSON line out, then the connection closes.
 *
 * A request may name the config file its sender means (`configFile`, absolute): an instance running another file
 * refuses it, so `gatehouse reload --config config.test.json` can never reload the prod instance that happens to
 * share a state directory.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, realpathSync, unlinkSync } from 'node:fs';
import { chmod, stat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ExplainQuery } from './explain/query.js';
import type { Logger } from './log.js';

/** A request on the control socket. */
export type ControlRequest = (
  | { readonly command: 'renew'; readonly name: string }
  | { readonly command: 'reload' }
  | { readonly command: 'status' }
  | { readonly command: 'health' }
  | { readonly command: 'explain'; readonly query: ExplainQuery }
) & {
  /** The config file the sender means (absolute); an instance running another one refuses the request. */
  readonly configFile?: string;
};

/** Its answer: `data` is the command's result (reload: the reload's outcome; status: the status). */
export interface ControlAnswer {
  readonly ok: boolean;
  readonly error?: string;
  /** `OTHER_INSTANCE` when the instance runs another config file than the request named. */
  readonly code?: 'OTHER_INSTANCE';
  readonly data?: unknown;
}

/** What a control request does; rejects → `{ ok: false, error }`. */
export type ControlHandler = (req: ControlRequest) => Promise<ControlAnswer>;

const MAX_LINE = 16384;
/** A renewal against a slow CA can take a while; the client waits this long for the answer. */
const CLIENT_TIMEOUT_MS = 120_000;

/**
 * The longest Unix socket path Linux takes (sun_path is 108 bytes with the terminating NUL). Node does not refuse a
 * longer one: it truncates it, which would leave a socket at a path nobody chose, so longer paths are never used.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The socket path of a state directory: `<stateDir>/control.sock`, or, when that is longer than a Unix socket path
 * may be, `<tmpdir>/gatehouse-<uid>/<hash of the state directory>.sock` in a directory only this account may use.
 * Throws (with what to do) when neither fits or the short directory is not safely ours.
 */
export function controlSocketPath(stateDir: string): string {
  const direct = join(stateDir, 'control.sock');
  if (Buffer.byteLength(direct) <= MAX_SOCKET_PATH_BYTES) return direct;
  const dir = join(tmpdir(), `gatehouse-${process.getuid?.() ?? 'user'}`);
  const short = join(dir, `${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 20)}.sock`);
  if (Buffer.byteLength(short) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`the control socket path ${direct} is longer than ${MAX_SOCKET_PATH_BYTES} bytes and so is ${short}; use a shorter stateDir or TMPDIR`);
  }
  ensurePrivateSocketDir(dir);
  return short;
}

/** Makes `dir` (0700) or checks that the one there is a real directory of this account that nobody else may enter. */
function ensurePrivateSocketDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir} (for the control socket: the state directory's path is too long for one) is not a private directory of uid ${uid ?? '?'}; remove it or use a shorter stateDir`);
  }
}

/**
 * Listens on the control socket. A socket file left by a dead process is replaced; one that still answers belongs
 * to another running instance with the same state directory, and is left alone (undefined is returned).
 */
export async function listenControl(stateDir: string, handle: ControlHandler, log: Logger, configFile?: string): Promise<Server | undefined> {
  const path = controlSocketPath(stateDir);
  const ownFile = configFile === undefined ? undefined : canonicalPath(configFile);
  if (await answers(path)) {
    log.warn({ path }, 'control socket in use by another instance, not listening');
    return undefined;
  }
  await unlink(path).catch(() => undefined);
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE) return void socket.destroy();
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      socket.removeAllListeners('data');
      const reply = (a: ControlAnswer) => socket.end(`${JSON.stringify(a)}\n`);
      let req: ControlRequest;
      try {
        req = JSON.parse(buffered.slice(0, nl)) as ControlRequest;
      } catch {
        return reply({ ok: false, error: 'not JSON' });
      }
      if (!isRequest(req)) return reply({ ok: false, error: 'unknown command' });
      if (req.configFile !== undefined && canonicalPath(req.configFile) !== ownFile) {
        return reply({ ok: false, code: 'OTHER_INSTANCE', error: `the gatehouse on ${path} runs ${configFile ?? 'a config given as an object'}, not ${req.configFile}` });
      }
      log.info({ command: req.command, ...(req.command === 'renew' ? { name: req.name } : {}) }, 'control request');
      handle(req).then(
        (answer) => reply(answer),
        (err: unknown) => reply({ ok: false, error: (err as Error).message }),
      );
    });
  });
  // The socket file is made by bind(), inside listen(), with the process's umask: made 0600 there already, so there
  // is no moment in which another account could connect before the chmod below (which stays, for the record).
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  await chmod(path, 0o600);
  if (((await stat(path)).mode & 0o077) !== 0) {
    server.close();
    throw new Error(`the control socket ${path} could not be made private (mode 0600)`);
  }
  // close() removes the socket file; an exit without stop() (process.exit, an uncaught error) does it here.
  const removeAtExit = (): void => {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', removeAtExit);
  server.once('close', () => process.removeListener('exit', removeAtExit));
  server.unref();
  return server;
}

/** A config file's path as an instance and a CLI both name it: absolute, symlinks resolved where it exists. */
function canonicalPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

/** Sends one request to the instance using `stateDir`; rejects when none listens. */
export function sendControl(stateDir: string, req: ControlRequest): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    let path: string;
    try {
      path = controlSocketPath(stateDir);
    } catch (err) {
      return reject(err);
    }
    const socket = connect(path);
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy(new Error('no answer from the running gatehouse')));
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (c: string) => (data += c));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(data) as ControlAnswer);
      } catch {
        reject(new Error('unreadable answer from the running gatehouse'));
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? new Error(`no running gatehouse with state directory ${stateDir}`) : e));
  });
}

function isRequest(v: unknown): v is ControlRequest {
  if (v === null || typeof v !== 'object') return false;
  const r = v as { command?: unknown; name?: unknown; configFile?: unknown };
  if (r.configFile !== undefined && typeof r.configFile !== 'string') return false;
  const q = (v as { query?: unknown }).query;
  return (
    r.command === 'reload' ||
    r.command === 'status' ||
    r.command === 'health' ||
    (r.command === 'renew' && typeof r.name === 'string') ||
    (r.command === 'explain' && q !== null && typeof q === 'object' && Array.isArray((q as ExplainQuery).alpn) && Array.isArray((q as ExplainQuery).headers))
  );
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.setTimeout(1_000, () => {
      s.destroy();
      resolve(false);
    });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
