/**
 * Secrets of the DNS providers (TSIG secrets, API tokens): given inline through a ${VAR} (substituted at config load)
 * or read from a file, and kept out of every message: `redactSecrets` is applied to every error a provider raises,
 * so a script or a server that echoes a secret does not put it in a log line, `gatehouse status` or explain.
 */
import { readFile } from 'node:fs/promises';
import { resolveConfigRelative } from '../../config/paths.js';

/** What replaces a secret in messages. */
export const REDACTED = '[redacted]';

/** The inline value, else the trimmed content of `file` (relative to the config file); undefined when neither is set. */
export async function readSecret(inline: string | undefined, file: string | undefined, configFile: string | undefined): Promise<string | undefined> {
  if (inline !== undefined) return inline;
  if (file === undefined) return undefined;
  const path = resolveConfigRelative(file, configFile);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new Error(`secret file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A BIND key file (`key "NAME" { algorithm ALG; secret "BASE64"; };`, as tsig-keygen writes it), or undefined. */
export function parseBindKey(text: string): { name: string; algorithm: string; secret: string } | undefined {
  const m = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/s.exec(text);
  if (!m) return undefined;
  const algorithm = /algorithm\s+"?([^";\s]+)"?\s*;/.exec(m[2]!)?.[1];
  const secret = /secret\s+"([^"]+)"\s*;/.exec(m[2]!)?.[1];
  if (!algorithm || !secret) return undefined;
  return { name: m[1]!, algorithm, secret };
}

/** `text` with every secret (at least 4 characters, and its base64-decoded bytes never printed) replaced by [redacted]. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join(REDACTED);
  return out;
}
