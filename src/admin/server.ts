/**
 * The admin entry point's HTTP server: `/` (status page), `/api/status` (JSON), `/metrics` (Prometheus). Its own
 * listener, never one of the proxy's entry points, so no router can shadow it and no admin path is reachable from
 * the proxied side. Basic auth, when configured, is the basicAuth middleware itself (same hashes, bcrypt worker,
 * bounded queue), wrapped around every path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { AdminConfig } from '../config/index.js';
import { ADMIN_DEFAULT_ADDRESS } from '../config/option-defaults.js';
import { bind, boundAddress } from '../edge/bind.js';
import type { Handler } from '../http/contract.js';
import { createContext, type EntryPointInfo } from '../http/context.js';
import type { Logger } from '../log.js';
import type { AdminMetrics } from './metrics.js';
import { renderStatusPage } from './page.js';
import { ADMIN_NAME, adminAddress, adminAuth } from './check.js';
import type { AdminStatus } from './snapshot.js';

/** The name the admin listener goes by in errors and logs. */
export { ADMIN_NAME } from './check.js';
/** The realm of the 401 challenge unless the config names one. */

/** No script, no external resource: what the page needs and nothing more, so an unescaped value could not run. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** A bound admin listener. */
export interface AdminServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

/** What the server reads per request. */
export interface AdminServing {
  status(): AdminStatus;
  readonly metrics: AdminMetrics;
}

/** Bind the admin entry point. Rejects with LISTEN_FAILED; throws CONFIG_SCHEMA for a bad address, MIDDLEWARE_CONFIG for a basicAuth line it cannot use. */
export async function listenAdmin(spec: AdminConfig, serving: AdminServing, log: Logger): Promise<AdminServer> {
  const text = spec.address ?? ADMIN_DEFAULT_ADDRESS;
  const address = adminAddress(text);
  const route: Handler = (req, res) => answer(req, res, serving, log);
  const handler = adminAuth(spec)?.(route) ?? route;
  const entry: EntryPointInfo = { name: ADMIN_NAME, scheme: 'http', trusts: () => false };
  const server: Server = createServer((req, res) => {
    const ctx = createContext(req, entry, log, performance.now());
    Promise.resolve(handler(req, res, ctx)).catch((err: unknown) => {
      log.error({ err, path: ctx.path }, 'admin request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Internal Server Error\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await bind(server, address, ADMIN_NAME, text);
  server.on('error', (err) => log.error({ err }, 'admin entry point error'));
  return {
    address: () => boundAddress(server),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, serving: AdminServing, log: Logger): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }, 'method not allowed\n', method);
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/':
      return send(res, 200, PAGE_HEADERS, renderStatusPage(serving.status()), method);
    case '/api/status':
      return send(res, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, `${JSON.stringify(serving.status(), null, 2)}\n`, method);
    case '/metrics':
      return send(res, 200, { 'content-type': serving.metrics.registry.contentType, 'cache-control': 'no-store' }, await serving.metrics.text(), method);
    default:
      log.debug({ path }, 'admin path not found');
      return send(res, 404, { 'content-type': 'text/plain; charset=utf-8' }, 'not found: try /, /api/status or /metrics\n', method);
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string, method: string): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, { ...headers, 'content-length': bytes.length });
  res.end(method === 'HEAD' ? undefined : bytes);
}
