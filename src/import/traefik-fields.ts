/**
 * Copying a Traefik object's options onto a gatehouse object by a field table: most of Traefik's option names are
 * gatehouse's too (the schema was shaped after them), so a table row per option is all a kind needs. Options not in
 * the table are left unread, and the node then reports them as dropped.
 */
import { isPlain, type Plain, type TraefikNode } from './traefik-node.js';

/** How one option is read: its type, and optionally another gatehouse name. */
export type FieldType = 'str' | 'bool' | 'int' | 'strings' | 'map';
export type FieldSpec = FieldType | { type: FieldType; to: string };

/** A string → string map (header maps); a non-string value is dropped with the map's path. */
function readMap(node: TraefikNode, name: string): Record<string, string> | undefined {
  const v = node.get(name);
  if (v === undefined || v === null) return undefined;
  if (!isPlain(v)) {
    node.drops.add(node.at(name), 'expected a map of strings');
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value === 'string') out[k] = value;
    else node.drops.add(`${node.at(name)}.${k}`, 'expected a string');
  }
  return out;
}

/** Reads each field of `spec` present on `node` into `target`, under its gatehouse name. */
export function copyFields(node: TraefikNode, spec: Readonly<Record<string, FieldSpec>>, target: Plain = {}): Plain {
  for (const [name, field] of Object.entries(spec)) {
    if (!node.has(name)) continue;
    const type = typeof field === 'string' ? field : field.type;
    const to = typeof field === 'string' ? name : field.to;
    const value =
      type === 'str' ? node.str(name)
      : type === 'bool' ? node.bool(name)
      : type === 'int' ? node.int(name)
      : type === 'strings' ? node.strings(name)
      : readMap(node, name);
    if (value !== undefined) target[to] = value;
  }
  return target;
}
