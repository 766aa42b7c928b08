/**
 * A real DNS server for the UDP tests: dnsmasq (Debian package `dnsmasq-base`, the binary without the system
 * service) on 127.0.0.1 at a free port, answering from a hosts file of its own and nothing else (no upstream, no
 * /etc/hosts, no config file). Each instance answers `c<i>.udp.test` with an address of its own, so a test can tell
 * which server answered whom. Stopped by its PID; every wait bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query } from '../../src/acme/dns/query.js';
import { ensureAptTools } from './apt.js';
import { stopChild } from './pebble.js';
import { freePort } from './ports.js';

const DNSMASQ = '/usr/sbin/dnsmasq';
const READY_TIMEOUT_MS = 10_000;

/** Names each instance answers: c0.udp.test … c<NAMES-1>.udp.test. */
export const NAMES = 1000;

/** A running dnsmasq. */
export interface Dnsmasq {
  readonly port: number;
  readonly pid: number;
  /** The address it answers for `c<i>.udp.test`: 10.<tag>.<i / 256>.<i % 256>. */
  answerFor(i: number): string;
  /** What it printed (with `logQueries`, a line per query with the asking port). */
  output(): string;
  stop(): Promise<void>;
}

/** Installs dnsmasq-base (and dig) with apt when missing and running as root; otherwise throws saying how. */
export function ensureDnsmasqInstalled(): void {
  ensureAptTools({
    what: 'dnsmasq or dig',
    packages: ['dnsmasq-base', 'bind9-dnsutils'],
    present: () => existsSync(DNSMASQ) && existsSync('/usr/bin/dig'),
    noRecommends: true,
  });
}

/** A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both). */
export async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(); // TCP, below the ephemeral range
    const free = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port for dnsmasq after 20 tries');
}

/** Starts dnsmasq answering `c<i>.udp.test` with 10.<tag>.x.y; resolves when it answers. */
export async function startDnsmasq(tag: number, options: { logQueries?: boolean } = {}): Promise<Dnsmasq> {
  ensureDnsmasqInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-dnsmasq-'));
  const answerFor = (i: number) => `10.${tag}.${Math.floor(i / 256)}.${i % 256}`;
  const hosts = Array.from({ length: NAMES }, (_, i) => `${answerFor(i)} c${i}.udp.test`).join('\n');
  await writeFile(join(dir, 'hosts'), `${hosts}\n`);
  const port = await freeDnsPort();
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${join(dir, 'hosts')}`,
    '--bind-interfaces',
    '--listen-address=127.0.0.1',
    `--port=${port}`,
    '--pid-file=',
    '--log-facility=-',
    // Answers must not be remembered between tests' questions; the hosts file is read at start anyway.
    '--cache-size=0',
    // The default (150) would answer REFUSED to part of a flood; the tests measure gatehouse, not dnsmasq.
    '--dns-forward-max=10000',
    ...(options.logQueries ? ['--log-queries'] : []),
    // As root dnsmasq drops to nobody, which then cannot read the temp dir's hosts file; stay root.
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
  ];
  let out = '';
  const child: ChildProcess = spawn(DNSMASQ, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited with ${child.exitCode}:\n${out.slice(-2000)}`);
      const ok = await query({ host: '127.0.0.1', port }, 'c0.udp.test', 'A', { timeoutMs: 300 }).then(
        (p) => (p.answers ?? []).some((a) => a.type === 'A' && a.data === answerFor(0)),
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`dnsmasq not answering on 127.0.0.1:${port}:\n${out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, pid: child.pid!, answerFor, output: () => out, stop };
}
