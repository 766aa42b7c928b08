/**
 * Turns a parsed rule into one predicate, given a table of matchers. The table is the only thing that knows
 * what a matcher means, so HTTP routers and (later) TCP/SNI routers share the parser and this compiler.
 */
import { GatehouseError } from '../errors.js';
import type { RuleNode } from './ast.js';
import { parseRule } from './parse.js';
import { suggestClosest } from '../suggest.js';

/** Where a matcher sits in its rule, for error messages a builder throws. */
export interface MatcherSite {
  /** The canonical name from the table (a rule may spell it `host` or `HOST`, as Traefik allows). */
  name: string;
  column: number;
}

/** One row of a matcher table: how many arguments the matcher takes and how to build its predicate. */
export interface MatcherSpec<I> {
  minArgs: number;
  /** `Infinity` for "any number", e.g. `Host(a, b)` meaning either host. */
  maxArgs: number;
  /** Runs once at compile time; throws via `matcherError` on a bad argument; returns the request-time test. */
  build(args: readonly string[], site: MatcherSite): (input: I) => boolean;
}

/** A matcher table: canonical name → spec. Adding a matcher is adding a row. */
export type MatcherTable<I> = Readonly<Record<string, MatcherSpec<I>>>;

/** A `RULE_MATCHER` error located at the matcher's column; builders throw it for bad arguments. */
export function matcherError(message: string, site: MatcherSite): GatehouseError {
  return new GatehouseError('RULE_MATCHER', message, { location: { column: site.column } });
}

/**
 * Traefik registers each matcher as written, lower-case, upper-case and capitalised (`PathPrefix`,
 * `pathprefix`, `PATHPREFIX`, `Pathprefix`); accepting the same spellings lets rules move over unchanged.
 */
function spellings(name: string): string[] {
  const lower = name.toLowerCase();
  return [name, lower, name.toUpperCase(), lower.charAt(0).toUpperCase() + lower.slice(1)];
}

const lookups = new WeakMap<object, Map<string, string>>();

function lookupFor(table: MatcherTable<unknown>): Map<string, string> {
  let map = lookups.get(table);
  if (!map) {
    map = new Map();
    for (const name of Object.keys(table)) for (const s of spellings(name)) map.set(s, name);
    lookups.set(table, map);
  }
  return map;
}

function plural(n: number): string {
  return n === 1 ? '1 argument' : `${n} arguments`;
}

function arityMessage(spec: MatcherSpec<unknown>, name: string, got: number, column: number): string | undefined {
  if (got >= spec.minArgs && got <= spec.maxArgs) return undefined;
  let expects: string;
  if (spec.minArgs === spec.maxArgs) expects = plural(spec.minArgs);
  else if (spec.maxArgs === Infinity) expects = `at least ${plural(spec.minArgs)}`;
  else if (got < spec.minArgs) expects = `at least ${plural(spec.minArgs)}`;
  else expects = `at most ${plural(spec.maxArgs)}`;
  return `${name} expects ${expects}, got ${got} (column ${column})`;
}

function compileCall<I>(node: Extract<RuleNode, { type: 'call' }>, table: MatcherTable<I>): (input: I) => boolean {
  const lookup = lookupFor(table as MatcherTable<unknown>);
  const name = lookup.get(node.name);
  const spec = name === undefined ? undefined : table[name];
  const column = node.column;
  if (name === undefined || spec === undefined) {
    const guess = suggestClosest(node.name, Object.keys(table));
    const hint = guess === undefined ? `; known matchers: ${Object.keys(table).join(', ')}` : `; did you mean "${guess}"?`;
    throw new GatehouseError('RULE_MATCHER', `unknown matcher "${node.name}" at column ${column}${hint}`, {
      location: { column },
    });
  }
  const arity = arityMessage(spec as MatcherSpec<unknown>, name, node.args.length, column);
  if (arity !== undefined) throw new GatehouseError('RULE_MATCHER', arity, { location: { column } });
  const empty = node.args.indexOf('');
  if (empty !== -1) {
    // Traefik refuses an empty argument to every matcher before building it (pkg/rules/parser.go CheckRule,
    // called by both muxers' addRule): Header(`X`, ``), Query(`q`, ``), HostRegexp(``) and the rest.
    throw new GatehouseError('RULE_MATCHER', `${name} argument ${empty + 1} is empty (column ${column}); Traefik refuses empty arguments`, {
      location: { column },
    });
  }
  return spec.build(node.args, { name, column });
}

/** Compiles a tree into one predicate; nothing here runs per request except the closures it returns. */
export function compileTree<I>(node: RuleNode, table: MatcherTable<I>): (input: I) => boolean {
  switch (node.type) {
    case 'call':
      return compileCall(node, table);
    case 'not': {
      const operand = compileTree(node.operand, table);
      return (input) => !operand(input);
    }
    case 'and': {
      const left = compileTree(node.left, table);
      const right = compileTree(node.right, table);
      return (input) => left(input) && right(input);
    }
    case 'or': {
      const left = compileTree(node.left, table);
      const right = compileTree(node.right, table);
      return (input) => left(input) || right(input);
    }
  }
}

/**
 * Parses and compiles rule text against a matcher table; throws GatehouseError `RULE_SYNTAX` or
 * `RULE_MATCHER` with `location.column`. The returned predicate never throws for well-formed input.
 */
export function compileRule<I>(text: string, table: MatcherTable<I>): (input: I) => boolean {
  return compileTree(parseRule(text), table);
}
