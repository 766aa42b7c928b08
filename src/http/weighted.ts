/**
 * Weighted services (Traefik's `weighted`): requests spread over other services by weight, for canary releases and
 * blue/green switches. The picking is smooth weighted round robin, as nginx does it, so a 90/10 canary sees its
 * tenth spread evenly rather than in bursts. With a sticky cookie a client keeps the service it got first; the
 * cookie holds a hash of the service name, and its Set-Cookie line per child is built once, here.
 */
import type { ServerResponse } from 'node:http';
import { beforeWriteHead } from '../middlewares/response-hook.js';
import { serverId, type StickyCookieOptions } from '../upstream/index.js';
import { cookieValue } from '../upstream/sticky-cookie.js';
import type { Handler } from './contract.js';

/** One service of a weighted service, already built. */
export interface WeightedChild {
  readonly name: string;
  /** 0 = gets no new clients (a pinned client is re-pinned elsewhere). */
  readonly weight: number;
  readonly handler: Handler;
}

interface Slot {
  readonly handler: Handler;
  readonly weight: number;
  /** The cookie value naming this child, and the whole Set-Cookie line that pins a client to it. */
  readonly id: string;
  readonly setCookie: string;
  current: number;
}

const SAME_SITE = { none: 'None', lax: 'Lax', strict: 'Strict' } as const;

/** The Set-Cookie value for `value` under `options` (RFC 6265 §4.1.1: attributes after the pair, "; "-separated). */
export function stickyCookieLine(options: StickyCookieOptions, value: string): string {
  let line = `${options.name}=${value}; Path=${options.path}`;
  if (options.maxAge !== undefined) line += `; Max-Age=${options.maxAge}`;
  if (options.secure) line += '; Secure';
  if (options.httpOnly) line += '; HttpOnly';
  if (options.sameSite !== undefined) line += `; SameSite=${SAME_SITE[options.sameSite]}`;
  return line;
}

/** Smooth weighted round robin over the slots; a weight-0 slot never wins. Never undefined while one weight > 0. */
function pick(slots: readonly Slot[]): Slot {
  let best: Slot | undefined;
  let total = 0;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.weight === 0) continue;
    s.current += s.weight;
    total += s.weight;
    if (best === undefined || s.current > best.current) best = s;
  }
  best!.current -= total;
  return best!;
}

const appendSetCookie = (res: ServerResponse, line: string): void => {
  res.appendHeader('set-cookie', line);
};

/**
 * Build the handler of a weighted service. Throws a TypeError when no child has a weight above 0 (the caller
 * records it against the service). Each request costs one O(children) pick, plus a Cookie scan when sticky.
 */
export function createWeighted(children: readonly WeightedChild[], sticky: StickyCookieOptions | undefined): Handler {
  if (!children.some((c) => c.weight > 0)) throw new TypeError('no service of a weighted service has a weight above 0');
  const slots: Slot[] = children.map((c) => {
    const id = serverId(c.name);
    return { handler: c.handler, weight: c.weight, id, setCookie: sticky ? stickyCookieLine(sticky, id) : '', current: 0 };
  });
  if (sticky === undefined) {
    return (req, res, ctx) => pick(slots).handler(req, res, ctx);
  }
  const needle = `${sticky.name}=`;
  const byId = new Map<string, Slot>();
  for (const s of slots) if (s.weight > 0) byId.set(s.id, s);
  return (req, res, ctx) => {
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length !== 6 || name.toLowerCase() !== 'cookie') continue;
      const value = cookieValue(raw[i + 1]!, needle);
      const pinned = value === undefined ? undefined : byId.get(value);
      if (pinned !== undefined) return pinned.handler(req, res, ctx);
    }
    const slot = pick(slots);
    // An upgrade's response is written by the child on the raw socket: there is no head of ours to add a cookie to.
    if (ctx.upgrade === undefined) beforeWriteHead(res, appendSetCookie, slot.setCookie);
    return slot.handler(req, res, ctx);
  };
}
