/**
 * The access line in Traefik's Common Log Format (`log.accessLog.format: common`), for tools that read Traefik's or
 * nginx's access logs (GoAccess, fail2ban filters):
 *
 *   <client> - - [<time>] "<method> <path>?<query> HTTP/<version>" <status> <bytes> "<referer>" "<user agent>"
 *   <requests so far> "<router>" "<upstream>" <duration>ms
 *
 * on one line, `-` for what a request has not (Traefik's own columns, doc.traefik.io "Access Logs"; CLF is NCSA's).
 * `fields.drop` and `headers.redact` do not apply: the columns are fixed. The time is UTC.
 */
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RequestContext } from './context.js';
import type { CountingResponse } from './counting-response.js';
import { pathToWire } from './request-path.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Printable ASCII except quote and backslash: written as it is between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A value inside a quoted column: quotes, backslashes and control characters escaped as JSON escapes them. */
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"';
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The writer of CLF lines to `stream`; counts the requests it logged, as Traefik's column does. */
export function commonWriter(stream: { write(line: string): unknown }): (res: ServerResponse, ctx: RequestContext) => void {
  let count = 0;
  let lastSecond = -1;
  let stamp = '';
  return (res, ctx) => {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      const d = new Date(second * 1000);
      stamp = `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`;
    }
    count++;
    // The request line as a client sends it: the path encoded again (ctx.path is the routing form, which may hold a
    // decoded space), so a CLF parser that splits the request on spaces reads it right.
    const wire = pathToWire(ctx.path);
    const target = ctx.query === '' ? wire : `${wire}?${ctx.query}`;
    const version = res.req?.httpVersion ?? '1.1';
    const bytes = ctx.method === 'HEAD' ? 0 : ((res as CountingResponse).bodyBytes ?? 0);
    stream.write(
      `${ctx.clientIp || '-'} - - ${stamp} ${quoted(`${ctx.method} ${target} HTTP/${version}`)} ${res.statusCode} ${bytes} ${quoted(ctx.headers.referer)} ${quoted(ctx.headers['user-agent'])} ${count} ${quoted(ctx.router)} ${quoted(ctx.upstream)} ${Math.round(performance.now() - ctx.start)}ms\n`,
    );
  };
}
