/**
 * Numbers and booleans from environment variables: `"port": "${HTTPS_PORT:-443}"` substitutes a string, but the
 * schema wants an integer. Where a value came from substitution and the schema asks for a number, an integer or a
 * boolean at that place, a string that spells one exactly becomes it. Strings the user wrote as strings stay
 * strings (the schema then says what it expected), and so does every substituted string where a string belongs.
 */

interface SchemaNode {
  type?: string;
  anyOf?: SchemaNode[];
  const?: unknown;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
}

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** A copy of `value` with substituted scalar strings turned into the number or boolean the schema asks for. */
export function coerceSubstituted(value: unknown, raw: unknown, schema: object): unknown {
  return walk(value, raw, schema as SchemaNode);
}

function walk(value: unknown, raw: unknown, node: SchemaNode | undefined): unknown {
  if (node === undefined) return value;
  if (typeof value === 'string') return typeof raw === 'string' && raw.includes('${') ? coerce(value, wanted(node)) : value;
  if (Array.isArray(value)) {
    return value.map((v, i) => walk(v, Array.isArray(raw) ? raw[i] : undefined, node.items));
  }
  if (value !== null && typeof value === 'object') {
    const rawObj = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      Object.defineProperty(out, key, {
        value: walk(child, rawObj[key], childSchema(node, key)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

function childSchema(node: SchemaNode, key: string): SchemaNode | undefined {
  const direct = node.properties?.[key];
  if (direct) return direct;
  const pattern = Object.values(node.patternProperties ?? {})[0];
  if (pattern) return pattern;
  return typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
}

/**
 * The scalar kind a schema node asks for: its type, or the common type of an enum of constants. A union with an
 * object form (`log.accessLog`: a boolean or an object) asks for its scalar kind: a substituted string is never the object.
 */
function wanted(node: SchemaNode): string | undefined {
  if (node.type) return node.type;
  const kinds = new Set((node.anyOf ?? []).map((n) => n.type ?? typeof n.const).filter((k) => k !== 'object' && k !== 'array'));
  return kinds.size === 1 ? [...kinds][0] : undefined;
}

function coerce(text: string, type: string | undefined): unknown {
  if ((type === 'integer' || type === 'number') && NUMBER.test(text)) return Number(text);
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}
