/**
 * A real HTTP server on 127.0.0.1:0 with one middleware in front of a handler, for the middleware tables: the
 * request context is built exactly as an entry point builds it, so middlewares see what they see in production.
 * `closeMiddlewareServers()` (call it in afterEach/afterAll) closes every server started here.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createContext } from '../../src/http/context.js';
import type { Handler } from '../../src/http/contract.js';
import type { Wrapper } from '../../src/http/middlewares.js';
import { CountingResponse } from '../../src/http/counting-response.js';

const servers = new Set<Server>();
const silent = pino({ level: 'silent' });

export interface MiddlewareServer {
  readonly port: number;
  close(): Promise<void>;
}

/** What a handler behind the middleware saw, by default echoed as JSON. */
export const echoHandler: Handler = (req, res, ctx) => {
  const body = JSON.stringify({ url: req.url, path: ctx.path, headers: req.headers, rawHeaders: req.rawHeaders, trustForwarded: ctx.trustForwarded });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** Serve `wrap(handler)`; `trusted` makes every client a trusted proxy (forwardedHeaders.insecure), `scheme` fakes TLS. */
export async function startMiddlewareServer(
  wrap: Wrapper,
  handler: Handler = echoHandler,
  opts: { trusted?: boolean; scheme?: 'http' | 'https' } = {},
): Promise<MiddlewareServer> {
  const entry = { name: 'test', scheme: opts.scheme ?? 'http', trusts: () => opts.trusted ?? false } as const;
  const chain = wrap(handler);
  const server: Server = createServer({ ServerResponse: CountingResponse as unknown as typeof ServerResponse }, (req, res) => {
    const ctx = createContext(req, entry, silent, 0);
    Promise.resolve(chain(req, res, ctx)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  servers.delete(server);
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Close every server startMiddlewareServer opened. */
export async function closeMiddlewareServers(): Promise<void> {
  await Promise.all([...servers].map(closeServer));
}
