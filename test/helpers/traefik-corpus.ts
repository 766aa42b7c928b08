/**
 * The Traefik conformance corpus, test/fixtures/traefik-conformance/*.json (facts from Traefik's own test tables and
 * docs, with the Traefik commit they were read at), read once for test/integration/traefik-conformance*.test.ts,
 * with what gatehouse is expected to do for each case.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface HttpRequest {
  method: string;
  host: string;
  path: string;
  query: string;
  headers?: Record<string, string[]>;
  clientIp?: string;
}
export interface Connection {
  sni: string;
  alpn: string[];
  clientIp: string;
}
export interface Router {
  name: string;
  rule: string;
  priority?: number;
}
export type Outcome = 'match' | 'no-match' | 'parse-error' | { router: string } | { priority: number } | { terminate: true };
/** One case; `difference` marks a documented, deliberate difference (see `gatehouse`), `gap` one not fixed yet. */
export interface Case {
  id: string;
  file: string;
  kind: 'http' | 'http-raw' | 'http-priority' | 'priority' | 'tcp' | 'tcp-priority' | 'tls-order';
  source: string;
  rule?: string;
  router?: 'http' | 'tcp';
  routers?: Router[];
  tcpRouters?: Router[];
  httpRouters?: Router[];
  request?: HttpRequest;
  raw?: string;
  connection?: Connection;
  expect: Outcome;
  difference?: string;
  gap?: string;
  gatehouse?: { request?: HttpRequest; connection?: Connection; expect: Outcome; wire?: boolean };
}

const DIR = new URL('../fixtures/traefik-conformance/', import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
/** Every case of every corpus file, in file order. */
export const CASES: Case[] = FILES.flatMap((f) => {
  const doc = JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as { traefik: { commit: string }; cases: Omit<Case, 'file'>[] };
  return doc.cases.map((c) => ({ ...c, file: f }));
});


/** What gatehouse does for a case: Traefik's outcome, or the documented one for a listed difference. */
export function effective(c: Case): { request?: HttpRequest; connection?: Connection; expect: Outcome; wire: boolean } {
  const g = c.gatehouse;
  return {
    ...(g?.request ?? c.request ? { request: g?.request ?? c.request } : {}),
    ...(g?.connection ?? c.connection ? { connection: g?.connection ?? c.connection } : {}),
    expect: g?.expect ?? c.expect,
    wire: g?.wire ?? true,
  };
}

/** The test name of a case: id, source, and whether it is a difference or a gap. */
export const label = (c: Case): string => `${c.id}: ${c.source}${c.difference ? ' [difference]' : ''}${c.gap ? ' [gap]' : ''}`;
