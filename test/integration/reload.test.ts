// Hot reload of the config through a real gatehouse process: the file is edited in place (and by rename-replace, as
// editors do), SIGHUP and `gatehouse reload` reload it, an invalid edit is refused with the running config kept, and
// routes, entry points and log settings come and go. TLS and passthrough: reload-tls-passthrough.test.ts; traffic
// in flight across reloads: reload-in-flight.test.ts.
import { rename, writeFile } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGatehouseCli, startGatehouse, stopAllGatehouses } from '../helpers/gatehouse-process.js';
import { httpRequest, tryConnect } from '../helpers/raw-http.js';
import { count, edit, stateDir } from '../helpers/reload-fixtures.js';
import { until } from '../helpers/tcp-sockets.js';

afterEach(stopAllGatehouses);
afterAll(stopAllGatehouses);

const respondConfig = (stateDir: string, routes: Record<string, string>, extra: object = {}) => ({
  stateDir,
  entryPoints: { web: { address: '127.0.0.1:0' } },
  http: {
    routers: Object.fromEntries(Object.entries(routes).map(([host, body]) => [host.replace(/\W/g, '-'), { rule: `Host(\`${host}\`)`, respond: { body } }])),
  },
  ...extra,
});

describe('config reload', () => {
  it('a route added by an edit serves, a removed one is gone; the listener stays the same', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'A' }));
    const port = gh.ports['web']!;
    expect((await httpRequest(port, { host: 'b.test' })).status).toBe(404);

    await edit(gh, respondConfig(dir, { 'a.test': 'A', 'b.test': 'B' }));
    expect((await httpRequest(port, { host: 'b.test' })).text).toBe('B');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A');

    await edit(gh, respondConfig(dir, { 'a.test': 'A2' }));
    expect((await httpRequest(port, { host: 'b.test' })).status).toBe(404);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('A2');
    expect(gh.ports['web']).toBe(port);
    expect(count(gh, 'entry point listening')).toBe(1);
  });

  it('an invalid edit is refused with file, line and path; the old config serves; the next valid edit is taken', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'old' }));
    const port = gh.ports['web']!;

    await edit(gh, '{ "entryPoints": { "web": { "address": "127.0.0.1:0" } },\n  "http": { "routers": { "x": { "rule": "Host(`a.test`)", "respond": { "body": "new" } } }', 'config reload refused, the running config stays');
    const syntax = gh.logs.filter((l) => l.msg === 'config reload refused, the running config stays').at(-1)!;
    expect(syntax['code']).toBe('CONFIG_SYNTAX');
    expect(syntax['file']).toBe(gh.file);
    expect(syntax['line']).toBeTypeOf('number');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('old');

    await edit(gh, respondConfig(dir, { 'a.test': 'bad' }, { entryPoints: { web: { address: '127.0.0.1:0', maxHeaderSize: 'big' } } }), 'config reload refused, the running config stays');
    const schema = gh.logs.filter((l) => l.msg === 'config reload refused, the running config stays').at(-1)!;
    expect(schema['code']).toBe('CONFIG_SCHEMA');
    expect(schema['path']).toBe('/entryPoints/web/maxHeaderSize');
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('old');

    // `gatehouse status` reports the refused reload.
    const status = await runGatehouseCli(['status', '--config', gh.file]);
    expect(status.code).toBe(0);
    const shown = JSON.parse(status.stdout) as { lastReload: { ok: boolean; errors: string[] }; entryPoints: Record<string, { port: number }> };
    expect(shown.lastReload.ok).toBe(false);
    expect(shown.lastReload.errors.join('\n')).toMatch(/maxHeaderSize/);
    expect(shown.entryPoints['web']!.port).toBe(port);

    await edit(gh, respondConfig(dir, { 'a.test': 'new' }));
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('new');
  });

  it('an editor-style rename-replace is seen; a save without changes reloads nothing', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'one' }));
    const port = gh.ports['web']!;
    const before = count(gh, 'config reloaded');
    const tmp = `${gh.file}.swp`;
    await writeFile(tmp, JSON.stringify(respondConfig(dir, { 'a.test': 'two' })));
    await rename(tmp, gh.file);
    await until('reload after rename', () => count(gh, 'config reloaded') > before, 5_000);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('two');

    // The same bytes written again: the content hash is unchanged, no reload.
    const now = count(gh, 'config reloaded');
    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'two' })));
    await new Promise((r) => setTimeout(r, 800));
    expect(count(gh, 'config reloaded')).toBe(now);
  });

  it('SIGHUP and `gatehouse reload` reload; `reload` of an invalid file exits 1 with the reason', async () => {
    const dir = await stateDir();
    const gh = await startGatehouse(respondConfig(dir, { 'a.test': 'one' }, { lifecycle: { watch: false } }));
    const port = gh.ports['web']!;
    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'two' }, { lifecycle: { watch: false } })));
    await new Promise((r) => setTimeout(r, 400));
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('one'); // not watched

    const before = count(gh, 'config reloaded');
    gh.signal('SIGHUP');
    await until('reload after SIGHUP', () => count(gh, 'config reloaded') > before, 5_000);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('two');

    await writeFile(gh.file, JSON.stringify(respondConfig(dir, { 'a.test': 'three' }, { lifecycle: { watch: false } })));
    const ok = await runGatehouseCli(['reload', '--config', gh.file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/reloaded in \d+ ms/);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('three');

    await writeFile(gh.file, JSON.stringify({ ...respondConfig(dir, {}), stateDir: dir, entryPoints: {} }));
    const refused = await runGatehouseCli(['reload', '--config', gh.file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/reload refused, the running config stays/);
    expect(refused.stderr).toMatch(/entryPoints/);
    expect((await httpRequest(port, { host: 'a.test' })).text).toBe('three');
  });

  it('the access log and the log level follow a reload', async () => {
    const dir = await stateDir();
    const base = respondConfig(dir, { 'a.test': 'A' });
    const gh = await startGatehouse({ ...base, log: { accessLog: false } });
    const port = gh.ports['web']!;
    const access = () => gh.logs.filter((l) => l['host'] === 'a.test' && l['status'] === 200).length;
    await httpRequest(port, { host: 'a.test' });
    await new Promise((r) => setTimeout(r, 200));
    expect(access()).toBe(0);
    await edit(gh, { ...base, log: { accessLog: true } });
    await httpRequest(port, { host: 'a.test' });
    await until('access line', () => access() === 1, 3_000);
    // At warn, neither the access line (info) nor the reload line is written any more.
    await writeFile(gh.file, JSON.stringify({ ...base, log: { accessLog: true, level: 'warn' } }));
    await new Promise((r) => setTimeout(r, 1_000));
    await httpRequest(port, { host: 'a.test' });
    await new Promise((r) => setTimeout(r, 300));
    expect(access()).toBe(1);
  });

  it('an entry point added by a reload listens; a removed one stops listening', async () => {
    const dir = await stateDir();
    const base = respondConfig(dir, { 'a.test': 'A' });
    const gh = await startGatehouse(base);
    await edit(gh, { ...base, entryPoints: { ...base.entryPoints, extra: { address: '127.0.0.1:0' } } });
    await until('extra listening', () => gh.ports['extra'] !== undefined, 3_000);
    const extra = gh.ports['extra']!;
    expect((await httpRequest(extra, { host: 'a.test' })).text).toBe('A');

    await edit(gh, base);
    await until('extra removed', () => gh.logs.some((l) => l.msg === 'entry point removed, draining' && l['entryPoint'] === 'extra'), 3_000);
    expect(await tryConnect(extra)).toBe('refused');
    expect((await httpRequest(gh.ports['web']!, { host: 'a.test' })).text).toBe('A');
  });
});
