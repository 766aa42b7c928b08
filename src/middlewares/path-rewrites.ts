/**
 * The path rewrites, as Traefik's: `stripPrefix`, `stripPrefixRegex`, `addPrefix`, `replacePath`,
 * `replacePathRegex`. They work on the raw (undecoded) path and keep the query. The upstream learns what was
 * removed from X-Forwarded-Prefix (so an app can build its own URLs) and the original path from X-Replaced-Path.
 */
import type {
  AddPrefixConfig,
  ReplacePathConfig,
  ReplacePathRegexConfig,
  StripPrefixConfig,
  StripPrefixRegexConfig,
} from '../config/schema-middlewares.js';
import type { Wrapper } from '../http/middlewares.js';
import { compileRegex, goReplacement } from './config-error.js';
import { ensureLeadingSlash, setRequestHeader, setRequestPath } from './request-edits.js';
import { pathToWire } from '../http/request-path.js';

/** Build a stripPrefix: the first prefix the path starts with is removed. */
export function createStripPrefix(spec: StripPrefixConfig, _path: string): Wrapper {
  const prefixes = [...spec.prefixes];
  return (next) => (req, res, ctx) => {
    const p = ctx.path;
    for (const prefix of prefixes) {
      if (!p.startsWith(prefix)) continue;
      setRequestHeader(req, ctx, 'X-Forwarded-Prefix', pathToWire(prefix));
      setRequestPath(req, ctx, ensureLeadingSlash(p.slice(prefix.length)));
      break;
    }
    return next(req, res, ctx);
  };
}

/** Build a stripPrefixRegex: the first regex that matches at the start of the path has its match removed. */
export function createStripPrefixRegex(spec: StripPrefixRegexConfig, path: string): Wrapper {
  // Anchored: a prefix is at the start, whatever the user wrote.
  const regexes = spec.regex.map((r, i) => compileRegex(r.startsWith('^') ? r : `^(?:${r})`, `${path}/regex/${i}`));
  return (next) => (req, res, ctx) => {
    const p = ctx.path;
    for (const re of regexes) {
      const m = re.exec(p);
      if (m === null || m[0] === '') continue;
      setRequestHeader(req, ctx, 'X-Forwarded-Prefix', pathToWire(m[0]));
      setRequestPath(req, ctx, ensureLeadingSlash(p.slice(m[0].length)));
      break;
    }
    return next(req, res, ctx);
  };
}

/** Build an addPrefix. */
export function createAddPrefix(spec: AddPrefixConfig, _path: string): Wrapper {
  const prefix = spec.prefix;
  return (next) => (req, res, ctx) => {
    setRequestPath(req, ctx, prefix + ctx.path);
    return next(req, res, ctx);
  };
}

/** Build a replacePath. */
export function createReplacePath(spec: ReplacePathConfig, _path: string): Wrapper {
  const target = spec.path;
  return (next) => (req, res, ctx) => {
    setRequestHeader(req, ctx, 'X-Replaced-Path', pathToWire(ctx.path));
    setRequestPath(req, ctx, target);
    return next(req, res, ctx);
  };
}

/** Build a replacePathRegex; a path the regex does not match is left alone. */
export function createReplacePathRegex(spec: ReplacePathRegexConfig, path: string): Wrapper {
  const test = compileRegex(spec.regex, `${path}/regex`);
  const all = new RegExp(test.source, 'g');
  const replacement = goReplacement(spec.replacement);
  return (next) => (req, res, ctx) => {
    const p = ctx.path;
    if (test.test(p)) {
      setRequestHeader(req, ctx, 'X-Replaced-Path', pathToWire(p));
      setRequestPath(req, ctx, ensureLeadingSlash(p.replace(all, replacement)));
    }
    return next(req, res, ctx);
  };
}
