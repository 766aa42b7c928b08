/**
 * Rule text → syntax tree, for Traefik v3's rule language: `Name(args…)` calls joined by `!`, `&&`, `||`
 * (binding in that order, tightest first) and grouped by parentheses. Strings are raw in backticks, or in
 * double quotes with `\"` and `\\` as the only escapes (Traefik reads rules with Go's parser, which rejects
 * escapes it does not know, so a regexp like "\d+" fails there too; we say so instead of guessing).
 */
import { GatehouseError } from '../errors.js';
import type { RuleNode } from './ast.js';

type Token =
  | { kind: 'name'; text: string; column: number }
  | { kind: 'string'; text: string; column: number }
  | { kind: '(' | ')' | ',' | '&&' | '||' | '!' | 'end'; column: number };

/** Deeper nesting than this is a mistake in a config, and refusing it keeps recursion off the stack limit. */
const MAX_DEPTH = 64;

function syntaxError(message: string, column: number): GatehouseError {
  return new GatehouseError('RULE_SYNTAX', message, { location: { column } });
}

const isNameStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isNamePart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

/** Pulls tokens one at a time, so a rule's first mistake is the one reported, wherever it is. */
class Lexer {
  private pos = 0;

  constructor(private readonly text: string) {}

  next(): Token {
    const text = this.text;
    while (this.pos < text.length && /\s/.test(text[this.pos]!)) this.pos++;
    const start = this.pos;
    const column = start + 1;
    const c = text[start];
    if (c === undefined) return { kind: 'end', column };
    if (c === '(' || c === ')' || c === ',' || c === '!') {
      this.pos++;
      return { kind: c, column };
    }
    if (c === '&' || c === '|') {
      if (text[start + 1] !== c) throw syntaxError(`expected "${c}${c}" at column ${column}`, column);
      this.pos += 2;
      return { kind: c === '&' ? '&&' : '||', column };
    }
    if (c === '`') return this.rawString(column);
    if (c === '"') return this.quotedString(column);
    if (isNameStart(c)) {
      let end = start + 1;
      while (end < text.length && isNamePart(text[end]!)) end++;
      this.pos = end;
      return { kind: 'name', text: text.slice(start, end), column };
    }
    const hint = c === "'" ? '; strings go in backticks or double quotes' : '';
    throw syntaxError(`unexpected character "${c}" at column ${column}${hint}`, column);
  }

  private rawString(column: number): Token {
    const close = this.text.indexOf('`', column);
    if (close === -1) throw syntaxError(`unterminated string starting at column ${column}`, column);
    this.pos = close + 1;
    return { kind: 'string', text: this.text.slice(column, close), column };
  }

  private quotedString(column: number): Token {
    const text = this.text;
    let out = '';
    let i = column;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        this.pos = i + 1;
        return { kind: 'string', text: out, column };
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === undefined) break;
        if (e !== '"' && e !== '\\') {
          throw syntaxError(
            `unknown escape "\\${e}" at column ${i + 1}; only \\" and \\\\ are allowed in double quotes ` +
              '(put regular expressions in backticks)',
            i + 1,
          );
        }
        out += e;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    throw syntaxError(`unterminated string starting at column ${column}`, column);
  }
}

/** Recursive descent over the lexer with one token of look-ahead. */
class Parser {
  private token: Token;
  private depth = 0;

  constructor(private readonly lexer: Lexer) {
    this.token = lexer.next();
  }

  /** The current token, typed afresh (TypeScript would otherwise keep a narrowing across advance()). */
  private peek(): Token {
    return this.token;
  }

  private advance(): Token {
    const t = this.token;
    this.token = this.lexer.next();
    return t;
  }

  parseRule(): RuleNode {
    if (this.token.kind === 'end') throw syntaxError('empty rule', 1);
    const node = this.or();
    const t = this.token;
    if (t.kind === 'end') return node;
    if (t.kind === ')') throw syntaxError(`unexpected ")" at column ${t.column}`, t.column);
    throw syntaxError(`expected "&&" or "||" at column ${t.column}`, t.column);
  }

  private or(): RuleNode {
    let left = this.and();
    while (this.token.kind === '||') {
      this.advance();
      left = { type: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): RuleNode {
    let left = this.unary();
    while (this.token.kind === '&&') {
      this.advance();
      left = { type: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): RuleNode {
    const t = this.token;
    if (++this.depth > MAX_DEPTH) {
      throw syntaxError(`rule nests deeper than ${MAX_DEPTH} levels at column ${t.column}`, t.column);
    }
    try {
      if (t.kind === '!') {
        this.advance();
        return { type: 'not', operand: this.unary() };
      }
      if (t.kind === '(') {
        this.advance();
        const inner = this.or();
        this.expect(')');
        return inner;
      }
      if (t.kind === 'name') return this.call(t.text, t.column);
      if (t.kind === 'end') throw syntaxError(`unexpected end of rule at column ${t.column}`, t.column);
      const found = t.kind === 'string' ? 'a string' : `"${t.kind}"`;
      throw syntaxError(`expected a matcher, "!" or "(" at column ${t.column}, found ${found}`, t.column);
    } finally {
      this.depth--;
    }
  }

  private call(name: string, column: number): RuleNode {
    this.advance();
    const open = this.advance();
    if (open.kind !== '(') throw syntaxError(`expected "(" after "${name}" at column ${open.column}`, open.column);
    const args: string[] = [];
    if (this.token.kind !== ')') {
      for (;;) {
        // Checked before advancing, so a bare word like Host(a.example) is reported as a missing string
        // rather than as the "." the look-ahead would trip over next.
        const t = this.peek();
        if (t.kind === 'end') throw syntaxError(`unexpected end of rule at column ${t.column}`, t.column);
        if (t.kind !== 'string') {
          throw syntaxError(`expected a string in backticks or double quotes at column ${t.column}`, t.column);
        }
        args.push(t.text);
        this.advance();
        if (this.token.kind !== ',') break;
        this.advance();
      }
    }
    this.expect(')');
    return { type: 'call', name, args, column };
  }

  private expect(kind: ')'): void {
    if (this.token.kind !== kind) {
      throw syntaxError(`expected "${kind}" at column ${this.token.column}`, this.token.column);
    }
    this.advance();
  }
}

/**
 * Parses rule text into a tree, or throws GatehouseError `RULE_SYNTAX` whose message and `location.column`
 * (1-based, counted from the start of the text) point at the first mistake. Knows no matcher names.
 */
export function parseRule(text: string): RuleNode {
  return new Parser(new Lexer(text)).parseRule();
}
