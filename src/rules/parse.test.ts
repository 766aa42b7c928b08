import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.js';
import type { RuleNode } from './ast.js';
import { ruleCalls } from './ast.js';
import { parseRule } from './parse.js';

const call = (name: string, args: string[], column: number): RuleNode => ({ type: 'call', name, args, column });
const and = (left: RuleNode, right: RuleNode): RuleNode => ({ type: 'and', left, right });
const or = (left: RuleNode, right: RuleNode): RuleNode => ({ type: 'or', left, right });
const not = (operand: RuleNode): RuleNode => ({ type: 'not', operand });

describe('parseRule: tree shapes', () => {
  it.each<[string, string, RuleNode]>([
    ['one call, backticks', 'Host(`a.example`)', call('Host', ['a.example'], 1)],
    ['one call, double quotes', 'Host("a.example")', call('Host', ['a.example'], 1)],
    ['no arguments', 'Path()', call('Path', [], 1)],
    ['several arguments', 'Host(`a`, `b`,`c`)', call('Host', ['a', 'b', 'c'], 1)],
    ['mixed quote kinds', 'Header("X-A", `v`)', call('Header', ['X-A', 'v'], 1)],
    ['empty strings', 'Header(``, "")', call('Header', ['', ''], 1)],
    ['escaped quote and backslash', String.raw`Path("/a\"b\\c")`, call('Path', ['/a"b\\c'], 1)],
    ['backslashes are raw in backticks', 'PathRegexp(`^/\\d+\\.json$`)', call('PathRegexp', ['^/\\d+\\.json$'], 1)],
    ['double quote inside backticks', 'Path(`/"x"`)', call('Path', ['/"x"'], 1)],
    ['backtick inside double quotes', 'Path("/`x`")', call('Path', ['/`x`'], 1)],
    ['operators inside strings are text', 'Path(`/a&&b||!(c)`)', call('Path', ['/a&&b||!(c)'], 1)],
    ['whitespace anywhere', '  Host (\n`a` ,\t`b` )  ', call('Host', ['a', 'b'], 3)],
    ['name kept as written', 'pathprefix(`/`)', call('pathprefix', ['/'], 1)],
    ['and', 'Host(`a`) && Path(`/`)', and(call('Host', ['a'], 1), call('Path', ['/'], 14))],
    ['or', 'Host(`a`)||Path(`/`)', or(call('Host', ['a'], 1), call('Path', ['/'], 12))],
    ['not', '!Host(`a`)', not(call('Host', ['a'], 2))],
    ['double not', '!!Host(`a`)', not(not(call('Host', ['a'], 3)))],
    ['not with space', '! Host(`a`)', not(call('Host', ['a'], 3))],
    [
      '&& binds tighter than ||',
      'A(`1`) || B(`2`) && C(`3`)',
      or(call('A', ['1'], 1), and(call('B', ['2'], 11), call('C', ['3'], 21))),
    ],
    [
      '&& binds tighter than || (left side)',
      'A(`1`) && B(`2`) || C(`3`)',
      or(and(call('A', ['1'], 1), call('B', ['2'], 11)), call('C', ['3'], 21)),
    ],
    ['! binds tighter than &&', '!A(`1`) && B(`2`)', and(not(call('A', ['1'], 2)), call('B', ['2'], 12))],
    [
      'parentheses override precedence',
      '(A(`1`) || B(`2`)) && C(`3`)',
      and(or(call('A', ['1'], 2), call('B', ['2'], 12)), call('C', ['3'], 23)),
    ],
    ['! over a group', '!(A(`1`) || B(`2`))', not(or(call('A', ['1'], 3), call('B', ['2'], 13)))],
    ['redundant parentheses', '((A(`1`)))', call('A', ['1'], 3)],
    [
      'chains associate to the left',
      'A(`1`) && B(`2`) && C(`3`)',
      and(and(call('A', ['1'], 1), call('B', ['2'], 11)), call('C', ['3'], 21)),
    ],
  ])('%s', (_description, text, expected) => {
    expect(parseRule(text)).toEqual(expected);
  });

  it('lists the calls of a tree in order', () => {
    const names = ruleCalls(parseRule('!(A(`1`) || B(`2`)) && C(`3`)')).map((c) => c.name);
    expect(names).toEqual(['A', 'B', 'C']);
  });
});

describe('parseRule: syntax errors', () => {
  it.each<[string, string, string, number]>([
    ['empty rule', '', 'empty rule', 1],
    ['only whitespace', '   ', 'empty rule', 1],
    ['missing closing parenthesis of a call', 'Host(`a.example` && Path(`/`)', 'expected ")" at column 18', 18],
    ['missing closing parenthesis of a group', '(Host(`a`)', 'expected ")" at column 11', 11],
    ['extra closing parenthesis', 'Host(`a`))', 'unexpected ")" at column 10', 10],
    ['unterminated backtick string', 'Host(`a.example)', 'unterminated string starting at column 6', 6],
    ['unterminated double-quoted string', 'Path("/x', 'unterminated string starting at column 6', 6],
    ['string ending in a backslash', 'Path("/x\\', 'unterminated string starting at column 6', 6],
    ['escaped quote does not close', 'Path("/x\\")', 'unterminated string starting at column 6', 6],
    [
      'unknown escape in double quotes',
      'PathRegexp("\\d+")',
      'unknown escape "\\d" at column 13; only \\" and \\\\ are allowed in double quotes (put regular expressions in backticks)',
      13,
    ],
    ['single ampersand', 'Host(`a`) & Path(`/`)', 'expected "&&" at column 11', 11],
    ['single bar', 'Host(`a`) | Path(`/`)', 'expected "||" at column 11', 11],
    ['two calls without an operator', 'Host(`a`) Path(`/`)', 'expected "&&" or "||" at column 11', 11],
    ['rule ends after an operator', 'Host(`a`) &&', 'unexpected end of rule at column 13', 13],
    ['rule ends after !', '!', 'unexpected end of rule at column 2', 2],
    ['operator first', '&& Host(`a`)', 'expected a matcher, "!" or "(" at column 1, found "&&"', 1],
    ['string where a matcher goes', '`a` && Host(`a`)', 'expected a matcher, "!" or "(" at column 1, found a string', 1],
    ['empty group', '()', 'expected a matcher, "!" or "(" at column 2, found ")"', 2],
    ['name without parentheses', 'Host && Path(`/`)', 'expected "(" after "Host" at column 6', 6],
    ['bare word argument', 'Host(a.example)', 'expected a string in backticks or double quotes at column 6', 6],
    ['trailing comma', 'Host(`a`,)', 'expected a string in backticks or double quotes at column 10', 10],
    ['missing comma', 'Header(`a` `b`)', 'expected ")" at column 12', 12],
    ['single quotes', "Host('a')", 'unexpected character "\'" at column 6; strings go in backticks or double quotes', 6],
    ['stray character', 'Host(`a`) && #', 'unexpected character "#" at column 14', 14],
    ['columns count across lines', 'Host(`a`)\n&& Path(', 'unexpected end of rule at column 19', 19],
  ])('%s', (_description, text, message, column) => {
    let caught: unknown;
    try {
      parseRule(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatehouseError);
    const err = caught as GatehouseError;
    expect(err.code).toBe('RULE_SYNTAX');
    expect(err.message).toBe(message);
    expect(err.location.column).toBe(column);
  });

  it('refuses nesting deeper than 64 levels instead of overflowing the stack', () => {
    expect(() => parseRule(`${'('.repeat(65)}A(\`1\`)${')'.repeat(65)}`)).toThrow(/nests deeper than 64/);
    expect(() => parseRule(`${'!'.repeat(10_000)}A(\`1\`)`)).toThrow(/nests deeper than 64/);
    expect(parseRule(`${'('.repeat(60)}A(\`1\`)${')'.repeat(60)}`)).toEqual(call('A', ['1'], 61));
  });
});
