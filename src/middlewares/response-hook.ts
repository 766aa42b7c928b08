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

interface HookState {
  original: ServerResponse['writeHead'];
  hooks: unknown[]; // [hook, data, hook, data, …]
}

const STATE = Symbol('gatehouse.headHooks');
type Hooked = ServerResponse & { [STATE]?: HookState };

/** Run `hook(res, data)` once, just before `res`'s head is written. Hooks run in the order they were added. */
export function beforeWriteHead<T>(res: ServerResponse, hook: HeadHook<T>, data: T): void {
  const r = res as Hooked;
  let state = r[STATE];
  if (state === undefined) {
    state = { original: res.writeHead, hooks: [] };
    r[STATE] = state;
    res.writeHead = hookedWriteHead as ServerResponse['writeHead'];
  }
  state.hooks.push(hook, data);
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
  if (headers !== undefined) mergeHeaders(this, headers);
  this.statusCode = status;
  const hooks = state.hooks;
  for (let i = 0; i < hooks.length; i += 2) (hooks[i] as HeadHook<unknown>)(this, hooks[i + 1]);
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
