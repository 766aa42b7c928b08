/**
 * What `log.accessLog` asks of the access log, compiled once per config: on or off, the line's format (gatehouse's
 * JSON or Traefik's Common Log Format), the fields left out, and the logged headers shown as `[redacted]`.
 */

import type { ACCESS_LOG_DROPPABLE, Config } from '../config/index.js';

/** A field of the JSON access line that `fields.drop` may leave out (src/config/schema.ts lists them). */
export type DroppableField = (typeof ACCESS_LOG_DROPPABLE)[number];

/** The request headers the line carries, which `headers.redact` may hide. */
export const LOGGED_HEADERS = ['user-agent', 'referer'] as const;
export type LoggedHeader = (typeof LOGGED_HEADERS)[number];

/** The object form of `log.accessLog`, as the schema defines it. */
export type AccessLogConfig = Exclude<NonNullable<Config['log']>['accessLog'], boolean | undefined>;

/** Compiled settings; a new object per config, so a logger rebuilds its writer when the reference changes. */
export interface AccessLogSettings {
  readonly format: 'json' | 'common';
  readonly drop: ReadonlySet<DroppableField>;
  readonly redact: ReadonlySet<LoggedHeader>;
}

/** Every field, JSON: what `log.accessLog: true` means. */
export const DEFAULT_ACCESS_LOG: AccessLogSettings = { format: 'json', drop: new Set(), redact: new Set() };

/** `log.accessLog` compiled; false when off. Header names are matched without regard to case. */
export function accessLogSettings(value: boolean | AccessLogConfig | undefined): AccessLogSettings | false {
  if (value === false) return false;
  if (value === undefined || value === true) return DEFAULT_ACCESS_LOG;
  const redact = new Set<LoggedHeader>();
  for (const name of value.headers?.redact ?? []) {
    const lower = name.toLowerCase();
    if ((LOGGED_HEADERS as readonly string[]).includes(lower)) redact.add(lower as LoggedHeader);
  }
  return { format: value.format ?? 'json', drop: new Set(value.fields?.drop ?? []), redact };
}
