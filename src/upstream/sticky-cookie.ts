/**
 * Sticky sessions by cookie: the cookie holds a server's id (a hash, not its address); a request that brings it
 * goes to that server while it is usable. The Set-Cookie line of each server is built once, at config load.
 */
import type { UpstreamServer } from './upstream-server.js';

/** Cookie settings, already defaulted. */
export interface StickyCookieOptions {
  name: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite?: 'none' | 'lax' | 'strict';
  /** Seconds; absent = a session cookie. */
  maxAge?: number;
  path: string;
}

const SAME_SITE = { none: 'None', lax: 'Lax', strict: 'Strict' } as const;

/** Maps cookie values to servers and servers to their Set-Cookie value. */
export class StickyCookie {
  readonly #needle: string;
  readonly #byId = new Map<string, UpstreamServer>();
  readonly #setCookie: string[];

  constructor(options: StickyCookieOptions, servers: readonly UpstreamServer[]) {
    this.#needle = `${options.name}=`;
    // RFC 6265 §4.1.1: attributes after the name=value pair, separated by "; ".
    let attributes = `; Path=${options.path}`;
    if (options.maxAge !== undefined) attributes += `; Max-Age=${options.maxAge}`;
    if (options.secure) attributes += '; Secure';
    if (options.httpOnly) attributes += '; HttpOnly';
    if (options.sameSite !== undefined) attributes += `; SameSite=${SAME_SITE[options.sameSite]}`;
    this.#setCookie = servers.map((s) => `${options.name}=${s.id}${attributes}`);
    // The same URL listed twice (a crude weight) has one id; the first entry answers for it.
    for (const s of servers) if (!this.#byId.has(s.id)) this.#byId.set(s.id, s);
  }

  /** The server the request's cookie names, or undefined (no cookie, or an id no server of this config has). */
  pinned(rawHeaders: readonly string[]): UpstreamServer | undefined {
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] as string;
      if (name.length !== 6 || name.toLowerCase() !== 'cookie') continue;
      const value = cookieValue(rawHeaders[i + 1] as string, this.#needle);
      if (value !== undefined) return this.#byId.get(value);
    }
    return undefined;
  }

  /** The Set-Cookie value that pins a client to `server`. */
  setCookie(server: UpstreamServer): string {
    return this.#setCookie[server.index] as string;
  }
}

/**
 * The value of the cookie `needle` (`name=`) in a Cookie header (RFC 6265 §5.4: pairs joined by "; "), without
 * splitting the header: a match must start the header or follow a `;` and optional spaces.
 */
export function cookieValue(header: string, needle: string): string | undefined {
  let from = 0;
  for (;;) {
    const at = header.indexOf(needle, from);
    if (at === -1) return undefined;
    let j = at - 1;
    while (j >= 0 && (header.charCodeAt(j) === 0x20 || header.charCodeAt(j) === 0x09)) j--;
    if (j < 0 || header.charCodeAt(j) === 0x3b) {
      const start = at + needle.length;
      const end = header.indexOf(';', start);
      return (end === -1 ? header.slice(start) : header.slice(start, end)).trim();
    }
    from = at + 1;
  }
}
