/**
 * htpasswd lines (`user:hash`) compiled into password checks once, at config load. The forms Apache's
 * `htpasswd` writes today: bcrypt (`$2y$`, and `$2a$`/`$2b$` from other tools), apr1 MD5 (`$apr1$`) and SHA-1
 * (`{SHA}`). crypt(3) DES and plain text are refused: DES truncates passwords to 8 characters, and neither belongs
 * in a file a proxy trusts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { bcryptCompare } from './bcrypt-worker.js';

// apache-md5 ships no types; it is one function (password, salt-or-hash) → `$apr1$salt$hash`.
const apacheMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt: string) => string;

/** One user's password check. `slow` ones (bcrypt) go through basic-auth's bounded queue. */
export interface PasswordCheck {
  readonly slow: boolean;
  /** Resolves true when `password` matches. bcrypt runs on a worker thread (bcrypt-worker.ts). */
  check(password: string): Promise<boolean>;
}

/** A compiled htpasswd: users by name. */
export type HtpasswdUsers = Map<string, PasswordCheck>;

/** Thrown for a line that is not `user:hash` with a supported hash; `line` counts from 1. */
export class HtpasswdError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'HtpasswdError';
  }
}

/** Compile htpasswd text; blank lines and `#` comments are skipped. Later lines override earlier ones of a user. */
export function parseHtpasswd(text: string, users: HtpasswdUsers = new Map()): HtpasswdUsers {
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    users.set(...parseLine(line, i + 1));
  });
  return users;
}

/** Compile one `user:hash` line. */
export function parseLine(line: string, lineNo = 1): [string, PasswordCheck] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new HtpasswdError('expected "user:hash"', lineNo);
  const user = line.slice(0, colon);
  const hash = line.slice(colon + 1);
  const check = checkFor(hash);
  if (check === undefined) {
    throw new HtpasswdError(`user "${user}": unsupported hash (use bcrypt "htpasswd -B", or apr1 / {SHA})`, lineNo);
  }
  return [user, check];
}

const BCRYPT = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/;
const SHA = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;

function checkFor(hash: string): PasswordCheck | undefined {
  if (BCRYPT.test(hash)) {
    // bcryptjs reads $2y$ (PHP/Apache's name for the fixed algorithm) as $2b$; they are the same computation.
    const normal = hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash;
    return { slow: true, check: (password) => bcryptCompare(password, normal) };
  }
  if (APR1.test(hash)) {
    const expected = Buffer.from(hash);
    return { slow: false, check: async (password) => constantTimeEqual(Buffer.from(apacheMd5(password, hash)), expected) };
  }
  if (SHA.test(hash)) {
    const expected = Buffer.from(hash.slice(5), 'base64');
    return { slow: false, check: async (password) => constantTimeEqual(createHash('sha1').update(password).digest(), expected) };
  }
  return undefined;
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bcrypt cost of the dearest user (0 when none uses bcrypt): unknown users are made to cost the same. */
export function highestBcryptCost(lines: readonly string[]): number {
  let cost = 0;
  for (const line of lines) {
    const m = BCRYPT.exec(line.slice(line.indexOf(':') + 1).trim());
    if (m) cost = Math.max(cost, Number(m[1]));
  }
  return cost;
}

/**
 * A check for names that are not users, as costly as a real one: bcrypt over a fixed salt at `cost`, which can
 * never match (the stored digest is not one any password produces). Without it an unknown name would answer
 * faster than a wrong password and reveal which users exist.
 */
export function decoyCheck(cost: number): PasswordCheck {
  if (cost === 0) return { slow: false, check: async () => false };
  const decoy = `$2b$${String(cost).padStart(2, '0')}$${'Gatehouse.decoy.salt..'}${'x'.repeat(31)}`;
  return { slow: true, check: async (password) => (await bcryptCompare(password, decoy)) && false };
}
