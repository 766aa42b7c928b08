/** The config's public face: its schema and types, its defaults, and the load pipeline. */
export * from './schema.js';
export { DEFAULTS } from './defaults.js';
export { parseDuration } from './duration.js';
export { loadConfigFile, parseConfigText, readConfigDraft, validateConfig } from './load.js';
export { configJsonSchema } from './validate.js';
