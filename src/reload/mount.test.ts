import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isMountPoint } from './mount.js';

it('finds a single-file mount in mountinfo (escaped spaces included), and nothing for a plain file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse mount-'));
  const file = join(dir, 'config.json');
  await writeFile(file, '{}');
  const escaped = file.replace(/ /g, '\\040');
  const info = join(dir, 'mountinfo');
  await writeFile(info, `22 1 0:21 / / rw,relatime - overlay overlay rw\n611 22 259:1 /home/me/config.json ${escaped} rw,relatime - ext4 /dev/sda1 rw\n`);
  expect(isMountPoint(file, info)).toBe(true);
  await writeFile(info, `22 1 0:21 / / rw,relatime - overlay overlay rw\n611 22 259:1 /home/me ${dir.replace(/ /g, '\\040')} rw - ext4 /dev/sda1 rw\n`);
  expect(isMountPoint(file, info)).toBe(false);
  expect(isMountPoint(join(dir, 'missing.json'), info)).toBe(false);
});
