import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { GatehouseErrors } from '../errors.js';
import { loadConfigFile, parseConfigText, validateConfig } from './index.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/config/', import.meta.url));

/** The formatted messages `run` throws, or [] when it returns. */
function messages(run: () => unknown): string[] {
  try {
    run();
    return [];
  } catch (error) {
    if (!(error instanceof GatehouseErrors)) throw error;
    return error.errors.map((e) => e.toString());
  }
}

function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

describe('loadConfigFile on the fixtures', () => {
  // Each expected line is prefixed with the fixture's path; the text after it is exact.
  it.each([
    ['syntax error', 'syntax-missing-comma.json', {}, [':5:7: invalid JSON: expected a comma or closing brace [CONFIG_SYNTAX]']],
    ['a trailing comma (JSONC)', 'syntax-trailing-comma.json', {}, []],
    ['a comment (JSONC)', 'syntax-comment.json', {}, []],
    ['a schema error after comments, at its own line and column', 'jsonc-wrong-type.json', {}, [':6:25 at /entryPoints/web/address: expected string, found number 8080 [CONFIG_SCHEMA]']],
    ['an unterminated block comment', 'syntax-unterminated-comment.json', {}, [':3:3: invalid JSON: unterminated block comment: expected */ [CONFIG_SYNTAX]']],
    ['YAML', 'valid.yaml', {}, []],
    ['YAML schema and variable errors, at their line and column', 'wrong-type.yaml', {}, [
      ':3:14 at /entryPoints/web/address: expected string, found number 8080 [CONFIG_SCHEMA]',
      ':7:19 at /http/routers/app/rule: environment variable GH_YAML_UNSET is not set (write ${GH_YAML_UNSET:-value} to give a default) [CONFIG_VARIABLE]',
      ':8:7 at /http/routers/app/servic: unknown key "servic"; did you mean "service"? [CONFIG_SCHEMA]',
    ]],
    ['a YAML duplicate key', 'syntax-duplicate.yaml', {}, [':4:3: invalid YAML: duplicate key "web" [CONFIG_SYNTAX]']],
    ['a YAML indentation error', 'syntax-indent.yaml', {}, [':4:4: invalid YAML: All mapping items must start at the same column [CONFIG_SYNTAX]']],
    ['unknown key with suggestion', 'unknown-key.json', {}, [
      ':7:9 at /http/routers/app/middleware: unknown key "middleware"; did you mean "middlewares"? [CONFIG_SCHEMA]',
    ]],
    ['wrong type', 'wrong-type.json', {}, [':4:18 at /entryPoints/web/address: expected string, found number 8080 [CONFIG_SCHEMA]']],
    ['missing required keys', 'missing-required.json', {}, [
      ':3:12 at /entryPoints/web: missing required key "address" [CONFIG_SCHEMA]',
      ':7:14 at /http/routers/app: missing required key "rule" [CONFIG_SCHEMA]',
    ]],
    ['bad enum', 'bad-enum.json', {}, [
      ':2:21 at /log/level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"; found "verbose" [CONFIG_SCHEMA]',
    ]],
    ['bad duration', 'bad-duration.json', {}, [
      ':5:32 at /entryPoints/web/timeouts/headers: expected a duration such as 500ms, 10s, 2m, 1h or 0; found "10 seconds" [CONFIG_SCHEMA]',
    ]],
    ['unset variable', 'unset-variable.json', {}, [
      ':5:63 at /http/services/api/loadBalancer/servers/0/url: environment variable GH_API_HOST is not set (write ${GH_API_HOST:-value} to give a default) [CONFIG_VARIABLE]',
    ]],
    ['malformed references', 'malformed-variable.json', {}, [
      ':3:26 at /entryPoints/web/address: invalid variable reference "${1PORT}": a name must not start with a digit [CONFIG_VARIABLE]',
      ':4:38 at /entryPoints/admin/address: unterminated variable reference "${ADMIN_PORT": missing "}" (write $${ for a literal ${) [CONFIG_VARIABLE]',
    ]],
    ['several errors at once, in file order', 'several-errors.json', {}, [
      ':2:21 at /log/level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"; found "loud" [CONFIG_SCHEMA]',
      ':2:29 at /log/acessLog: unknown key "acessLog"; did you mean "accessLog"? [CONFIG_SCHEMA]',
      ':4:25 at /entryPoints/web/address: expected string, found number 80 [CONFIG_SCHEMA]',
      ':4:51 at /entryPoints/web/timeouts/idle: expected a duration such as 500ms, 10s, 2m, 1h or 0; found "forever" [CONFIG_SCHEMA]',
      ':5:5 at /entryPoints/bad name: invalid name "bad name": expected a name matching ^[A-Za-z0-9][A-Za-z0-9_.@-]*$ [CONFIG_SCHEMA]',
      ':9:31 at /http/routers/app/rule: environment variable GH_APP_HOST is not set (write ${GH_APP_HOST:-value} to give a default) [CONFIG_VARIABLE]',
      ':9:62 at /http/routers/app/priority: expected a number >= 0, found number -1 [CONFIG_SCHEMA]',
      ':9:92 at /http/routers/app/redirect/location: expected a non-empty string, found "" [CONFIG_SCHEMA]',
      ':9:106 at /http/routers/app/redirect/status: expected one of 301, 302, 303, 307, 308; found number 300 [CONFIG_SCHEMA]',
      ':12:45 at /http/services/app/loadBalancer/servers: expected at least 1 item, found none [CONFIG_SCHEMA]',
    ]],
    ['the variable that fixes it, set', 'unset-variable.json', { GH_API_HOST: '127.0.0.1' }, []],
  ])('%s (%s)', (_description, fixture, env: NodeJS.ProcessEnv, expected) => {
    const file = join(FIXTURES, fixture);
    expect(messages(() => loadConfigFile(file, env))).toEqual(expected.map((line) => `${file}${line}`));
  });

  it.each([
    ['minimal', 'valid-minimal.json'],
    ['every section', 'valid-full.json'],
  ])('loads the valid %s fixture as a deep-frozen Config', (_description, fixture) => {
    const config = loadConfigFile(join(FIXTURES, fixture), {});
    expect(config.entryPoints.web?.address).toBe('127.0.0.1:0');
    expect(isDeepFrozen(config)).toBe(true);
    expect(() => {
      (config.entryPoints as Record<string, unknown>).extra = {};
    }).toThrow(TypeError);
  });

  it('substitutes variables with defaults, empty values and the $${ escape', () => {
    const env = { GH_DOMAIN: 'app.example.test', GH_PORT: '', GH_UPSTREAM: '127.0.0.1:4000' };
    const config = loadConfigFile(join(FIXTURES, 'valid-variables.json'), env);
    expect(config.entryPoints.web?.address).toBe('127.0.0.1:0');
    expect(config.http?.routers?.app?.rule).toBe('Host(`app.example.test`)');
    expect(config.http?.routers?.price?.respond?.body).toBe('costs ${AMOUNT} or $5');
    expect(config.http?.services?.app?.loadBalancer?.servers[0]?.url).toBe('http://127.0.0.1:4000');
  });

  it('reads process.env when no env is given', () => {
    process.env.GH_LOAD_TEST_DOMAIN = 'from-process.test';
    try {
      const config = parseConfigText('{"entryPoints": {"web": {"address": "${GH_LOAD_TEST_DOMAIN}:0"}}}');
      expect(config.entryPoints.web?.address).toBe('from-process.test:0');
    } finally {
      delete process.env.GH_LOAD_TEST_DOMAIN;
    }
  });
});

describe('loadConfigFile read errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['a missing file', join(dir, 'nope.json'), 'cannot read the config file: no such file or directory (ENOENT)'],
    ['a directory', dir, 'cannot read the config file: illegal operation on a directory (EISDIR)'],
  ])('reports %s with the OS reason', (_description, file, message) => {
    expect(messages(() => loadConfigFile(file, {}))).toEqual([`${file}: ${message} [CONFIG_READ]`]);
  });

  it('keeps the OS error as the cause', () => {
    try {
      loadConfigFile(join(dir, 'nope.json'), {});
      expect.unreachable();
    } catch (error) {
      const first = (error as GatehouseErrors).errors[0];
      expect(first?.code).toBe('CONFIG_READ');
      expect((first?.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    }
  });

  it('reads a file with a byte order mark', () => {
    const file = join(dir, 'bom.json');
    writeFileSync(file, '\uFEFF{"entryPoints": {"web": {"address": ":80"}}}');
    expect(loadConfigFile(file, {}).entryPoints.web?.address).toBe(':80');
  });
});

describe('parseConfigText', () => {
  it('names the file only in messages, and still gives line and column without one', () => {
    expect(messages(() => parseConfigText('{"entryPoints": 1}', { file: 'config.prod.json', env: {} }))).toEqual([
      'config.prod.json:1:17 at /entryPoints: expected an object, found number 1 [CONFIG_SCHEMA]',
    ]);
    expect(messages(() => parseConfigText('{"entryPoints": 1}', { env: {} }))).toEqual([
      'line 1:17 at /entryPoints: expected an object, found number 1 [CONFIG_SCHEMA]',
    ]);
    expect(messages(() => parseConfigText('{"entryPoints" 1}', { env: {} }))).toEqual([
      'line 1:16: invalid JSON: expected a colon after the property name [CONFIG_SYNTAX]',
    ]);
  });

  it('reports the same problem once, and every occurrence of an unset variable', () => {
    const text = '{"entryPoints": {"a": {"address": "${P}:${P}"}, "b": {"address": "${P}"}}}';
    expect(messages(() => parseConfigText(text, { file: 'c.json', env: {} }))).toEqual([
      'c.json:1:36 at /entryPoints/a/address: environment variable P is not set (write ${P:-value} to give a default) [CONFIG_VARIABLE]',
      'c.json:1:41 at /entryPoints/a/address: environment variable P is not set (write ${P:-value} to give a default) [CONFIG_VARIABLE]',
      'c.json:1:67 at /entryPoints/b/address: environment variable P is not set (write ${P:-value} to give a default) [CONFIG_VARIABLE]',
    ]);
  });

  it('names the reference a wrong value came from', () => {
    const text = '{"entryPoints": {"web": {"address": ":80", "timeouts": {"idle": "${IDLE:-1 minute}"}}}}';
    expect(messages(() => parseConfigText(text, { file: 'c.json', env: {} }))).toEqual([
      'c.json:1:65 at /entryPoints/web/timeouts/idle: expected a duration such as 500ms, 10s, 2m, 1h or 0; found "1 minute" (substituted from "${IDLE:-1 minute}") [CONFIG_SCHEMA]',
    ]);
  });

  it('does not substitute keys (the raw key then fails the name pattern)', () => {
    const text = '{"entryPoints": {"web": {"address": ":80"}}, "http": {"routers": {"${R}": {"rule": "Path(`/`)"}}}}';
    expect(messages(() => parseConfigText(text, { file: 'c.json', env: { R: 'app' } }))).toEqual([
      'c.json:1:67 at /http/routers/${R}: invalid name "${R}": expected a name matching ^[A-Za-z0-9][A-Za-z0-9_.@-]*$ [CONFIG_SCHEMA]',
    ]);
  });
});

describe('validateConfig', () => {
  it('reports schema problems with the JSON path and no line', () => {
    const value = { entryPoints: { web: { address: 8080 } }, http: { routerz: {} } };
    expect(messages(() => validateConfig(value, { file: 'api' }))).toEqual([
      'api at /entryPoints/web/address: expected string, found number 8080 [CONFIG_SCHEMA]',
      'api at /http/routerz: unknown key "routerz"; did you mean "routers"? [CONFIG_SCHEMA]',
    ]);
  });

  it('does not substitute variables', () => {
    expect(validateConfig({ entryPoints: { web: { address: '${PORT}' } } }).entryPoints.web?.address).toBe('${PORT}');
  });

  it('returns a frozen copy and leaves the caller\'s object, and objects in plugin options, as they were', () => {
    const factoryOption = new Map([['k', 1]]);
    const value = {
      entryPoints: { web: { address: ':80' } },
      http: { services: { s: { plugin: { name: 'mine', options: { map: factoryOption } } } } },
    };
    const config = validateConfig(value);
    expect(isDeepFrozen(config.entryPoints)).toBe(true);
    expect(Object.isFrozen(value)).toBe(false);
    expect(Object.isFrozen(value.entryPoints.web)).toBe(false);
    const options = config.http?.services?.s?.plugin?.options as { map: Map<string, number> };
    expect(options.map).toBe(factoryOption);
    expect(Object.isFrozen(factoryOption)).toBe(false);
  });
});
