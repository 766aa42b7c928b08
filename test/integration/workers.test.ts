// `workers: 2` through the real CLI (issue 21): a primary and two worker processes sharing the entry point. Both
// workers serve (their pids in the access log), /metrics sums their request counters, SIGHUP reloads every worker
// under a keep-alive load without one failed request, a refused config changes no worker, a killed worker is
// restarted and logged, and SIGTERM drains the requests in flight on every worker.
import { request, Agent } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';
import type { LogLine } from '../helpers/log-lines.js';
import { httpRequest } from '../helpers/raw-http.js';
import { closeAllUpstreams, startHttpUpstream } from '../helpers/upstreams.js';

/** Worker pids seen in the logs: killed by pid after each test, should a primary's end not have taken them along. */
const workerPids = new Set<number>();
afterEach(async () => {
  await stopAllGatehouses();
  for (const pid of workerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
  workerPids.clear();
  await closeAllUpstreams();
});
afterAll(stopAllGatehouses);

const respondWith = (body: string, extra: object = {}): object => ({
  workers: 2,
  entryPoints: { web: { address: '127.0.0.1:0' } },
  admin: { address: '127.0.0.1:0' },
  http: { routers: { all: { rule: 'PathPrefix(`/`)', respond: { body } } } },
  ...extra,
});

/** Starts a gatehouse with workers and waits until both serve; records their pids. */
async function startWorkers(config: object): Promise<GatehouseProcess> {
  const gh = await startGatehouse(config, { startTimeoutMs: 20_000 });
  for (const l of servingLines(gh)) workerPids.add(l['pid'] as number);
  expect(servingLines(gh).length).toBe(2);
  return gh;
}

const servingLines = (gh: GatehouseProcess): LogLine[] => gh.logs.filter((l) => l.msg === 'worker serving');
const count = (gh: GatehouseProcess, msg: string, pred: (l: LogLine) => boolean = () => true): number => gh.logs.filter((l) => l.msg === msg && pred(l)).length;

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A GET on `agent` (keep-alive); resolves with status and body, rejects on any transport error. */
function get(port: number, agent: Agent, path = '/'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

const adminPort = (gh: GatehouseProcess): number => gh.logs.find((l) => l.msg === 'admin entry point listening')!['port'] as number;

describe('workers: 2', () => {
  it('both workers serve, /metrics sums their requests, a SIGHUP under keep-alive load fails no request, a refused config changes no worker, a killed worker is restarted', async () => {
    const gh = await startWorkers(respondWith('one'));
    const port = gh.ports['web']!;
    const pids = new Set(servingLines(gh).map((l) => l['pid']));
    expect(pids.size).toBe(2);
    expect(pids.has(gh.pid)).toBe(false);

    // New connections are spread over the workers: each one's access log lines carry its pid.
    const n = 20;
    for (let i = 0; i < n; i++) expect((await httpRequest(port)).text).toBe('one');
    await until(() => count(gh, 'request') >= n, 5_000, 'access log lines');
    const served = new Set(gh.logs.filter((l) => l.msg === 'request').map((l) => l['pid']));
    expect(served).toEqual(pids);
    const metrics = (await httpRequest(adminPort(gh), { path: '/metrics' })).text;
    expect(metrics).toMatch(new RegExp(`gatehouse_http_requests_total\\{router="all",service="",status_class="2xx"\\} ${n}\\n`));
    // The status lists the workers (the page renders the same list).
    const workersOf = async (): Promise<{ id: number; pid: number; ready: boolean; restarts: number }[]> =>
      (JSON.parse((await httpRequest(adminPort(gh), { path: '/api/status' })).text) as { workers: { id: number; pid: number; ready: boolean; restarts: number }[] }).workers;
    expect(new Set((await workersOf()).map((w) => w.pid))).toEqual(pids);
    expect((await httpRequest(adminPort(gh), { path: '/' })).text).toContain('<h2>Workers</h2>');

    // Keep-alive load on 6 connections (over both workers) while the file changes three times.
    const agent = new Agent({ keepAlive: true, maxSockets: 6 });
    const failures: string[] = [];
    const bodies = new Set<string>();
    let stop = false;
    let done = 0;
    const loops = Array.from({ length: 6 }, async () => {
      while (!stop) {
        try {
          const r = await get(port, agent);
          if (r.status !== 200) failures.push(`status ${r.status}`);
          bodies.add(r.text);
          done++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    for (const body of ['two', 'three', 'four']) {
      const before = count(gh, 'config reloaded');
      await writeFile(gh.file, JSON.stringify(respondWith(body)));
      gh.signal('SIGHUP');
      // The primary's line and each worker's.
      await until(() => count(gh, 'config reloaded') >= before + 3, 10_000, `reload to ${body}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(50);
    expect(bodies).toContain('four');
    for (const pid of pids) expect(count(gh, 'config reloaded', (l) => l['pid'] === pid)).toBe(3);

    // A config the schema refuses: the primary refuses it once, no worker reloads, every worker keeps answering 'four'.
    const reloadsBefore = count(gh, 'config reloaded');
    await writeFile(gh.file, JSON.stringify({ ...respondWith('five'), workers: 'many' }));
    gh.signal('SIGHUP');
    await gh.waitForLog((l) => l.msg === 'config reload refused, the running config stays', 10_000);
    for (let i = 0; i < 6; i++) expect((await httpRequest(port)).text).toBe('four');
    expect(count(gh, 'config reloaded')).toBe(reloadsBefore);
    expect(count(gh, 'config reload refused, the running config stays', (l) => l['worker'] !== undefined)).toBe(0);

    // A worker killed: logged at error, restarted after a backoff, and the new one serves.
    const victim = servingLines(gh).find((l) => l['worker'] === 1)!['pid'] as number;
    process.kill(victim, 'SIGKILL');
    const exited = await gh.waitForLog((l) => l.msg === 'worker exited, restarting it', 5_000);
    expect(exited).toMatchObject({ level: 'error', worker: 1, pid: victim, signal: 'SIGKILL' });
    expect(exited['restartInMs']).toBeGreaterThan(0);
    const back = await gh.waitForLog((l) => l.msg === 'worker serving' && l['worker'] === 1 && l['restarts'] === 1, 15_000);
    workerPids.add(back['pid'] as number);
    expect(back['pid']).not.toBe(victim);
    // It started on the config in force ('four'), not on the refused file.
    for (let i = 0; i < 6; i++) expect((await httpRequest(port)).text).toBe('four');
    await until(() => gh.logs.some((l) => l.msg === 'request' && l['pid'] === back['pid']), 5_000, 'a request served by the new worker');
    expect((await workersOf()).find((w) => w.id === 1)).toMatchObject({ pid: back['pid'], ready: true, restarts: 1 });
  });

  it('SIGTERM drains the requests in flight on every worker, then everything exits 0', async () => {
    let arrived = 0;
    const slow = await startHttpUpstream((_req, res) => {
      arrived++;
      setTimeout(() => res.end('finished'), 800);
    });
    const gh = await startWorkers({
      workers: 2,
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: { routers: { slow: { rule: 'PathPrefix(`/`)', service: 'slow' } }, services: { slow: { loadBalancer: { servers: [{ url: slow.url }] } } } },
    });
    const port = gh.ports['web']!;
    // Four connections: the primary hands them to the workers in turn, so both have requests in flight.
    const inFlight = Array.from({ length: 4 }, () => httpRequest(port, { timeoutMs: 10_000 }));
    await until(() => arrived === 4, 5_000, 'four requests at the upstream');
    const code = gh.stop('SIGTERM');
    const results = await Promise.all(inFlight);
    expect(results.map((r) => `${r.status} ${r.text}`)).toEqual(Array(4).fill('200 finished'));
    expect(await code).toBe(0);
    const draining = gh.logs.filter((l) => l.msg === 'draining' && l['worker'] !== undefined);
    expect(draining.map((l) => l['worker']).sort()).toEqual([1, 2]);
    for (const l of draining) expect(l['requests']).toBeGreaterThan(0);
    expect(count(gh, 'worker stopped')).toBe(2);
    expect(count(gh, 'gatehouse stopped')).toBe(1);
  });
});
