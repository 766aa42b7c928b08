import { describe, expect, it } from 'vitest';
import { PrettySink, renderPretty } from './log-pretty.js';

const T = '2026-12-07T06:12:03.123Z';

describe('renderPretty', () => {
  it.each([
    ['an info line with fields', { level: 'info', time: T, name: 'gatehouse', entryPoint: 'web', port: 8080, msg: 'entry point listening' }, '06:12:03.123 INFO  entry point listening entryPoint=web port=8080\n'],
    ['a value with a space is quoted as JSON', { level: 'warn', time: T, name: 'gatehouse', reason: 'connect ECONNREFUSED 127.0.0.1:1', msg: 'upstream failed' }, '06:12:03.123 WARN  upstream failed reason="connect ECONNREFUSED 127.0.0.1:1"\n'],
    ['arrays and objects as JSON, booleans bare', { level: 'info', time: T, names: ['a.test', 'b.test'], ari: false, msg: 'certificate obtained' }, '06:12:03.123 INFO  certificate obtained names=["a.test","b.test"] ari=false\n'],
    ['an empty string is shown, quoted', { level: 'debug', time: T, path: '', msg: 'x' }, '06:12:03.123 DEBUG x path=""\n'],
    ['a child logger name other than gatehouse is kept', { level: 'error', time: T, name: 'plugin', msg: 'boom' }, '06:12:03.123 ERROR boom name=plugin\n'],
    ['an error object: message inline, stack indented below', { level: 'error', time: T, err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at f (x.js:1:1)' }, msg: 'handler failed' }, '06:12:03.123 ERROR handler failed err=bad\n    Error: bad\n        at f (x.js:1:1)\n'],
  ])('%s', (_what, entry, text) => {
    expect(renderPretty(entry)).toBe(text);
  });

  it('colours the level and the keys only when asked', () => {
    expect(renderPretty({ level: 'warn', time: T, msg: 'm', a: 1 }, true)).toBe('06:12:03.123 \x1b[33mWARN \x1b[0m m \x1b[2ma=\x1b[0m1\n');
  });
});

describe('PrettySink', () => {
  it('renders JSON lines and passes anything else on as it is', () => {
    const out: string[] = [];
    const sink = new PrettySink({ write: (l: string) => out.push(l) }, false);
    sink.write(`{"level":"info","time":"${T}","name":"gatehouse","status":200,"msg":"request"}\n`);
    sink.write('not json\n');
    expect(out).toEqual(['06:12:03.123 INFO  request status=200\n', 'not json\n']);
  });
});
