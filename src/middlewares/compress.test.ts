// compress's `encodings` and `defaultEncoding` (Traefik's options): negotiation tables and the wire.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../test/helpers/raw-http.js';
import { closeMiddlewareServers, startMiddlewareServer } from '../../test/helpers/middleware-server.js';
import { GatehouseError } from '../errors.js';
import { createCompress, negotiateEncoding, type Encoding } from './compress.js';

afterEach(closeMiddlewareServers);
const P = '/http/middlewares/zip/compress';

describe('negotiateEncoding with an offer', () => {
  it.each<[string, string | undefined, readonly Encoding[], Encoding | undefined, Encoding | undefined]>([
    ['the first offered wins a tie', 'gzip, br', ['gzip', 'br'], undefined, 'gzip'],
    ['the default offer prefers br', 'gzip, br', ['br', 'gzip'], undefined, 'br'],
    ['q-values beat the order', 'gzip;q=0.4, br', ['gzip', 'br'], undefined, 'br'],
    ['an encoding not offered is never chosen', 'br', ['gzip'], undefined, undefined],
    ['star: the first offered', '*', ['gzip', 'br'], undefined, 'gzip'],
    ['star: defaultEncoding instead', '*', ['gzip', 'br'], 'br', 'br'],
    ['explicit beats defaultEncoding', 'gzip', ['gzip', 'br'], 'br', 'gzip'],
    ['star with br refused: defaultEncoding br is not used', 'br;q=0, *', ['gzip', 'br'], 'br', 'gzip'],
    ['no header: defaultEncoding', undefined, ['gzip', 'br'], 'gzip', 'gzip'],
    ['no header and no default: none', undefined, ['gzip', 'br'], undefined, undefined],
    ['an empty header refuses all', '', ['gzip', 'br'], 'gzip', undefined],
  ])('%s', (_d, header, offered, fallback, expected) => {
    expect(negotiateEncoding(header, offered, fallback)).toBe(expected);
  });
});

describe('encodings on the wire', () => {
  const text = 'gatehouse compresses what it is offered. '.repeat(100);
  const page = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(Buffer.byteLength(text))]);
    res.end(text);
  };
  it.each<[string, { encodings?: ('br' | 'gzip' | 'zstd')[]; defaultEncoding?: 'br' | 'gzip' }, string | undefined, string | undefined]>([
    ['gzip first in the list', { encodings: ['gzip', 'br'] }, 'br, gzip', 'gzip'],
    ['zstd listed (skipped) before br', { encodings: ['zstd', 'br', 'gzip'] }, 'gzip, br, zstd', 'br'],
    ['gzip only offered, br asked', { encodings: ['gzip'] }, 'br', undefined],
    ['defaultEncoding for a client without Accept-Encoding', { defaultEncoding: 'gzip' }, undefined, 'gzip'],
  ])('%s', async (_d, options, accept, encoding) => {
    const srv = await startMiddlewareServer(createCompress(options, P), page);
    const res = await httpRequest(srv.port, { headers: accept === undefined ? {} : { 'accept-encoding': accept } });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe(encoding);
  });

  it('refuses a list with nothing it can produce', () => {
    let thrown: unknown;
    try {
      createCompress({ encodings: ['zstd'] }, P);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GatehouseError);
    expect((thrown as GatehouseError).code).toBe('MIDDLEWARE_CONFIG');
    expect((thrown as GatehouseError).location?.path).toBe(`${P}/encodings`);
  });
});
