/**
 * `${VAR}` and `${VAR:-default}` in config string values, so one file serves several environments. Keys are
 * never substituted: a key's meaning must be visible in the file. `$${` stands for a literal `${`. A `$` not
 * followed by `{` is kept as is (so `$HOME` is text, not a reference).
 */

/** A variable problem inside one string: `index` is where its `${` starts, in the decoded string. */
export interface VariableProblem {
  index: number;
  message: string;
}

/** A variable problem somewhere in a config value: the JSON path of the string that holds it. */
export interface PathVariableProblem extends VariableProblem {
  path: readonly (string | number)[];
}

/** Shell rules for names: letters, digits and `_`, not starting with a digit. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands the references in one string against `env`. Shell semantics of `:-`: the default applies when the
 * variable is unset *or empty*, while a plain `${VAR}` of an empty variable gives ''. Returns every problem in
 * the string, not only the first; `value` is meaningful only when there are none.
 */
export function expandString(text: string, env: NodeJS.ProcessEnv): { value: string; problems: VariableProblem[] } {
  const problems: VariableProblem[] = [];
  if (!text.includes('${')) return { value: text, problems };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('${', i);
    if (start === -1) {
      out += text.slice(i);
      break;
    }
    if (start > i && text[start - 1] === '$') {
      // `$${` is the escape: everything up to the first `$`, then a literal `${`.
      out += text.slice(i, start - 1) + '${';
      i = start + 2;
      continue;
    }
    out += text.slice(i, start);
    const end = text.indexOf('}', start + 2);
    if (end === -1) {
      problems.push({ index: start, message: `unterminated variable reference "${text.slice(start)}": missing "}" (write $\${ for a literal \${)` });
      break;
    }
    const reference = text.slice(start, end + 1);
    const body = text.slice(start + 2, end);
    const colon = body.indexOf(':-');
    const name = colon === -1 ? body : body.slice(0, colon);
    const fallback = colon === -1 ? undefined : body.slice(colon + 2);
    i = end + 1;
    if (!NAME.test(name)) {
      problems.push({ index: start, message: malformedMessage(reference, name) });
      continue;
    }
    if (fallback !== undefined && fallback.includes('${')) {
      // Show the reference up to the brace that closes it, and resume after that brace.
      const outer = text.indexOf('}', end + 1);
      if (outer !== -1) i = outer + 1;
      const shown = outer === -1 ? reference : text.slice(start, outer + 1);
      problems.push({ index: start, message: `a default cannot contain another reference: "${shown}"` });
      continue;
    }
    const value = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
    if (fallback !== undefined) {
      out += value === undefined || value === '' ? fallback : value;
    } else if (value === undefined) {
      problems.push({ index: start, message: `environment variable ${name} is not set (write \${${name}:-value} to give a default)` });
    } else {
      out += value;
    }
  }
  return { value: out, problems };
}

function malformedMessage(reference: string, name: string): string {
  const shape = 'expected ${NAME} or ${NAME:-default}';
  if (name === '') return `invalid variable reference "${reference}": no variable name; ${shape}`;
  if (/^[A-Za-z0-9_]+$/.test(name)) {
    return `invalid variable reference "${reference}": a name must not start with a digit`;
  }
  return `invalid variable reference "${reference}": ${shape}, with a name of letters, digits and _`;
}

/**
 * A copy of a parsed config value with every string expanded; objects' keys are left alone. Returns all
 * problems with the path of their string. The input is not changed.
 */
export function substituteVariables(
  value: unknown,
  env: NodeJS.ProcessEnv,
): { value: unknown; problems: PathVariableProblem[] } {
  const problems: PathVariableProblem[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const expanded = expandString(node, env);
      for (const p of expanded.problems) problems.push({ ...p, path: [...path] });
      return expanded.problems.length === 0 ? expanded.value : node;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        // defineProperty, not assignment: a `__proto__` key from the file must stay an own property.
        Object.defineProperty(copy, key, { value: walk(child, [...path, key]), enumerable: true, writable: true, configurable: true });
      }
      return copy;
    }
    return node;
  };
  return { value: walk(value, []), problems };
}
