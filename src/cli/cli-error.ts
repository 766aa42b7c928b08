/**
 * How the CLI reports a failure: `gatehouse: <what happened>; <what to do>` on stderr, never a stack trace (an
 * operator reads it, a supervisor logs it). Config problems keep their one line each. Loaded by main.ts on every
 * run, so it imports nothing: the library's error classes are recognised by name.
 */

/** A failure the command foresaw, with a message that already says what to do; exit `exitCode` (1 by default). */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A wrong command line: exit 2, with a pointer to the command's help. */
export class UsageError extends CliError {
  constructor(command: string | undefined, message: string) {
    super(`${command ? `${command}: ` : ''}${message}; see gatehouse ${command ? `${command} ` : ''}--help`, 2);
    this.name = 'UsageError';
  }
}

/** Errors raised by a bug in gatehouse rather than by what it was asked to do. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);

/**
 * The stderr lines for `err`, without the `gatehouse: ` prefix: one per problem of a GatehouseErrors, else one line
 * (a multi-line message keeps only what its author put on separate lines on purpose: reload's reasons).
 */
export function errorLines(err: unknown, env: NodeJS.ProcessEnv = process.env): string[] {
  const e = err as { name?: unknown; message?: unknown; errors?: unknown; stack?: unknown };
  if (err instanceof Error && e.name === 'GatehouseErrors' && Array.isArray(e.errors)) return (e.errors as unknown[]).map(String);
  if (err instanceof Error && e.name === 'GatehouseError') return [String(err)];
  if (err instanceof CliError) return err.message.split('\n');
  const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const lines =
    err instanceof Error && PROGRAMMING_ERRORS.has(err.name)
      ? [`unexpected error: ${message}; this is a bug in gatehouse, please report it (GATEHOUSE_DEBUG=1 prints where it happened)`]
      : [message];
  if (env['GATEHOUSE_DEBUG'] === '1' && err instanceof Error && typeof e.stack === 'string') lines.push(e.stack);
  return lines;
}

/** Prints `err` (see errorLines) and resolves to the exit code: the CliError's own, else `code`. */
export function reportError(err: unknown, code = 1): number {
  for (const line of errorLines(err)) process.stderr.write(`gatehouse: ${line}\n`);
  return err instanceof CliError ? err.exitCode : code;
}
