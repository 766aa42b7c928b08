/**
 * `basicAuth` (RFC 7617): users from inline htpasswd lines and/or an htpasswd file, compiled at load.
 *
 * bcrypt is slow on purpose, so besides running it on a worker thread (bcrypt-worker.ts), three things keep it
 * from being turned against the proxy:
 * - a success is remembered for CACHE_TTL_MS, keyed by a SHA-256 of the header (never the password itself),
 *   so a logged-in browser pays bcrypt once a minute, not once per request;
 * - a failure is never cached and never faster: an unknown user is checked against a decoy hash of the same cost;
 * - at most MAX_RUNNING checks run at once and MAX_WAITING wait; beyond that the request is answered 429 without
 *   hashing anything, so a flood of guesses costs the guesser retries and the server a bounded slice of CPU.
 */
import { hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Handler } from '../http/contract.js';
import type { RequestContext } from '../http/context.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BasicAuthConfig } from '../config/schema-middlewares.js';
import { MIDDLEWARE_DEFAULTS } from '../config/option-defaults.js';
import type { Wrapper } from '../http/middlewares.js';
import { isAcmeChallenge } from './acme-path.js';
import { middlewareConfigError } from './config-error.js';
import { HtpasswdError, decoyCheck, highestBcryptCost, parseHtpasswd, parseLine, type HtpasswdUsers, type PasswordCheck } from './htpasswd.js';
import { removeRequestHeader } from './request-edits.js';

/** Remembered successes per middleware; the oldest is dropped past this. */
export const CACHE_MAX = 1024;
/** Slow checks handed to the bcrypt worker at once; it computes one at a time, so more would only add latency. */
export const MAX_RUNNING = 2;
/** Slow checks waiting for a slot; past this, 429. */
export const MAX_WAITING = 32;

const UNAUTHORIZED = Buffer.from('401 Unauthorized\n');
const BUSY = Buffer.from('Too Many Requests\n');

/** A bounded semaphore: `acquire` resolves with a release function, or returns undefined when the queue is full. */
export class CheckQueue {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly maxRunning: number,
    readonly maxWaiting: number,
  ) {}

  /** A promise of a slot, or undefined (refuse the work) when maxRunning run and maxWaiting wait already. */
  acquire(): Promise<() => void> | undefined {
    if (this.#running < this.maxRunning) {
      this.#running++;
      return Promise.resolve(this.#release);
    }
    if (this.#waiting.length >= this.maxWaiting) return undefined;
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#release)));
  }

  #release = (): void => {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  };
}

/** Compile the users of a basicAuth: inline lines win over the file's for the same name. Throws MIDDLEWARE_CONFIG. */
function compileUsers(spec: BasicAuthConfig, path: string): { users: HtpasswdUsers; lines: string[] } {
  const users: HtpasswdUsers = new Map();
  const lines: string[] = [];
  if (spec.usersFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(spec.usersFile, 'utf8');
    } catch (cause) {
      throw middlewareConfigError(`${path}/usersFile`, `cannot read usersFile "${spec.usersFile}": ${(cause as Error).message}`, cause);
    }
    try {
      parseHtpasswd(text, users);
    } catch (err) {
      if (!(err instanceof HtpasswdError)) throw err;
      throw middlewareConfigError(`${path}/usersFile`, `usersFile "${spec.usersFile}" line ${err.line}: ${err.message}`, err);
    }
    lines.push(...text.split(/\r?\n/));
  }
  (spec.users ?? []).forEach((line, i) => {
    try {
      users.set(...parseLine(line));
    } catch (err) {
      if (!(err instanceof HtpasswdError)) throw err;
      throw middlewareConfigError(`${path}/users/${i}`, err.message, err);
    }
    lines.push(line);
  });
  if (users.size === 0) throw middlewareConfigError(path, 'basicAuth needs at least one user (users or usersFile)');
  return { users, lines };
}

/** `user` and `password` of a Basic Authorization header, or undefined when it is not one (RFC 7617 §2). */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Build a basicAuth; throws MIDDLEWARE_CONFIG for an unreadable usersFile or a line with an unsupported hash. */
export function createBasicAuth(spec: BasicAuthConfig, path: string): Wrapper {
  const { users, lines } = compileUsers(spec, path);
  const decoy: PasswordCheck = decoyCheck(highestBcryptCost(lines));
  const challenge = `Basic realm="${(spec.realm ?? MIDDLEWARE_DEFAULTS.realm).replace(/["\\]/g, '\\$&')}"`;
  const removeHeader = spec.removeHeader ?? false;
  const cache = new Map<string, number>(); // sha256(header) → expiry (performance.now())
  const queue = new CheckQueue(MAX_RUNNING, MAX_WAITING);

  const verify = async (header: string): Promise<boolean | 'busy'> => {
    const creds = parseBasic(header);
    if (creds === undefined) return false;
    const check = users.get(creds.user) ?? decoy;
    if (!check.slow) return (await check.check(creds.password)) && users.has(creds.user);
    const slot = queue.acquire();
    if (slot === undefined) return 'busy';
    const release = await slot;
    try {
      return (await check.check(creds.password)) && users.has(creds.user);
    } finally {
      release();
    }
  };

  const pass = (next: Handler, req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    if (removeHeader) removeRequestHeader(req, 'authorization');
    return next(req, res, ctx);
  };

  const check = async (next: Handler, req: IncomingMessage, res: ServerResponse, ctx: RequestContext, header: string | undefined, key: string, expires: number | undefined) => {
    let ok = false;
    if (header !== undefined) {
      const outcome = await verify(header);
      if (outcome === 'busy') {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain; charset=utf-8', 'content-length': BUSY.length });
        res.end(BUSY);
        return;
      }
      ok = outcome;
      if (ok) {
        if (expires !== undefined) cache.delete(key);
        else if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
        cache.set(key, performance.now() + MIDDLEWARE_DEFAULTS.basicAuthCacheMs);
      }
    }
    if (!ok) {
      // RFC 9110 §11.6.1: a 401 carries the challenge that says how to authenticate.
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain; charset=utf-8', 'content-length': UNAUTHORIZED.length });
      res.end(UNAUTHORIZED);
      return;
    }
    return pass(next, req, res, ctx);
  };

  // A cached success (a logged-in browser's every request) stays synchronous: no promise, one one-shot hash.
  return (next) => (req, res, ctx) => {
    if (isAcmeChallenge(ctx.method, ctx.path)) return next(req, res, ctx);
    const header = req.headers.authorization;
    if (header === undefined) return check(next, req, res, ctx, undefined, '', undefined);
    const key = hash('sha256', header, 'base64');
    const expires = cache.get(key);
    if (expires !== undefined && expires > performance.now()) return pass(next, req, res, ctx);
    return check(next, req, res, ctx, header, key, expires);
  };
}
