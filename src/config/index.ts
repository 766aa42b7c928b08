/** The config's public face: its schema and types, its defaults, and the load pipeline. */
// Types only: the schema's TypeBox builders are for the generator (json-schema.ts), not for a running proxy.
export type * from './schema.js';
export { DEFAULTS } from './defaults.js';
export { parseDuration } from './duration.js';
export { loadConfigFile, parseConfigText, readConfigDraft, validateConfig } from './load.js';
export { configJsonSchema } from './validate.js';
