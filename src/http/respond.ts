/** The built-in `respond` handler: a fixed status, headers and body, prepared once at config load. */
import type { RespondConfig } from '../config/index.js';
import { DEFAULTS } from '../config/index.js';
import type { Handler } from './contract.js';

/** A handler answering every request with the configured response; body and headers are built once. */
export function createRespondHandler(spec: RespondConfig): Handler {
  const status = spec.status ?? DEFAULTS.respondStatus;
  const body = Buffer.from(spec.body ?? '', 'utf8');
  const headers: Record<string, string | number> = { ...(spec.headers ?? {}) };
  if (!hasHeader(headers, 'content-type') && body.length > 0) headers['content-type'] = 'text/plain; charset=utf-8';
  headers['content-length'] = body.length;
  return (_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

function hasHeader(headers: Record<string, unknown>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}
