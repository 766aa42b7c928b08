/**
 * `gatehouse status` against a real gatehouse process: through the control socket as before (now naming the admin
 * address), and with `--admin URL` through the admin entry point's JSON API, basic auth from the URL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, type GatehouseProcess } from '../helpers/gatehouse-process.js';

let gh: GatehouseProcess;
let adminPort: number;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-admin-cli-'));
  gh = await startGatehouse({
    stateDir,
    admin: { address: '127.0.0.1:0', basicAuth: { users: ['bob:$apr1$oNBGy8oI$8v4b8s6zggo02DLTHiRI71'] } },
    entryPoints: { web: { address: '127.0.0.1:0' } },
    http: { routers: { app: { rule: 'Host(`app.test`)', respond: { body: 'hi' } } } },
  });
  adminPort = Number((await gh.waitForLog((l) => l.msg === 'admin entry point listening')).port);
}, 30_000);

afterAll(async () => {
  await stopAllGatehouses();
  await rm(stateDir, { recursive: true, force: true });
});

describe('gatehouse status', () => {
  it('--admin URL reads /api/status with the credentials of the URL', async () => {
    const run = await runGatehouseCli(['status', '--admin', `http://bob:bob-secret@127.0.0.1:${adminPort}`]);
    expect(run.code, run.stderr).toBe(0);
    const status = JSON.parse(run.stdout) as { routers: { name: string }[]; entryPoints: { name: string; bound: { port: number } }[] };
    expect(status.routers.map((r) => r.name)).toEqual(['app']);
    expect(status.entryPoints[0]?.bound.port).toBe(gh.ports['web']);
  });

  it.each([
    ['no credentials', (p: number) => `http://127.0.0.1:${p}`, /401, the admin entry point wants basic auth/],
    ['a wrong password (not printed)', (p: number) => `http://bob:hunter2@127.0.0.1:${p}`, /401/],
    ['not a URL', () => 'admin-host', /is not a URL/],
  ])('--admin with %s exits 1 and says why', async (_, url, message) => {
    const run = await runGatehouseCli(['status', '--admin', url(adminPort)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toContain('hunter2');
  });

  it('without --admin still uses the control socket, and names the admin address', async () => {
    const run = await runGatehouseCli(['status', '--config', gh.file]);
    expect(run.code, run.stderr).toBe(0);
    const status = JSON.parse(run.stdout) as { admin?: { port: number }; entryPoints: Record<string, { port: number }> };
    expect(status.admin?.port).toBe(adminPort);
    expect(status.entryPoints['web']?.port).toBe(gh.ports['web']);
  });
});
