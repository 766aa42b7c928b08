import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { stripAnnotations, VALIDATOR_FILE, validatorModuleText } from './compiled-validator.js';
import { buildConfigJsonSchema } from './json-schema.js';
import { configJsonSchema, describeValue, schemaProblems } from './validate.js';
import { SCHEMA_FILE, schemaFileText } from './write-schema.js';

const web = { web: { address: ':80' } };

describe('configJsonSchema', () => {
  it('is what the committed schema file holds (run `npm run build && npm run schema` after changing schema.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaFileText());
  });

  it('declares draft-07 and is a valid draft-07 schema', () => {
    const schema = configJsonSchema();
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(Object.keys(schema).slice(0, 4)).toEqual(['$schema', '$id', 'title', 'description']);
    const ajv = new Ajv({ strict: true });
    expect(ajv.validateSchema(schema)).toBe(true);
  });

  it('is what the compiled validator was generated from (run `npm run build && npm run schema` after changing schema.ts)', () => {
    expect(readFileSync(VALIDATOR_FILE, 'utf8') === validatorModuleText(buildConfigJsonSchema()), `${VALIDATOR_FILE} is out of date`).toBe(true);
  });

  it('compiles without annotations, keeping properties that are named like them', () => {
    const schema = { type: 'object', description: 'd', properties: { description: { type: 'string', default: 'x' } }, anyOf: [{ title: 't', const: 1 }] };
    expect(stripAnnotations(schema)).toEqual({ type: 'object', properties: { description: { type: 'string' } }, anyOf: [{ const: 1 }] });
  });

  it('returns a fresh copy each time', () => {
    const a = configJsonSchema();
    a.title = 'changed';
    expect(configJsonSchema().title).toBe('gatehouse config');
  });
});

describe('schemaProblems', () => {
  it.each([
    ['a minimal config is valid', { entryPoints: web }, []],
    ['missing entryPoints', {}, [{ path: [], at: 'value', message: 'missing required key "entryPoints"' }]],
    ['not an object at all', [], [{ path: [], at: 'value', message: 'expected an object, found an array' }]],
    ['no entry point', { entryPoints: {} }, [{ path: ['entryPoints'], at: 'value', message: 'expected at least 1 entry, found none' }]],
    ['unknown key with a suggestion', { entryPoints: web, htpp: {} },
      [{ path: ['htpp'], at: 'key', message: 'unknown key "htpp"; did you mean "http"?' }]],
    ['unknown key without one', { entryPoints: web, plugins: {} }, [{ path: ['plugins'], at: 'key', message: 'unknown key "plugins"' }]],
    ['invalid record name', { entryPoints: { '-web': { address: ':80' } } },
      [{ path: ['entryPoints', '-web'], at: 'key', message: 'invalid name "-web": expected a name matching ^[A-Za-z0-9][A-Za-z0-9_.@-]*$' }]],
    ['invalid header name', { entryPoints: web, http: { routers: { r: { rule: 'Path(`/`)', respond: { headers: { 'a b': 'x' } } } } } },
      [{ path: ['http', 'routers', 'r', 'respond', 'headers', 'a b'], at: 'key', message: "invalid name \"a b\": expected a name matching ^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }]],
    ['string enum collapses to one line', { entryPoints: web, log: { level: 'verbose' } },
      [{ path: ['log', 'level'], at: 'value', message: 'expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"; found "verbose"' }]],
    ['enum given a wrong type', { entryPoints: web, log: { level: 3 } },
      [{ path: ['log', 'level'], at: 'value', message: 'expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"; found number 3' }]],
    ['duration', { entryPoints: web, lifecycle: { graceTimeout: '10 seconds' } },
      [{ path: ['lifecycle', 'graceTimeout'], at: 'value', message: 'expected a duration such as 500ms, 10s, 2m, 1h or 0; found "10 seconds"' }]],
    ['integer below minimum', { entryPoints: { web: { address: ':80', maxHeaderSize: 10 } } },
      [{ path: ['entryPoints', 'web', 'maxHeaderSize'], at: 'value', message: 'expected a number >= 1024, found number 10' }]],
    ['integer given a fraction', { entryPoints: { web: { address: ':80', maxHeaderSize: 2048.5 } } },
      [{ path: ['entryPoints', 'web', 'maxHeaderSize'], at: 'value', message: 'expected integer, found number 2048.5' }]],
    ['boolean given a string', { entryPoints: web, lifecycle: { closeRemovedConnections: 'yes' } },
      [{ path: ['lifecycle', 'closeRemovedConnections'], at: 'value', message: 'expected boolean, found "yes"' }]],
    ['boolean-or-object given a string', { entryPoints: web, log: { accessLog: 'yes' } },
      [{ path: ['log', 'accessLog'], at: 'value', message: 'expected one of boolean, an object; found "yes"' }]],
    ['an access-log field that cannot be dropped', { entryPoints: web, log: { accessLog: { fields: { drop: ['status'] } } } },
      [{ path: ['log', 'accessLog', 'fields', 'drop', '0'], at: 'value', message: 'expected one of "query", "userAgent", "referer", "tlsVersion", "tlsCipher", "clientIp", "router", "service", "upstream", "upstreamStatus", "upstreamMs"; found "status"' }]],
    ['an unknown key in the access log object', { entryPoints: web, log: { accessLog: { formt: 'common' } } },
      [{ path: ['log', 'accessLog', 'formt'], at: 'key', message: 'unknown key "formt"; did you mean "format"?' }]],
    ['empty string', { entryPoints: { web: { address: '' } } },
      [{ path: ['entryPoints', 'web', 'address'], at: 'value', message: 'expected a non-empty string, found ""' }]],
    ['empty server list', { entryPoints: web, http: { services: { s: { loadBalancer: { servers: [] } } } } },
      [{ path: ['http', 'services', 's', 'loadBalancer', 'servers'], at: 'value', message: 'expected at least 1 item, found none' }]],
    ['duplicate entry point names in a router', { entryPoints: web, http: { routers: { r: { rule: 'Path(`/`)', entryPoints: ['web', 'web'] } } } },
      [{ path: ['http', 'routers', 'r', 'entryPoints', '1'], at: 'value', message: 'duplicate item "web" (first at 0)' }]],
    ['null where an object belongs', { entryPoints: web, http: null },
      [{ path: ['http'], at: 'value', message: 'expected an object, found null' }]],
  ])('%s', (_description, value, expected) => {
    expect(schemaProblems(value)).toEqual(expected);
  });

  it('does not change the value it checks (no defaults, no coercion)', () => {
    const value = { entryPoints: { web: { address: ':80', maxHeaderSize: '2048' } } };
    const before = structuredClone(value);
    schemaProblems(value);
    expect(value).toEqual(before);
  });
});

describe('describeValue', () => {
  it.each([
    ['a string, quoted', 'abc', '"abc"'],
    ['a long string, cut', 'x'.repeat(100), `"${'x'.repeat(57)}..."`],
    ['a number', 8080, 'number 8080'],
    ['a boolean', false, 'boolean false'],
    ['null', null, 'null'],
    ['an array', [1], 'an array'],
    ['an object', { a: 1 }, 'an object'],
  ])('%s', (_description, value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });
});
