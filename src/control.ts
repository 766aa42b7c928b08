/**
 * The control socket of a running gatehouse: a Unix socket `<stateDir>/control.sock` (mode 0600, so only the
 * account running gatehouse may use it) through which `gatehouse renew NAME` asks the ACME manager for a renewal
 * now, `gatehouse reload` reloads the config and `gatehouse status` reads the instance's state. One JSON line in,
 * one JSON line out, then the connection closes.
 */
import { chmod, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ExplainQuery } from './explain/query.js';
import type { Logger } from './log.js';

/** A request on the control socket. */
export type ControlRequest =
  | { readonly command: 'renew'; readonly name: string }
  | { readonly command: 'reload' }
  | { readonly command: 'status' }
  | { readonly command: 'explain'; readonly query: ExplainQuery };

/** Its answer: `data` is the command's result (reload: the reload's outcome; status: the status). */
export interface ControlAnswer {
  readonly ok: boolean;
  readonly error?: string;
  readonly data?: unknown;
}

/** What a control request does; rejects → `{ ok: false, error }`. */
export type ControlHandler = (req: ControlRequest) => Promise<ControlAnswer>;

const MAX_LINE = 16384;
/** A renewal against a slow CA can take a while; the client waits this long for the answer. */
const CLIENT_TIMEOUT_MS = 120_000;

/** The socket path of a state directory. */
export function controlSocketPath(stateDir: string): string {
  return join(stateDir, 'control.sock');
}

/**
 * Listens on the control socket. A socket file left by a dead process is replaced; one that still answers belongs
 * to another running instance with the same state directory, and is left alone (undefined is returned).
 */
export async function listenControl(stateDir: string, handle: ControlHandler, log: Logger): Promise<Server | undefined> {
  const path = controlSocketPath(stateDir);
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
      log.info({ command: req.command, ...(req.command === 'renew' ? { name: req.name } : {}) }, 'control request');
      handle(req).then(
        (answer) => reply(answer),
        (err: unknown) => reply({ ok: false, error: (err as Error).message }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  server.unref();
  return server;
}

/** Sends one request to the instance using `stateDir`; rejects when none listens. */
export function sendControl(stateDir: string, req: ControlRequest): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(controlSocketPath(stateDir));
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
  const r = v as { command?: unknown; name?: unknown };
  const q = (v as { query?: unknown }).query;
  return (
    r.command === 'reload' ||
    r.command === 'status' ||
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
