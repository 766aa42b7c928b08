import { describe, expect, it } from 'vitest';
import { splitHost } from './context.js';

describe('splitHost', () => {
  it.each([
    ['empty', '', '', ''],
    ['name only', 'a.test', 'a.test', ''],
    ['name and port', 'a.test:5002', 'a.test', '5002'],
    ['upper case is lowered', 'App.Example.COM:80', 'app.example.com', '80'],
    ['IPv4 and port', '127.0.0.1:8080', '127.0.0.1', '8080'],
    ['IPv6 in brackets', '[::1]', '[::1]', ''],
    ['IPv6 and port', '[::1]:8443', '[::1]', '8443'],
    ['trailing colon', 'a.test:', 'a.test', ''],
  ])('%s: %j', (_d, raw, host, port) => {
    expect(splitHost(raw)).toEqual({ host, port });
  });
});
