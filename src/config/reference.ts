/**
 * docs/config.md, generated from the JSON Schema: every field with its type, default and description, so the
 * written reference can never drift from what the loader accepts (STYLE 2). `npm run schema` writes it; a test
 * fails when the committed file is out of date.
 */
type Node = {
  type?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  anyOf?: Node[];
  properties?: Record<string, Node>;
  patternProperties?: Record<string, Node>;
  items?: Node;
  required?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
};

/** The Markdown reference of a config JSON Schema. */
export function configReference(schema: Record<string, unknown>): string {
  const rows: string[] = [];
  walk(schema as Node, '', true, rows);
  return [
    '# Config reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run schema`; do not edit by hand. -->',
    '',
    String((schema as Node).description ?? ''),
    '',
    '`<name>` stands for a name you choose (letters, digits, `_ . @ -`). Durations are like `500ms`, `10s`, `2m`, `1h`; `0` turns a timeout off.',
    '',
    '| Field | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function walk(node: Node, path: string, required: boolean, rows: string[]): void {
  if (path !== '') {
    const def = node.default === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(node.default)}\``;
    rows.push(`| \`${path}\` | ${typeOf(node)} | ${def} | ${escape(node.description ?? '')} |`);
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (key === '$schema' && path === '') continue;
    walk(child, path ? `${path}.${key}` : key, node.required?.includes(key) ?? false, rows);
  }
  for (const child of Object.values(node.patternProperties ?? {})) walk(child, `${path}.<name>`, false, rows);
  if (node.items?.properties) walk(node.items, `${path}[]`, false, rows);
}

function typeOf(node: Node): string {
  if (node.anyOf) return node.anyOf.map((n) => (n.const !== undefined ? `\`${JSON.stringify(n.const)}\`` : typeOf(n))).join(' \\| ');
  if (node.type === 'array') return `${node.items ? typeOf(node.items) : 'any'}[]`;
  if (node.type === 'string' && node.pattern?.includes('ms|s|m|h')) return 'duration';
  if (node.patternProperties) return 'map';
  if (node.type === 'integer' && (node.minimum !== undefined || node.maximum !== undefined)) {
    return `integer ${node.minimum ?? ''}–${node.maximum ?? ''}`;
  }
  return node.type ?? 'any';
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
