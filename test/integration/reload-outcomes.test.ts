// What a reload says when its config disables part of itself (issue 19): a misspelt service name or a broken rule
// takes those routers down, and every place an operator looks says so: the log at warn, `gatehouse reload`'s exit
// code (3) and lines (the same as `gatehouse check`'s), status.lastReload, the admin's /api/status, status page and
// metrics. With lifecycle.reload strict the reload is refused and the running config keeps serving.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN_JS, runGatehouseCli, startGatehouse, stopAllGatehouses, writeConfigFile } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';

afterEach(stopAllGatehouses);

const config = (routers: Record<string, object>, lifecycle: object = {}) => ({
  entryPoints: { web: { address: '127.0.0.1:0' } },
  admin: { address: '127.0.0.1:0' },
  lifecycle: { watch: false, ...lifecycle },
  http: {
    routers,
    services: { app: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:9' }] } } },
  },
});
const good = { a: { rule: 'Host(`a.test`)', respond: { body: 'A' } } };
const broken = {
  a: { rule: 'Host(`a.test`)', respond: { body: 'A2' } },
  typo: { rule: 'Host(`b.test`)', service: 'ap' },
  rule: { rule: 'Host(`c.test`', respond: { body: 'C' } },
};

/** The problem lines `gatehouse check FILE` prints (stderr, one per line). */
async function checkLines(file: string): Promise<{ code: number | null; lines: string[] }> {
  const res = await runGatehouseCli(['check', file]);
  return { code: res.code, lines: res.stderr.trim().split('\n').filter((l) => l !== '') };
}

describe('a reload whose config disables routers', () => {
  it('is applied with N problems, and the log, reload exit code, status, /api/status, page and metrics say so', async () => {
    const gh = await startGatehouse(config(good));
    const port = gh.ports['web']!;
    await writeFile(gh.file, JSON.stringify(config(broken)));

    const check = await checkLines(gh.file);
    expect(check.code).toBe(1);
    expect(check.lines).toHaveLength(2);

    const res = await runGatehouseCli(['reload', gh.file]);
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/reloaded in \d+ ms, applied with 2 problems/);
    // The same verdict and the same lines as check.
    expect(res.stderr.trim().split('\n')).toEqual(check.lines);
    expect(res.stderr).toMatch(/"ap"/);

    // The rest of the new config serves.
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A2');
    const warn = await gh.waitForLog((l) => l.msg === 'config reloaded with problems');
    expect(warn).toMatchObject({ level: 'warn', outcome: 'problems', problems: 2, summary: 'applied with 2 problems' });
    expect(gh.logs.some((l) => l.msg === 'config reloaded')).toBe(false);

    const status = JSON.parse((await runGatehouseCli(['status', gh.file])).stdout) as { lastReload: { ok: boolean; outcome: string; summary: string; problems: string[] }; admin: { port: number } };
    expect(status.lastReload).toMatchObject({ ok: false, outcome: 'problems', summary: 'applied with 2 problems' });
    expect(status.lastReload.problems.map((l) => `gatehouse: ${l}`)).toEqual(check.lines);

    const admin = status.admin.port;
    const api = JSON.parse((await httpRequest(admin, { path: '/api/status' })).text) as { lastReload: { summary: string } };
    expect(api.lastReload.summary).toBe('applied with 2 problems');
    const page = (await httpRequest(admin, { path: '/' })).text;
    expect(page).toMatch(/Last reload: <span class="warn">applied with 2 problems<\/span>/);
    const metrics = (await httpRequest(admin, { path: '/metrics' })).text;
    expect(metrics).toMatch(/^gatehouse_config_reloads_total\{result="problems"\} 1$/m);
    expect(metrics).toMatch(/^gatehouse_config_problems 2$/m);
    expect(metrics).toMatch(/^gatehouse_config_last_reload_success 0$/m);

    // Fixed: ok again everywhere.
    await writeFile(gh.file, JSON.stringify(config(good)));
    const fixed = await runGatehouseCli(['reload', gh.file]);
    expect(fixed.code).toBe(0);
    const after = JSON.parse((await runGatehouseCli(['status', gh.file])).stdout) as { lastReload: { summary: string } };
    expect(after.lastReload.summary).toBe('ok');
    // The gauges read a status kept for a second (one per scrape).
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await httpRequest(admin, { path: '/metrics' })).text).toMatch(/^gatehouse_config_problems 0$/m);
  });

  it('a SIGHUP sent as soon as it listens is not lost: the reload runs once it serves', async () => {
    const file = await writeConfigFile(config(good));
    const child = spawn(process.execPath, [MAIN_JS, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    try {
      // Its entry point listens before "gatehouse started": the signal comes while the start is under way.
      for (let waited = 0; !out.includes('"entry point listening"') && waited < 10_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
      await writeFile(file, JSON.stringify(config(broken)));
      child.kill('SIGHUP');
      for (let waited = 0; !out.includes('"config reloaded with problems"') && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('"config reloaded with problems"');
      expect(out.indexOf('"gatehouse started"')).toBeLessThan(out.indexOf('"config reloaded with problems"'));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('SIGHUP logs the same warning', async () => {
    const gh = await startGatehouse(config(good));
    await writeFile(gh.file, JSON.stringify(config(broken)));
    gh.signal('SIGHUP');
    expect(await gh.waitForLog((l) => l.msg === 'config reloaded with problems')).toMatchObject({ level: 'warn', problems: 2 });
  });

  it('with lifecycle.reload strict is refused: the running config serves on, reload exits 1 with the problems', async () => {
    const gh = await startGatehouse(config(good, { reload: 'strict' }));
    const port = gh.ports['web']!;
    await writeFile(gh.file, JSON.stringify(config(broken, { reload: 'strict' })));
    const check = await checkLines(gh.file);
    const res = await runGatehouseCli(['reload', gh.file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/reload refused, the running config stays/);
    for (const line of check.lines) expect(res.stderr).toContain(line);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A');
    const status = JSON.parse((await runGatehouseCli(['status', gh.file])).stdout) as { lastReload: { outcome: string; problems: string[] } };
    expect(status.lastReload.outcome).toBe('refused');
    expect(status.lastReload.problems.map((l) => `gatehouse: ${l}`)).toEqual(check.lines);
    // One refusal for the file watch, one for `gatehouse reload`; log lines are written in batches: wait for them.
    const refusals = (): number => gh.logs.filter((l) => l.msg === 'config reload refused (lifecycle.reload strict), the running config stays').length;
    for (let waited = 0; refusals() < 2 && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(refusals()).toBe(2);
    // A clean config is taken.
    await writeFile(gh.file, JSON.stringify(config({ a: { rule: 'Host(`a.test`)', respond: { body: 'A3' } } }, { reload: 'strict' })));
    expect((await runGatehouseCli(['reload', gh.file])).code).toBe(0);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A3');
  });
});

describe('the library reload()', () => {
  it('returns the outcome with its problems', async () => {
    const { createGatehouse } = await import('../../src/api.js');
    const { createLogger } = await import('../../src/log.js');
    const base = { entryPoints: { web: { address: '127.0.0.1:0' } }, http: { routers: good } };
    const gh = createGatehouse({ config: base as never, logger: createLogger({ level: 'silent' }) });
    await gh.start();
    try {
      const result = await gh.reload({ ...base, http: { routers: { ...good, typo: { rule: 'Host(`b.test`)', service: 'ap' } } } } as never);
      expect(result).toMatchObject({ ok: false, outcome: 'problems', summary: 'applied with 1 problem' });
      expect(result.problems).toHaveLength(1);
      expect(gh.status().lastReload?.summary).toBe('applied with 1 problem');
    } finally {
      await gh.stop({ graceMs: 0 });
    }
  });
});
