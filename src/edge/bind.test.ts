import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bind, boundAddress } from './bind.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** The accept queue length the kernel gave a listening TCP socket: `ss` shows it as Send-Q of a LISTEN line. */
function listenBacklog(port: number): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const fields = line.split(/\s+/);
  if (fields[0] !== 'LISTEN') throw new Error(`no LISTEN line from ss for port ${port}: ${JSON.stringify(line)}`);
  return Number(fields[2]);
}

describe('bind', () => {
  it("asks for the kernel's largest accept queue (somaxconn), not Node's 511: a connection burst must not drop SYNs", async () => {
    server = createServer();
    await bind(server, { host: '127.0.0.1', port: 0 }, 'web', '127.0.0.1:0');
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(listenBacklog(boundAddress(server).port)).toBe(Math.min(somaxconn, 65_535));
  });
});
