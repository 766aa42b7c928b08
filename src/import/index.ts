/** The import folder's public face: Traefik file-provider configs read from disk and converted to gatehouse configs. */
export { convertTraefik, mergeDynamic, type DynamicSource, type TraefikImport } from './traefik.js';
export { readTraefikConfig, readTraefikFile, TraefikReadError } from './traefik-files.js';
export { convertHttpRule, convertTcpRule, printRule, templateToRegExp } from './traefik-rules.js';
export type { Dropped } from './traefik-node.js';
