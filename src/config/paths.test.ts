import { describe, expect, it } from 'vitest';
import { resolveConfigRelative, resolveStateDir, resolveTlsPaths } from './paths.js';
import type { Config } from './schema.js';

const base = { entryPoints: {} } as unknown as Config;

describe('resolveStateDir', () => {
  it.each([
    { description: 'the default, against the cwd', config: base, env: {}, expected: '/srv/app/state' },
    { description: 'the config value', config: { ...base, stateDir: 'data/gh' }, env: {}, expected: '/srv/app/data/gh' },
    { description: 'an absolute config value', config: { ...base, stateDir: '/var/lib/gatehouse' }, env: {}, expected: '/var/lib/gatehouse' },
    { description: 'GATEHOUSE_STATE_DIR wins', config: { ...base, stateDir: 'x' }, env: { GATEHOUSE_STATE_DIR: '/state' }, expected: '/state' },
    { description: 'an empty variable counts as unset', config: { ...base, stateDir: 'x' }, env: { GATEHOUSE_STATE_DIR: '' }, expected: '/srv/app/x' },
  ])('$description', ({ config, env, expected }) => {
    expect(resolveStateDir(config, env, '/srv/app')).toBe(expected);
  });
});

describe('resolveTlsPaths', () => {
  it('resolves certsDir against the cwd and listed files against the config file', () => {
    const config = {
      ...base,
      tls: { certsDir: 'certs', certificates: [{ certFile: 'a.crt', keyFile: '/abs/a.key' }], defaultCertificate: { certFile: 'd.crt', keyFile: 'd.key' } },
    } as Config;
    expect(resolveTlsPaths(config, { configFile: '/etc/gatehouse/config.json', env: {}, cwd: '/srv/app' })).toEqual({
      certsDir: '/srv/app/certs',
      stateDir: '/srv/app/state',
      files: [{ certFile: '/etc/gatehouse/a.crt', keyFile: '/abs/a.key' }],
      defaultCertificate: { certFile: '/etc/gatehouse/d.crt', keyFile: '/etc/gatehouse/d.key' },
    });
  });

  it.each([
    { description: 'relative config file', file: 'conf/c.json', expected: '/srv/app/conf/x.pem' },
    { description: 'no config file (library API)', file: undefined, expected: '/srv/app/x.pem' },
  ])('resolveConfigRelative: $description', ({ file, expected }) => {
    expect(resolveConfigRelative('x.pem', file, '/srv/app')).toBe(expected);
  });
});
