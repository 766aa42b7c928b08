/**
 * Changing the response head before it is written. Handlers write heads in different ways: the forwarder calls
 * `res.writeHead(status, reason, flatArray)`, others `setHeader` then `end` (an implicit writeHead). Node turns
 * both into one `writeHead` call, so a middleware registers a hook on the response, and one shared replacement of
 * `writeHead` folds the given headers into the response's header map, runs the hooks, and writes the head.
 * Requests no hook is registered on keep Node's writeHead untouched.
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Runs just before the head is written; reads and edits `res` through getHeader/setHeader/removeHeader/statusCode. */
export type HeadHook<T> = (res: ServerResponse, data: T) => void;

/**
 * The same edit made on the flat `[name, value, …]` array the forwarder passes to writeHead, returning the array to
 * write. When every hook of a response has one, the head is edited in place of going through Node's header map
 * (one setHeader per upstream header, then a rebuild): the headers middleware's cost in the chain benchmark.
 */
export type FlatHeadHook<T> = (res: ServerResponse, headers: OutgoingHttpHeader[], data: T) => OutgoingHttpHeader[];

interface HookState {
  original: ServerResponse['writeHead'];
  hooks: unknown[]; // [hook, data, flat, hook, data, flat, …]
  allFlat: boolean;
}

const STATE = Symbol('gatehouse.headHooks');
type Hooked = ServerResponse & { [STATE]?: HookState };

/** Run `hook(res, data)` once, just before `res`'s head is written. Hooks run in the order they were added. */
export function beforeWriteHead<T>(res: ServerResponse, hook: HeadHook<T>, data: T, flat?: FlatHeadHook<T>): void {
  const r = res as Hooked;
  let state = r[STATE];
  if (state === undefined) {
    state = { original: res.writeHead, hooks: [], allFlat: true };
    r[STATE] = state;
    res.writeHead = hookedWriteHead as ServerResponse['writeHead'];
  }
  state.hooks.push(hook, data, flat);
  if (flat === undefined) state.allFlat = false;
}

function hookedWriteHead(
  this: Hooked,
  status: number,
  reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[],
): ServerResponse {
  const state = this[STATE]!;
  this.writeHead = state.original; // hooks run once, and a second writeHead (an error) goes to Node as is
  this[STATE] = undefined;
  const reason = typeof reasonOrHeaders === 'string' ? reasonOrHeaders : undefined;
  const headers = typeof reasonOrHeaders === 'string' ? maybeHeaders : reasonOrHeaders;
  const hooks = state.hooks;
  if (state.allFlat && Array.isArray(headers)) {
    let flat = headers;
    for (let i = 0; i < hooks.length; i += 3) flat = (hooks[i + 2] as FlatHeadHook<unknown>)(this, flat, hooks[i + 1]);
    const write = state.original as (this: ServerResponse, status: number, reason: string | undefined, headers: OutgoingHttpHeader[]) => ServerResponse;
    return write.call(this, status, reason, flat);
  }
  if (headers !== undefined) mergeHeaders(this, headers);
  this.statusCode = status;
  for (let i = 0; i < hooks.length; i += 3) (hooks[i] as HeadHook<unknown>)(this, hooks[i + 1]);
  const write = state.original as (this: ServerResponse, status: number, reason?: string) => ServerResponse;
  // A hook that changed the status (buffering's 500) must not keep the upstream's reason phrase ("500 OK").
  return reason === undefined || this.statusCode !== status ? write.call(this, this.statusCode) : write.call(this, this.statusCode, reason);
}

/** What Node does with writeHead's headers when setHeader was used: given names replace, repeats in an array stay. */
function mergeHeaders(res: ServerResponse, headers: OutgoingHttpHeaders | OutgoingHttpHeader[]): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
    for (let i = 0; i < headers.length; i += 2) res.appendHeader(String(headers[i]), headers[i + 1] as string | string[]);
    return;
  }
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v !== undefined) res.setHeader(name, v);
  }
}
