/**
 * acme-client's errors, wrapped once. acme-client keeps only the `detail` of a CA's problem document (RFC 8555
 * §6.7) and drops its `type` and the `Retry-After` header; an interceptor on its module-wide axios instance records
 * the last problem of each ACME operation (async-local, so concurrent orders do not mix), and `wrapAcmeError`
 * turns the plain Error into a GatehouseError carrying the problem.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as acme from 'acme-client';
import { GatehouseError, type ErrorCode } from '../errors.js';

/** A CA's problem document (RFC 8555 §6.7) with the response's Retry-After, in ms since the epoch. */
export interface AcmeProblem {
  readonly type: string;
  readonly detail: string;
  readonly status: number;
  readonly retryAt?: number;
}

/** A GatehouseError from an ACME operation; `problem` is the CA's answer when there was one. */
export class AcmeError extends GatehouseError {
  readonly problem: AcmeProblem | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; problem?: AcmeProblem } = {}) {
    super(code, message, { cause: options.cause });
    this.problem = options.problem;
  }

  /** RFC 8555 §6.7: the CA's rate limit; never retried before its Retry-After. */
  get rateLimited(): boolean {
    return this.problem?.type === 'urn:ietf:params:acme:error:rateLimited' || this.problem?.status === 429;
  }

  /** The CA no longer knows the account (RFC 8555 §7.3.1; a Pebble restart): register again. */
  get accountGone(): boolean {
    return this.problem?.type === 'urn:ietf:params:acme:error:accountDoesNotExist' || /account .* not found/i.test(this.problem?.detail ?? this.message);
  }
}

interface Scope {
  last: AcmeProblem | undefined;
}

const scope = new AsyncLocalStorage<Scope>();
let installed = false;

interface ProblemResponse {
  status?: number;
  data?: { type?: unknown; detail?: unknown };
  headers?: Record<string, unknown>;
}

/** Installs the recording interceptor once per process (acme-client has one axios instance for all clients). */
export function installProblemRecorder(axios: typeof acme.axios): void {
  if (installed) return;
  installed = true;
  const record = (resp: ProblemResponse | undefined) => {
    const s = scope.getStore();
    if (!s || !resp || (resp.status ?? 0) < 400) return;
    const retryAfter = parseRetryAfter(resp.headers?.['retry-after']);
    s.last = {
      type: typeof resp.data?.type === 'string' ? resp.data.type : '',
      detail: typeof resp.data?.detail === 'string' ? resp.data.detail : '',
      status: resp.status ?? 0,
      ...(retryAfter !== undefined ? { retryAt: retryAfter } : {}),
    };
  };
  axios.interceptors.response.use(
    (resp) => {
      record(resp as ProblemResponse);
      return resp;
    },
    (err: { response?: ProblemResponse }) => {
      record(err?.response);
      return Promise.reject(err);
    },
  );
}

/** Runs one ACME operation with its own problem record; a failure is rethrown wrapped by `wrap`. */
export async function withProblems<T>(fn: () => Promise<T>, wrap: (err: unknown, problem: AcmeProblem | undefined) => AcmeError): Promise<T> {
  const s: Scope = { last: undefined };
  try {
    return await scope.run(s, fn);
  } catch (err) {
    if (err instanceof AcmeError) throw err;
    throw wrap(err, s.last);
  }
}

/** RFC 9110 §10.2.3: seconds or an HTTP date. */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return now + Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** The readable message of a wrapped error: the CA's problem when known, acme-client's text otherwise. */
export function problemText(err: unknown, problem: AcmeProblem | undefined): string {
  if (problem) return `${problem.type.replace('urn:ietf:params:acme:error:', '') || `HTTP ${problem.status}`}: ${problem.detail || (err as Error).message}`;
  return err instanceof Error ? err.message : String(err);
}
