import { describe, expect, it } from 'vitest';
import { environmentName, legacyDefaultStateDir, resolveConfigRelative, resolveStateDir, resolveTlsPaths } from './paths.js';
import type { Config } from './schema.js';

const base = { entryPoints: {} } as unknown as Config;

describe('environmentName', () => {
  it.each([
    ['config.prod.json', 'prod'],
    ['/etc/gatehouse/config.test.json', 'test'],
    ['config.staging.jsonc', 'staging'],
    ['edge.json', 'edge'],
    ['config.json', 'config'],
    ['Config.Prod.JSON', 'Prod'],
    ['gatehouse.prod.yaml', 'gatehouse.prod'],
  ])('%s → %s', (file, expected) => {
    expect(environmentName(file)).toBe(expected);
  });
});

describe('resolveStateDir', () => {
  it.each([
    { description: 'no file: the default, against the cwd', config: base, file: undefined, env: {}, expected: '/srv/app/state' },
    { description: 'a file: state/<environment> beside it', config: base, file: '/etc/gatehouse/config.prod.json', env: {}, expected: '/etc/gatehouse/state/prod' },
    { description: 'prod and test from one directory do not share', config: base, file: 'config.test.json', env: {}, expected: '/srv/app/state/test' },
    { description: 'a relative file: beside it, against the cwd', config: base, file: 'conf/config.prod.json', env: {}, expected: '/srv/app/conf/state/prod' },
    { description: 'the config value, against the file', config: { ...base, stateDir: 'data/gh' }, file: '/etc/gh/c.json', env: {}, expected: '/etc/gh/data/gh' },
    { description: 'the config value without a file, against the cwd', config: { ...base, stateDir: 'data/gh' }, file: undefined, env: {}, expected: '/srv/app/data/gh' },
    { description: 'an absolute config value', config: { ...base, stateDir: '/var/lib/gatehouse' }, file: '/etc/gh/c.json', env: {}, expected: '/var/lib/gatehouse' },
    { description: 'GATEHOUSE_STATE_DIR wins', config: { ...base, stateDir: 'x' }, file: '/etc/gh/c.json', env: { GATEHOUSE_STATE_DIR: '/state' }, expected: '/state' },
    { description: 'GATEHOUSE_STATE_DIR relative: against the cwd (it is the process\'s, not the file\'s)', config: base, file: '/etc/gh/c.json', env: { GATEHOUSE_STATE_DIR: 'st' }, expected: '/srv/app/st' },
    { description: 'an empty variable counts as unset', config: { ...base, stateDir: 'x' }, file: '/etc/gh/c.json', env: { GATEHOUSE_STATE_DIR: '' }, expected: '/etc/gh/x' },
  ])('$description', ({ config, file, env, expected }) => {
    expect(resolveStateDir(config, { configFile: file, env, cwd: '/srv/app' })).toBe(expected);
  });

  it.each([
    { description: 'a file with the default: the old default in the cwd', config: base, file: '/etc/gh/config.prod.json', env: {}, expected: '/srv/app/state' },
    { description: 'stateDir set: none', config: { ...base, stateDir: 'x' }, file: '/etc/gh/config.prod.json', env: {}, expected: undefined },
    { description: 'GATEHOUSE_STATE_DIR set: none', config: base, file: '/etc/gh/config.prod.json', env: { GATEHOUSE_STATE_DIR: '/s' }, expected: undefined },
    { description: 'no file: none (the default did not move)', config: base, file: undefined, env: {}, expected: undefined },
  ])('legacy default state directory: $description', ({ config, file, env, expected }) => {
    expect(legacyDefaultStateDir(config, { configFile: file, env, cwd: '/srv/app' })).toBe(expected);
  });
});

describe('resolveTlsPaths', () => {
  it('resolves certsDir, the state directory and listed files against the config file', () => {
    const config = {
      ...base,
      tls: { certsDir: 'certs', certificates: [{ certFile: 'a.crt', keyFile: '/abs/a.key' }], defaultCertificate: { certFile: 'd.crt', keyFile: 'd.key' } },
    } as Config;
    expect(resolveTlsPaths(config, { configFile: '/etc/gatehouse/config.json', env: {}, cwd: '/srv/app' })).toEqual({
      certsDir: '/etc/gatehouse/certs',
      stateDir: '/etc/gatehouse/state/config',
      files: [{ certFile: '/etc/gatehouse/a.crt', keyFile: '/abs/a.key' }],
      defaultCertificate: { certFile: '/etc/gatehouse/d.crt', keyFile: '/etc/gatehouse/d.key' },
    });
  });

  it('without a config file, against the cwd', () => {
    expect(resolveTlsPaths(base, { configFile: undefined, env: {}, cwd: '/srv/app' })).toMatchObject({ certsDir: '/srv/app/certs', stateDir: '/srv/app/state' });
  });

  it.each([
    { description: 'relative config file', file: 'conf/c.json', expected: '/srv/app/conf/x.pem' },
    { description: 'no config file (library API)', file: undefined, expected: '/srv/app/x.pem' },
  ])('resolveConfigRelative: $description', ({ file, expected }) => {
    expect(resolveConfigRelative('x.pem', file, '/srv/app')).toBe(expected);
  });
});
