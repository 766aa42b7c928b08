/**
 * A stand-in in front of Pebble, for what Pebble cannot be made to do (a rate limit on demand; later ARI): an HTTPS
 * server with Pebble's own certificate that forwards every request to Pebble unchanged, Host header included (Pebble
 * builds its URLs and checks each JWS `url` from it, RFC 8555 §6.4), unless `intercept` answers it first.
 */
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Pebble } from './pebble.js';

/** An answer given instead of Pebble's. */
export interface FrontAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The running stand-in. */
export interface AcmeFront {
  readonly directoryUrl: string;
  /** Requests seen, as `METHOD path`. */
  readonly seen: string[];
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1; `intercept` may answer a request (it sees method and path) instead of Pebble. */
export async function startAcmeFront(pebble: Pebble, intercept: (method: string, path: string) => FrontAnswer | undefined): Promise<AcmeFront> {
  const target = new URL(pebble.directoryUrl);
  const seen: string[] = [];
  const server: Server = createServer({ cert: pebble.apiCertPem, key: pebble.apiKeyPem }, (req: IncomingMessage, res) => {
    const path = req.url ?? '/';
    seen.push(`${req.method} ${path}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = intercept(req.method ?? 'GET', path);
      if (answer) {
        res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      const up = request({ host: target.hostname, port: target.port, method: req.method, path, headers: req.headers, ca: pebble.apiCertPem, agent: false, timeout: 5_000 }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('timeout', () => up.destroy(new Error('timeout')));
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    directoryUrl: `https://127.0.0.1:${port}${target.pathname}`,
    seen,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
