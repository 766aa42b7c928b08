/**
 * The explaining evaluator behind `gatehouse explain`: walks a rule's tree and evaluates every matcher call with the
 * same table the router compiles (each call node compiled by compileTree, so no matcher is written twice), keeping
 * each part's result. Unlike the request-time predicate it does not short-circuit: an operator asking why a router
 * missed wants every part that failed, not the first. Offline only; nothing here runs per request.
 */
import type { RuleNode } from './ast.js';
import { compileTree, type MatcherTable } from './compile.js';
import type { HttpMatchInput } from './http-matchers.js';
import type { SniMatchInput } from './sni-matchers.js';

/** One part of a rule and whether it held; `and`/`or` chains are flattened (`a && b && c` has three parts). */
export type RuleTrace =
  | { readonly type: 'call'; readonly text: string; readonly column: number; readonly matched: boolean; readonly reads: string }
  | { readonly type: 'and' | 'or'; readonly text: string; readonly matched: boolean; readonly parts: readonly RuleTrace[] }
  | { readonly type: 'not'; readonly text: string; readonly matched: boolean; readonly operand: RuleTrace };

/** What a matcher call read from the input, in words (`host "a.example"`), for the explanation of a call. */
export type InputDescriber<I> = (name: string, args: readonly string[], input: I) => string;

/**
 * Evaluates `node` against `input` with `table`, every part of it. Throws what compiling would throw (an unknown
 * matcher, a bad argument): explain a rule only after the router compiled it.
 */
export function explainRule<I>(node: RuleNode, table: MatcherTable<I>, input: I, describe: InputDescriber<I>): RuleTrace {
  switch (node.type) {
    case 'call': {
      const matched = compileTree(node, table)(input);
      return { type: 'call', text: ruleText(node), column: node.column, matched, reads: describe(node.name, node.args, input) };
    }
    case 'not': {
      const operand = explainRule(node.operand, table, input, describe);
      return { type: 'not', text: ruleText(node), matched: !operand.matched, operand };
    }
    case 'and':
    case 'or': {
      const parts = chain(node, node.type).map((n) => explainRule(n, table, input, describe));
      const matched = node.type === 'and' ? parts.every((p) => p.matched) : parts.some((p) => p.matched);
      return { type: node.type, text: ruleText(node), matched, parts };
    }
  }
}

/** The parts that made a failed rule fail, innermost first-level reasons, e.g. `Path(\`/api\`): path "/x"`. */
export function failedParts(trace: RuleTrace): string[] {
  if (trace.matched) return [];
  switch (trace.type) {
    case 'call':
      return [`${trace.text}: ${trace.reads}`];
    case 'not':
      return [`${trace.text}: the negated part matched (${matchedParts(trace.operand).join('; ')})`];
    case 'and':
    case 'or':
      return trace.parts.flatMap(failedParts);
  }
}

/** The parts that made a matching rule match: every part of an `&&`, the alternatives of an `||` that held. */
export function matchedParts(trace: RuleTrace): string[] {
  if (!trace.matched) return [];
  switch (trace.type) {
    case 'call':
      return [`${trace.text}: ${trace.reads}`];
    case 'not':
      return [`${trace.text}: the negated part did not match (${failedParts(trace.operand).join('; ')})`];
    case 'and':
    case 'or':
      return trace.parts.flatMap(matchedParts);
  }
}

/** The operands of a run of the same operator, left to right. */
function chain(node: RuleNode, type: 'and' | 'or'): RuleNode[] {
  if (node.type !== type) return [node];
  return [...chain(node.left, type), ...chain(node.right, type)];
}

/** A tree written back as rule text (backticks, or double quotes when an argument holds a backtick). */
export function ruleText(node: RuleNode): string {
  switch (node.type) {
    case 'call':
      return `${node.name}(${node.args.map(quote).join(', ')})`;
    case 'not':
      return `!${grouped(node.operand, 'not')}`;
    case 'and':
    case 'or':
      return chain(node, node.type)
        .map((n) => grouped(n, node.type))
        .join(node.type === 'and' ? ' && ' : ' || ');
  }
}

/** `||` inside `&&`, and any operator under `!`, need parentheses to read back as the same tree. */
function grouped(node: RuleNode, parent: 'and' | 'or' | 'not'): string {
  const text = ruleText(node);
  if (node.type === 'call' || node.type === 'not' || node.type === parent) return text;
  if (parent === 'or' && node.type === 'and') return text;
  return `(${text})`;
}

function quote(arg: string): string {
  return arg.includes('`') ? `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"` : `\`${arg}\``;
}

const show = (value: string): string => JSON.stringify(value);

/** What each HTTP matcher reads, named as an operator would look for it in the request. */
export const describeHttpInput: InputDescriber<HttpMatchInput> = (name, args, input) => {
  const lower = name.toLowerCase();
  if (lower === 'host' || lower === 'hostregexp') return input.host === '' ? 'no host' : `host ${show(input.host)}`;
  if (lower.startsWith('path')) return `path ${show(input.path)}`;
  if (lower === 'method') return `method ${input.method}`;
  if (lower === 'clientip') return `client IP ${input.clientIp}`;
  if (lower.startsWith('query')) return input.query === '' ? 'no query' : `query ${show(input.query)}`;
  if (lower.startsWith('header')) {
    const header = args[0] ?? '';
    const value = input.headers[header.toLowerCase()];
    return value === undefined ? `no ${header} header` : `${header} ${show(Array.isArray(value) ? value.join(', ') : value)}`;
  }
  return 'request';
};

/** What each SNI matcher reads from the ClientHello. */
export const describeSniInput: InputDescriber<SniMatchInput> = (name, _args, input) => {
  const lower = name.toLowerCase();
  if (lower.startsWith('hostsni')) return input.sni === '' ? 'no SNI' : `SNI ${show(input.sni)}`;
  if (lower === 'alpn') return input.alpn.length === 0 ? 'no ALPN offered' : `ALPN offered: ${input.alpn.join(', ')}`;
  if (lower === 'clientip') return `client IP ${input.clientIp}`;
  return 'ClientHello';
};
