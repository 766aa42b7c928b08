import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.js';
import { describeService } from './describe.js';

const config = {
  entryPoints: { web: { address: ':80' } },
  http: {
    serversTransports: {
      pve: { rootCAs: ['pve-ca.pem'], serverName: 'pve.local', certificates: [{ certFile: 'c.pem', keyFile: 'k.pem' }] },
      lab: { insecureSkipVerify: true },
    },
    services: {
      plain: { loadBalancer: { servers: [{ url: 'http://10.0.0.1' }] } },
      system: { loadBalancer: { servers: [{ url: 'https://nas.lan:5001' }] } },
      pve: { loadBalancer: { servers: [{ url: 'https://10.0.0.5:8006' }], serversTransport: 'pve' } },
      lab: { loadBalancer: { servers: [{ url: 'https://10.0.0.6' }], serversTransport: 'lab' } },
      typo: { loadBalancer: { servers: [{ url: 'https://10.0.0.7' }], serversTransport: 'pvee' } },
      grpc: { loadBalancer: { servers: [{ url: 'h2c://10.0.0.8:50051' }] } },
    },
  },
} as unknown as Config;

describe('explain: the transport of a load balancer', () => {
  it.each([
    ['http:// only: no transport line', 'plain', undefined],
    ['https:// with the built-in default', 'system', "built-in default, https verified against the system's CAs, for each server's URL host"],
    ['a named transport with rootCAs, serverName and a client certificate', 'pve', `"pve", https verified against rootCAs (1 entry), for 'pve.local' (serverName, also sent as SNI), client certificate sent`],
    ['insecureSkipVerify', 'lab', '"lab", https certificates NOT verified (insecureSkipVerify)'],
    ['a transport that does not exist', 'typo', `"pvee" (NOT DEFINED: the service is disabled), https verified against the system's CAs, for each server's URL host`],
    ['h2c', 'grpc', 'built-in default, h2c: HTTP/2 without TLS'],
  ])('%s', (_what, name, expected) => {
    expect(describeService(config, name).transport).toBe(expected);
  });
});
