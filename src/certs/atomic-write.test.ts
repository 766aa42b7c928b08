import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir, writeFileAtomic } from './atomic-write.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it.each([
    { description: 'a key, 0600 by default', mode: undefined, expected: 0o600 },
    { description: 'a certificate, readable by others when asked', mode: 0o644, expected: 0o644 },
  ])('$description', async ({ mode, expected }) => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-atomic-'));
    const file = join(dir, 'key.pem');
    await writeFileAtomic(file, 'first', mode === undefined ? {} : { mode });
    await writeFileAtomic(file, 'second', mode === undefined ? {} : { mode });
    expect(readFileSync(file, 'utf8')).toBe('second');
    expect(statSync(file).mode & 0o777).toBe(expected);
    // no temporary file left behind
    expect(readdirSync(dir)).toEqual(['key.pem']);
  });

  it('leaves the old file whole when the write fails', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-atomic-'));
    const file = join(dir, 'a.pem');
    await writeFileAtomic(file, 'old');
    await expect(writeFileAtomic(join(dir, 'missing', 'a.pem'), 'new')).rejects.toThrow(/ENOENT/);
    expect(readFileSync(file, 'utf8')).toBe('old');
  });

  it('creates private directories 0700', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-atomic-'));
    await ensurePrivateDir(join(dir, 'state', 'default-cert'));
    expect(statSync(join(dir, 'state', 'default-cert')).mode & 0o777).toBe(0o700);
  });
});
