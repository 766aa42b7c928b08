/**
 * A cursor over one object of a parsed Traefik config that remembers which keys the converter read. Whatever it did
 * not read is reported as dropped when the object is done, so nothing in a Traefik file disappears silently: the
 * converter only has to name what it understands. Keys are looked up case-insensitively, as Traefik's own decoder
 * does for its file provider.
 */

/** One piece of the Traefik config that has no place in the gatehouse config, and why. */
export interface Dropped {
  /** Traefik path, dot-separated: `http.middlewares.x.plugin`. */
  path: string;
  reason: string;
}

/** The reason given for a key the converter does not know at all. */
export const NOT_SUPPORTED = 'not supported by gatehouse';

export type Plain = Record<string, unknown>;

export function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where the converter's findings go; shared by every node of one conversion. */
export class DropList {
  readonly items: Dropped[] = [];

  add(path: string, reason: string): void {
    this.items.push({ path, reason });
  }
}

export class TraefikNode {
  private readonly used = new Set<string>();

  constructor(
    readonly value: Plain,
    readonly path: string,
    readonly drops: DropList,
  ) {}

  /** The path of one of this node's keys. */
  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  /** The actual spelling of `name` among the keys (Traefik reads `entrypoints` as `entryPoints`). */
  private keyOf(name: string): string | undefined {
    if (name in this.value) return name;
    const lower = name.toLowerCase();
    return Object.keys(this.value).find((k) => k.toLowerCase() === lower);
  }

  has(name: string): boolean {
    return this.keyOf(name) !== undefined;
  }

  /** The raw value of `name`, marking it read. */
  get(name: string): unknown {
    const key = this.keyOf(name);
    if (key === undefined) return undefined;
    this.used.add(key);
    return this.value[key];
  }

  /** A string value; a value of another type is dropped with the reason. Numbers are accepted (TOML `port = 443`). */
  str(name: string): string | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.drops.add(this.at(name), 'expected a string');
    return undefined;
  }

  bool(name: string): boolean | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    this.drops.add(this.at(name), 'expected true or false');
    return undefined;
  }

  /** An integer (TOML gives bigint for large ones; YAML may give a numeric string). */
  int(name: string): number | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n)) return n;
    this.drops.add(this.at(name), 'expected an integer');
    return undefined;
  }

  /** A list of strings; a single string counts as a list of one (Traefik accepts `entryPoints: web` too). */
  strings(name: string): string[] | undefined {
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    this.drops.add(this.at(name), 'expected a list of strings');
    return undefined;
  }

  /** A nested object as a node; `true` and `{}` alike give an empty node (`tls: true` is common in the wild). */
  child(name: string): TraefikNode | undefined {
    const key = this.keyOf(name);
    const v = this.get(name);
    if (v === undefined || v === null) return undefined;
    if (v === true) return new TraefikNode({}, this.at(key!), this.drops);
    if (!isPlain(v)) {
      this.drops.add(this.at(key!), 'expected an object');
      return undefined;
    }
    return new TraefikNode(v, this.at(key!), this.drops);
  }

  /** The list of objects under `name`, each as a node (`servers[0]`). */
  children(name: string): TraefikNode[] {
    const key = this.keyOf(name);
    const v = this.get(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.drops.add(this.at(key!), 'expected a list');
      return [];
    }
    const out: TraefikNode[] = [];
    v.forEach((item, i) => {
      if (isPlain(item)) out.push(new TraefikNode(item, `${this.at(key!)}[${i}]`, this.drops));
      else this.drops.add(`${this.at(key!)}[${i}]`, 'expected an object');
    });
    return out;
  }

  /** The named entries of a map (`routers`, `services`), each as a node. */
  entries(name: string): [string, TraefikNode][] {
    const node = this.child(name);
    if (!node) return [];
    const out: [string, TraefikNode][] = [];
    for (const key of Object.keys(node.value)) {
      const c = node.child(key);
      if (c) out.push([key, c]);
    }
    return out;
  }

  /** Marks `name` read and records it as dropped, if present. */
  drop(name: string, reason: string): void {
    const key = this.keyOf(name);
    if (key === undefined) return;
    this.used.add(key);
    this.drops.add(this.at(key), reason);
  }

  /** Marks `name` read without a note: for keys whose meaning gatehouse already has by default. */
  ignore(name: string): void {
    const key = this.keyOf(name);
    if (key !== undefined) this.used.add(key);
  }

  /** Records every key not read as dropped; call once the node's known keys were taken. */
  done(reason = NOT_SUPPORTED): void {
    for (const key of Object.keys(this.value)) if (!this.used.has(key)) this.drops.add(this.at(key), reason);
  }
}
