/**
 * `headers`: custom request and response headers (an empty value removes), the usual security headers, and CORS
 * (cors.ts). Everything is turned into flat lists at load; per request the request edits run before `next` and
 * the response edits run in a head hook (response-hook.ts), so they win over what the upstream sent.
 */
import type { OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { HeadersConfig } from '../config/schema-middlewares.js';
import type { Wrapper } from '../http/middlewares.js';
import { compileCors } from './cors.js';
import { removeRequestHeader, setRequestHeader } from './request-edits.js';
import { beforeWriteHead } from './response-hook.js';

/** Response edits: headers to set (name, value) and names to remove; `replaced` = every name either touches. */
interface ResponseEdits {
  readonly set: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
  readonly replaced: ReadonlySet<string>;
}

const applyEdits = (res: ServerResponse, edits: ResponseEdits): void => {
  for (const name of edits.remove) res.removeHeader(name);
  for (const [name, value] of edits.set) res.setHeader(name, value);
};

/**
 * The same edits on the forwarder's flat header array: drop the names we replace or remove, append ours. Names set
 * earlier through setHeader are removed too (Node merges those into the head as well).
 */
const applyFlatEdits = (res: ServerResponse, headers: OutgoingHttpHeader[], edits: ResponseEdits): OutgoingHttpHeader[] => {
  for (const name of edits.replaced) res.removeHeader(name);
  const out: OutgoingHttpHeader[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!edits.replaced.has(String(headers[i]).toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  for (const [name, value] of edits.set) out.push(name, value);
  return out;
};

function responseEdits(set: readonly (readonly [string, string])[], remove: readonly string[]): ResponseEdits {
  return { set, remove, replaced: new Set([...set.map(([n]) => n.toLowerCase()), ...remove.map((n) => n.toLowerCase())]) };
}

/** The security headers a config asks for, as (name, value); Strict-Transport-Security separately (HTTPS only). */
function securityHeaders(spec: HeadersConfig): { always: [string, string][]; sts: string | undefined } {
  const always: [string, string][] = [];
  const frame = spec.customFrameOptionsValue ?? (spec.frameDeny ? 'DENY' : undefined);
  if (frame !== undefined) always.push(['X-Frame-Options', frame]);
  if (spec.contentTypeNosniff) always.push(['X-Content-Type-Options', 'nosniff']);
  if (spec.browserXssFilter) always.push(['X-XSS-Protection', '1; mode=block']);
  if (spec.referrerPolicy !== undefined) always.push(['Referrer-Policy', spec.referrerPolicy]);
  if (spec.contentSecurityPolicy !== undefined) always.push(['Content-Security-Policy', spec.contentSecurityPolicy]);
  if (spec.permissionsPolicy !== undefined) always.push(['Permissions-Policy', spec.permissionsPolicy]);
  let sts: string | undefined;
  if ((spec.stsSeconds ?? 0) > 0) {
    // RFC 6797 §6.1: max-age, then the optional directives.
    sts = `max-age=${spec.stsSeconds}`;
    if (spec.stsIncludeSubdomains) sts += '; includeSubDomains';
    if (spec.stsPreload) sts += '; preload';
  }
  return { always, sts };
}

/** Build a headers middleware. Never throws: the schema already checked names and values. */
export function createHeaders(spec: HeadersConfig, _path: string): Wrapper {
  const reqSet: [string, string][] = [];
  const reqRemove: string[] = [];
  for (const [name, value] of Object.entries(spec.customRequestHeaders ?? {})) {
    if (value === '') reqRemove.push(name.toLowerCase());
    else reqSet.push([name, value]);
  }
  const custom: [string, string][] = [];
  const remove: string[] = [];
  for (const [name, value] of Object.entries(spec.customResponseHeaders ?? {})) {
    if (value === '') remove.push(name);
    else custom.push([name, value]);
  }
  const { always, sts } = securityHeaders(spec);
  // RFC 6797 §7.2: a host must not send STS over plain HTTP; forceSTSHeader is for TLS ended in front of us.
  const onHttps = responseEdits([...always, ...(sts ? [['Strict-Transport-Security', sts] as [string, string]] : []), ...custom], remove);
  const onHttp = spec.forceSTSHeader ? onHttps : responseEdits([...always, ...custom], remove);
  const hasResponseEdits = onHttps.set.length + onHttps.remove.length > 0;
  const cors = compileCors(spec);

  return (next) => (req, res, ctx) => {
    for (const name of reqRemove) removeRequestHeader(req, name);
    for (const [name, value] of reqSet) setRequestHeader(req, ctx, name, value);
    if (cors !== undefined && cors.handle(req, res)) return;
    if (hasResponseEdits) beforeWriteHead(res, applyEdits, ctx.scheme === 'https' ? onHttps : onHttp, applyFlatEdits);
    return next(req, res, ctx);
  };
}
