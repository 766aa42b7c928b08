/**
 * Reading a Traefik file-provider setup from disk: the static file, and the dynamic files it names
 * (`providers.file.filename` / `.directory`, relative to the static file) or that are given explicitly. YAML or
 * TOML by extension, parsed by `yaml` and `smol-toml`; a parse error names the file, line and column.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parse as parseToml, TomlError } from 'smol-toml';
import { isPlain } from './traefik-node.js';
import { DYNAMIC_SECTIONS } from './traefik-static.js';
import type { DynamicSource } from './traefik.js';

/** A Traefik file that cannot be read or parsed; the message starts with `file[:line:column]`. */
export class TraefikReadError extends Error {
  constructor(
    readonly file: string,
    reason: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}:${column ?? 1}` : ''}: ${reason}`);
    this.name = 'TraefikReadError';
  }
}

const YAML_EXTENSIONS = new Set(['.yml', '.yaml']);
const isTraefikFile = (file: string): boolean => YAML_EXTENSIONS.has(extname(file).toLowerCase()) || extname(file).toLowerCase() === '.toml';

/** Parses one file by its extension. An empty file is an empty config, as Traefik reads it. */
export function readTraefikFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TraefikReadError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  if (YAML_EXTENSIONS.has(ext)) {
    // prettyErrors computes the line and column of each error (and appends them to the message, removed here).
    const doc = parseDocument(text, { prettyErrors: true, merge: true });
    const first = doc.errors[0];
    if (first) {
      const pos = first.linePos?.[0];
      const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new TraefikReadError(file, `YAML: ${message}`, pos?.line, pos?.col);
    }
    return doc.toJS({ maxAliasCount: 100 }) ?? {};
  }
  if (ext === '.toml') {
    try {
      return parseToml(text);
    } catch (err) {
      if (err instanceof TomlError) throw new TraefikReadError(file, `TOML: ${err.message.split('\n')[0]}`, err.line, err.column);
      throw err;
    }
  }
  throw new TraefikReadError(file, 'unknown file type: expected .yml, .yaml or .toml');
}

/** Every YAML/TOML file under `dir`, sorted, subdirectories included (Traefik's directory provider walks them too). */
function filesUnder(dir: string, depth = 0): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new TraefikReadError(dir, `cannot read directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    // Bounded: a symlink loop must not recurse forever.
    if (statSync(path).isDirectory()) {
      if (depth < 16) out.push(...filesUnder(path, depth + 1));
    } else if (isTraefikFile(name)) out.push(path);
  }
  return out;
}

function readPath(path: string): DynamicSource[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new TraefikReadError(path, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return (isDir ? filesUnder(path) : [path]).map((file) => ({ file, value: readTraefikFile(file) }));
}

/** The dynamic paths the static config's file provider names, resolved against the static file's directory. */
export function providerPaths(staticValue: unknown, staticFile: string): string[] {
  if (!isPlain(staticValue)) return [];
  const find = (o: unknown, key: string): unknown =>
    isPlain(o) ? Object.entries(o).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1] : undefined;
  const file = find(find(staticValue, 'providers'), 'file');
  const base = dirname(staticFile);
  return ['filename', 'directory'].map((k) => find(file, k)).filter((p): p is string => typeof p === 'string').map((p) => resolve(base, p));
}

/**
 * The static config and the dynamic sources: `dynamicPaths` when given, else what the file provider names. A static
 * file that holds dynamic sections itself (one-file setups) is a dynamic source too, read once.
 */
export function readTraefikConfig(staticFile: string, dynamicPaths: readonly string[] = []): { staticValue: unknown; sources: DynamicSource[] } {
  const staticValue = readTraefikFile(staticFile);
  const paths = dynamicPaths.length > 0 ? dynamicPaths.map((p) => resolve(p)) : providerPaths(staticValue, staticFile);
  const sources: DynamicSource[] = [];
  const self = resolve(staticFile);
  if (isPlain(staticValue) && Object.keys(staticValue).some((k) => (DYNAMIC_SECTIONS as readonly string[]).includes(k))) {
    const value = Object.fromEntries(Object.entries(staticValue).filter(([k]) => (DYNAMIC_SECTIONS as readonly string[]).includes(k)));
    sources.push({ file: staticFile, value });
  }
  for (const path of paths) {
    // A one-file setup often names itself by its path inside the container (/etc/traefik/traefik.yml).
    if (resolve(path) === self || (dynamicPaths.length === 0 && !existsSync(path) && basename(path) === basename(self))) continue;
    for (const source of readPath(path)) if (resolve(source.file) !== self) sources.push(source);
  }
  return { staticValue, sources };
}
