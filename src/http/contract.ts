/**
 * The contract every request handler and middleware follows, built-in or registered through the library API.
 * A middleware is created once per config (compile time) around the handler that comes after it, and at request
 * time only runs: `create(options, next)` returns a Handler that calls `next` or answers itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from './context.js';

/**
 * Answers one request. It must end `res` (or hand it to `next`). It may return a promise; a rejection is logged
 * and answered 500 if nothing was sent yet. Policy decisions are status codes, not throws.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void | Promise<void>;

/** Builds a middleware from its config options around `next`. Throwing here disables the routers that use it. */
export type MiddlewareFactory = (options: unknown, next: Handler) => Handler;

/** Builds a handler (a service) from its config options. Throwing here disables the routers that use it. */
export type HandlerFactory = (options: unknown) => Handler;

/** Custom pieces registered by name through the library API and referenced from the config's `plugin` sections. */
export interface Plugins {
  handlers?: Readonly<Record<string, HandlerFactory>>;
  middlewares?: Readonly<Record<string, MiddlewareFactory>>;
}
