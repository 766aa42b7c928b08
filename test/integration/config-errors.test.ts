// A broken config as the operator meets it: `start` exits 1 with a readable message on stderr, `check` prints
// every problem and exits 1 (0 when the file is valid), and a router naming a missing service is disabled with
// a clear log line while the other routers serve.
import { afterAll, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses, writeConfigFile } from '../helpers/gatehouse-process.js';
import { httpRequest } from '../helpers/raw-http.js';

afterAll(stopAllGatehouses);

const valid = {
  entryPoints: { web: { address: '127.0.0.1:0' } },
  http: {
    routers: { hi: { rule: 'Host(`hi.test`)', respond: { body: 'hi' } } },
  },
};

describe('start with an invalid config', () => {
  it.each([
    { description: 'JSON syntax error: line named', config: '{\n  "entryPoints": {\n    "web": { "address": "127.0.0.1:0", }\n  ,,\n}', expect: [/CONFIG_SYNTAX/, /:\d+/] },
    { description: 'unknown key: path named', config: { ...valid, entryPoints: { web: { address: '127.0.0.1:0', adress: 'x' } } }, expect: [/CONFIG_SCHEMA/, /entryPoints\/web/, /adress/] },
    { description: 'wrong type: path named', config: { ...valid, entryPoints: { web: { address: 8080 } } }, expect: [/CONFIG_SCHEMA/, /entryPoints\/web\/address/] },
    { description: 'no entry points', config: { entryPoints: {} }, expect: [/CONFIG_SCHEMA/, /entryPoints/] },
    { description: 'bad duration', config: { ...valid, entryPoints: { web: { address: '127.0.0.1:0', timeouts: { headers: '10 seconds' } } } }, expect: [/CONFIG_SCHEMA/, /timeouts\/headers/] },
    { description: 'unset ${VAR} without default', config: { entryPoints: { web: { address: '127.0.0.1:${GATEHOUSE_IT_SURELY_UNSET_PORT}' } } }, expect: [/CONFIG_VARIABLE/, /GATEHOUSE_IT_SURELY_UNSET_PORT/] },
  ])('exits 1: $description', async ({ config, expect: patterns }) => {
    const res = await runGatehouseCli(['start'], { config });
    expect(res.code, res.stderr).toBe(1);
    for (const p of patterns) expect(res.stderr).toMatch(p);
    // A readable message, not a stack trace.
    expect(res.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(res.stdout).not.toMatch(/gatehouse started/);
  });

  it('exits 1 when the config file does not exist', async () => {
    const res = await runGatehouseCli(['start', '--config', '/nonexistent/gatehouse-it/missing.json']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CONFIG_READ/);
    expect(res.stderr).toContain('/nonexistent/gatehouse-it/missing.json');
  });

  it('exits 1 with LISTEN_FAILED when the address is taken', async () => {
    const first = await startGatehouse(valid);
    const res = await runGatehouseCli(['start'], { config: { entryPoints: { web: { address: `127.0.0.1:${first.ports['web']!}` } } } });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/LISTEN_FAILED/);
    expect(await first.stop()).toBe(0);
  });
});

describe('gatehouse check', () => {
  it('exits 0 and says ok for a valid config', async () => {
    const res = await runGatehouseCli(['check'], { config: valid });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/ok/i);
  });

  it('accepts GATEHOUSE_CONFIG instead of --config', async () => {
    const file = await writeConfigFile(valid);
    const res = await runGatehouseCli(['check'], { env: { GATEHOUSE_CONFIG: file } });
    expect(res.code, res.stderr).toBe(0);
  });

  it.each([
    {
      description: 'two schema problems',
      config: { entryPoints: { web: { address: '127.0.0.1:0', maxHeaderSize: 10, timeouts: { idle: 'soon' } } } },
      mentions: [/maxHeaderSize/, /timeouts\/idle/],
    },
    {
      description: 'three router problems (syntax, matcher, reference)',
      config: {
        entryPoints: { web: { address: '127.0.0.1:0' } },
        http: {
          routers: {
            bad1: { rule: 'Host(`a.test`', respond: { body: 'x' } },
            bad2: { rule: 'Hots(`b.test`)', respond: { body: 'x' } },
            orphan: { rule: 'Host(`c.test`)', service: 'nowhere' },
          },
        },
      },
      mentions: [/bad1/, /bad2/, /nowhere/],
    },
  ])('prints all of $description and exits 1', async ({ config, mentions }) => {
    const res = await runGatehouseCli(['check'], { config });
    expect(res.code).toBe(1);
    for (const m of mentions) expect(res.stdout + res.stderr).toMatch(m);
  });

  it('prints schema and router problems together, not only the first kind, and exits 1', async () => {
    const res = await runGatehouseCli(['check'], {
      config: {
        entryPoints: { web: { address: '127.0.0.1:0', maxHeaderSize: 10 } },
        http: {
          routers: {
            bad1: { rule: 'Host(`a.test`', respond: { body: 'x' } },
            bad2: { rule: 'Hots(`b.test`)', respond: { body: 'x' } },
            orphan: { rule: 'Host(`c.test`)', service: 'nowhere' },
          },
        },
      },
    });
    expect(res.code).toBe(1);
    const out = res.stdout + res.stderr;
    expect(out).toMatch(/maxHeaderSize/);
    expect(out).toMatch(/bad1/);
    expect(out).toMatch(/bad2/);
    expect(out).toMatch(/nowhere/);
  });

  it.each([
    { description: 'rule syntax', router: { rule: 'Host(`a.test`', respond: {} }, code: /RULE_SYNTAX/ },
    { description: 'unknown matcher', router: { rule: 'Hots(`a.test`)', respond: {} }, code: /RULE_MATCHER/ },
    { description: 'missing service', router: { rule: 'Host(`a.test`)', service: 'nowhere' }, code: /CONFIG_REFERENCE/ },
  ])('reports $description with its code and exits 1', async ({ router, code }) => {
    const res = await runGatehouseCli(['check'], { config: { ...valid, http: { routers: { r: router } } } });
    expect(res.code).toBe(1);
    expect(res.stdout + res.stderr).toMatch(code);
  });
});

describe('a router with a missing service at start', () => {
  it('is disabled with a log line naming router and service, while the others serve', async () => {
    const gh = await startGatehouse({
      entryPoints: { web: { address: '127.0.0.1:0' } },
      http: {
        routers: {
          broken: { rule: 'Host(`broken.test`)', service: 'does-not-exist' },
          fine: { rule: 'Host(`fine.test`)', respond: { body: 'fine' } },
        },
      },
    });
    const line = gh.logs.find((l) => l['router'] === 'broken' && (l.level === 'warn' || l.level === 'error'));
    expect(line, JSON.stringify(gh.logs)).toBeDefined();
    expect(line!.msg).toMatch(/disabled/);
    expect(JSON.stringify(line)).toContain('does-not-exist');

    const ok = await httpRequest(gh.ports['web']!, { host: 'fine.test' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('fine');
    const broken = await httpRequest(gh.ports['web']!, { host: 'broken.test' });
    expect(broken.status).toBe(404);
  });
});
