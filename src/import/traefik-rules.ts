/**
 * Traefik router rules → gatehouse rules. gatehouse speaks Traefik v3's rule language, so a v3 rule carries over
 * as written; a v2 rule is rewritten where v3 changed the language (Traefik's v2→v3 migration guide, "Router
 * rule matchers"): `Headers` → `Header`, `HostHeader` → `Host`, `Query(`k=v`)` → `Query(`k`, `v`)`, several
 * arguments → one call per argument joined by `||`, and `{name:regex}` placeholders in HostRegexp, Path and
 * PathPrefix (gorilla/mux templates) → anchored regular expressions. Each result is compiled with the rule
 * compiler the proxy uses, so a rule that would not load is refused here, with the compiler's message.
 */
import { compileHttpRule, compileSniRule, parseRule, type RuleNode } from '../rules/index.js';
import { GatehouseError } from '../errors.js';

type Call = Extract<RuleNode, { type: 'call' }>;

/** The converted rule, or why it could not be converted. */
export type RuleResult = { rule: string } | { error: string };

/** v2 matchers renamed in v3, by lower-case name. */
const RENAMED: Readonly<Record<string, string>> = {
  headers: 'Header',
  headersregexp: 'HeaderRegexp',
  hostheader: 'Host',
};

/** Matchers whose v2 form took several arguments meaning "any of them" and whose v3 form takes one. */
const ONE_ARG_IN_V3 = new Set(['host', 'path', 'pathprefix', 'method', 'clientip', 'hostsni', 'hostregexp']);

/** A `{name}` or `{name:regex}` placeholder of a gorilla/mux template starts here (not a `{3}` quantifier). */
const PLACEHOLDER_START = /\{[A-Za-z_][A-Za-z0-9_]*[:}]/;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A gorilla/mux template (`{sub:[a-z]+}.example.com`, `/api/{id}`) as a regular expression body (no anchors).
 * Braces inside a placeholder's regex nest (`{n:[0-9]{3}}`), as mux counts them.
 */
export function templateToRegExp(template: string, defaultPattern: string): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open === -1 || !PLACEHOLDER_START.test(template.slice(open))) {
      const end = open === -1 ? template.length : open + 1;
      out += escapeRegExp(template.slice(i, end));
      i = end;
      continue;
    }
    out += escapeRegExp(template.slice(i, open));
    let depth = 0;
    let close = -1;
    for (let j = open; j < template.length; j++) {
      if (template[j] === '{') depth++;
      else if (template[j] === '}' && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close === -1) throw new Error(`unbalanced braces in "${template}"`);
    const inner = template.slice(open + 1, close);
    const colon = inner.indexOf(':');
    const pattern = colon === -1 ? defaultPattern : inner.slice(colon + 1);
    // A group only where an alternation would otherwise reach past the placeholder.
    out += pattern.includes('|') ? `(?:${pattern})` : pattern;
    i = close + 1;
  }
  return out;
}

const hasPlaceholder = (s: string): boolean => PLACEHOLDER_START.test(s);

const call = (name: string, args: string[], column: number): Call => ({ type: 'call', name, args, column });

function joinAll(nodes: RuleNode[], type: 'and' | 'or'): RuleNode {
  return nodes.reduce((left, right) => ({ type, left, right }));
}

/** Whether the rule uses anything only v2 has, so literal HostRegexp arguments are v2 templates too. */
function looksLikeV2(calls: Call[]): boolean {
  return calls.some((c) => {
    const n = c.name.toLowerCase();
    if (n in RENAMED) return true;
    if ((n === 'hostregexp' || n === 'path' || n === 'pathprefix') && c.args.some(hasPlaceholder)) return true;
    if (n === 'hostregexp' && c.args.length > 1) return true;
    return n === 'query' && c.args.some((a) => a.includes('='));
  });
}

function rewriteCall(c: Call, v2: boolean): RuleNode {
  const lower = c.name.toLowerCase();
  const name = RENAMED[lower] ?? c.name;
  const n = name.toLowerCase();
  if (n === 'query' && v2) {
    // v2 Query takes `key=value` pairs that must all be present (mux Queries); v3 takes one key and value.
    const parts = c.args.map((a) => {
      const eq = a.indexOf('=');
      return call('Query', eq === -1 ? [a] : [a.slice(0, eq), a.slice(eq + 1)], c.column);
    });
    return joinAll(parts, 'and');
  }
  if (ONE_ARG_IN_V3.has(n) && c.args.length > 1) return joinAll(c.args.map((a) => rewriteCall(call(name, [a], c.column), v2)), 'or');
  const arg = c.args[0];
  if (n === 'hostregexp' && arg !== undefined && (v2 || hasPlaceholder(arg))) {
    return call('HostRegexp', [`^${templateToRegExp(arg, '[^.]+')}$`], c.column);
  }
  if ((n === 'path' || n === 'pathprefix') && arg !== undefined && hasPlaceholder(arg)) {
    const body = templateToRegExp(arg, '[^/]+');
    return call('PathRegexp', [n === 'path' ? `^${body}$` : `^${body}`], c.column);
  }
  return name === c.name ? c : call(name, c.args, c.column);
}

function rewrite(node: RuleNode, v2: boolean): RuleNode {
  if (node.type === 'call') return rewriteCall(node, v2);
  if (node.type === 'not') return { type: 'not', operand: rewrite(node.operand, v2) };
  return { type: node.type, left: rewrite(node.left, v2), right: rewrite(node.right, v2) };
}

function quote(arg: string): string {
  if (!arg.includes('`')) return `\`${arg}\``;
  return `"${arg.replace(/[\\"]/g, '\\$&')}"`;
}

const PRECEDENCE = { or: 1, and: 2, not: 3, call: 4 } as const;

/** Rule text of a tree, with parentheses only where precedence needs them. */
export function printRule(node: RuleNode, parent = 0): string {
  let text: string;
  if (node.type === 'call') return `${node.name}(${node.args.map(quote).join(', ')})`;
  if (node.type === 'not') text = `!${printRule(node.operand, PRECEDENCE.not)}`;
  else {
    const p = PRECEDENCE[node.type];
    text = `${printRule(node.left, p)} ${node.type === 'and' ? '&&' : '||'} ${printRule(node.right, p)}`;
  }
  return PRECEDENCE[node.type] < parent ? `(${text})` : text;
}

function message(err: unknown): string {
  return err instanceof GatehouseError || err instanceof Error ? err.message : String(err);
}

function convert(rule: string, syntax: string | undefined, compile: (text: string) => unknown): RuleResult {
  let tree: RuleNode;
  try {
    tree = parseRule(rule);
  } catch (err) {
    return { error: `rule does not parse: ${message(err)}` };
  }
  let out = rule;
  try {
    const calls: Call[] = [];
    const collect = (n: RuleNode): void => {
      if (n.type === 'call') calls.push(n);
      else if (n.type === 'not') collect(n.operand);
      else (collect(n.left), collect(n.right));
    };
    collect(tree);
    const v2 = syntax === 'v2' || (syntax !== 'v3' && looksLikeV2(calls));
    const rewritten = rewrite(tree, v2);
    // Untouched rules keep their text exactly as the operator wrote it.
    if (printRule(rewritten) !== printRule(tree)) out = printRule(rewritten);
  } catch (err) {
    return { error: `rule cannot be converted from Traefik v2: ${message(err)}` };
  }
  try {
    compile(out);
  } catch (err) {
    return { error: `rule is not valid in gatehouse: ${message(err)}${out !== rule ? ` (converted to ${out})` : ''}` };
  }
  return { rule: out };
}

/** An HTTP router's rule; `syntax` is the router's `ruleSyntax` (or the static `core.defaultRuleSyntax`). */
export function convertHttpRule(rule: string, syntax?: string): RuleResult {
  return convert(rule, syntax, compileHttpRule);
}

/** A TCP router's rule (HostSNI, HostSNIRegexp, ALPN, ClientIP). */
export function convertTcpRule(rule: string, syntax?: string): RuleResult {
  return convert(rule, syntax, compileSniRule);
}
