/**
 * The header-count limit of an entry point: a request with more header lines than `maxHeaderCount` is answered 431
 * (RFC 6585 §5) before any router sees it. A flood of small headers fits under `maxHeaderSize` yet costs every
 * middleware and the upstream a pass over each line; HAProxy and Apache refuse past about 100.
 *
 * Node's own knobs do not refuse: the http server's `maxHeadersCount` drops the lines past it on Node 20 (a dropped
 * Authorization or X-Forwarded-For changes what the request means), and HTTP/2's `maxHeaderListPairs` resets the
 * stream without an answer. So Node's limits are set a little past the entry point's (limitParsedHeaders,
 * h2HeaderPairs), which only ever drops lines of a request refused here anyway, and the count is made here.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from '../http/dispatch.js';
import type { Logger } from '../log.js';
import { clientErrorLog } from './client-error-log.js';
import type { EntryPointSettings } from './entry-point.js';

const BODY = 'Request Header Fields Too Large: too many header lines\n';

/**
 * The header lines of a request as the limit counts them. HTTP/2 splits Cookie into crumbs, one field per cookie
 * (RFC 9113 §8.2.3), where HTTP/1.1 sends one line (RFC 6265 §5.4): the crumbs count as one line, so a browser
 * with many cookies is not refused over HTTP/2 only. (H2Request's rawHeaders hold no pseudo-headers.)
 */
export function headerLineCount(req: IncomingMessage): number {
  const raw = req.rawHeaders;
  let count = 0;
  let cookies = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 6 && name.toLowerCase() === 'cookie') cookies++;
    else count++;
  }
  return count + (cookies > 0 ? 1 : 0);
}

/**
 * How many header pairs Node's HTTP/2 session keeps before it resets a stream (`maxHeaderListPairs`): room for the
 * pseudo-headers and Cookie crumbs past the limit, so a request just over it gets its 431.
 */
export function h2HeaderPairs(maxHeaderCount: number): number {
  return 2 * maxHeaderCount + 8;
}

/**
 * Let Node's HTTP/1.1 parser stop a header flood early: one line past the limit, so a request with maxHeaderCount + 1
 * lines still reaches the count here (431, TOO_MANY_HEADERS, with its count). Past that, Node acts per version:
 * Node 20 keeps every raw line (rawHeaders, so the count here is exact) but builds the `headers` object of the first
 * ones only; Node 22 and later (llhttp) fail the parse with HPE_HEADER_OVERFLOW, which the entry point answers 431
 * too (http-entry.ts), logged with that code since Node does not say whether the count or the size overflowed.
 * Keeping every line (0, before) let a 1000-line head cost ~0.5 ms: Node builds a headers object of every line before
 * any handler runs (`npm run hostile`'s headers row: 2.1x the floods refused per second on Node 20, 3.7x on Node 24).
 */
export function limitParsedHeaders(server: Server, maxHeaderCount: number): void {
  server.maxHeadersCount = maxHeaderCount + 1;
}

/** A dispatcher that answers 431 to a request over the entry point's header-count limit, and passes the rest on. */
export function refuseHeaderFloods(dispatcher: Dispatcher, settings: EntryPointSettings, log: Logger): Dispatcher {
  const max = settings.maxHeaderCount;
  const entryPoint = settings.name;
  const logError = clientErrorLog(log, entryPoint);
  const refused = (req: IncomingMessage, count: number): void => {
    logError('TOO_MANY_HEADERS', { clientIp: req.socket?.remoteAddress, headerCount: count, maxHeaderCount: max });
  };
  return {
    onRequest(req: IncomingMessage, res: ServerResponse) {
      const count = headerLineCount(req);
      if (count <= max) return dispatcher.onRequest(req, res);
      refused(req, count);
      // The request's body is not read: the connection closes after the answer rather than parse what follows.
      res.shouldKeepAlive = false;
      res.writeHead(431, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    },
    onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      const count = headerLineCount(req);
      if (count <= max) return dispatcher.onUpgrade(req, socket, head);
      refused(req, count);
      socket.on('error', () => socket.destroy());
      socket.end(`HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nConnection: close\r\n\r\n${BODY}`);
    },
  };
}
