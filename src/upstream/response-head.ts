/**
 * How an upstream response's head and trailers reach the client's response: a head held back until the body starts
 * (so a 502 stays possible, and a gRPC trailers-only response keeps its one HEADERS frame), and trailers relayed in
 * the form each of Node's response kinds takes.
 */
import { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** An upstream response head not yet handed to the client's response (see ResponseRelay.onHeaders). */
export interface PendingHead {
  readonly status: number;
  readonly statusText: string | undefined;
  readonly headers: string[];
}

/** Write a held head. */
export function sendHead(res: ServerResponse, head: PendingHead): void {
  res.writeHead(head.status, head.statusText, head.headers);
}

/** Whether flat response headers carry `grpc-status` (HTTP/2 clients only: the HTTP/1.1 path never asks). */
export function hasGrpcStatus(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 11 && name.toLowerCase() === 'grpc-status') return true;
  }
  return false;
}

/** End an HTTP/2 response whose head was held: Node's compatibility response sends it with END_STREAM from end(). */
export function endWithHead(res: ServerResponse, head: PendingHead): void {
  res.statusCode = head.status;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) res.appendHeader(h[i] as string, h[i + 1] as string);
  res.end();
}

/**
 * Relay an upstream's trailers. An HTTP/2 client gets them as a trailing HEADERS frame (RFC 9113 §8.1), an HTTP/1.1
 * one in the last chunk (RFC 9112 §7.1.2): Node sends them only on a chunked response and drops them otherwise (a
 * Content-Length response, an HTTP/1.0 client), as RFC 9110 §6.5.1 lets a recipient do. Node's HTTP/2 response takes
 * an object, its HTTP/1.1 one pairs. A field Node refuses is dropped with a debug line; the response still ends.
 */
export function addTrailers(res: ServerResponse, pairs: [string, string][], log: Logger): void {
  try {
    if (res instanceof ServerResponse) {
      res.addTrailers(pairs);
      return;
    }
    const fields: Record<string, string | string[]> = {};
    for (const [name, value] of pairs) {
      const key = name.toLowerCase();
      const prior = fields[key];
      fields[key] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
    (res as unknown as { addTrailers(fields: Record<string, string | string[]>): void }).addTrailers(fields);
  } catch (err) {
    log.debug({ reason: (err as Error).message }, 'upstream trailers not relayed');
  }
}
