/**
 * UDP as Traefik has it (issue 17): an entry point whose address ends in `/udp` forwards datagrams to the one UDP
 * router attached to it, whose service load-balances them over servers, keeping a session per client address and
 * port. schema.ts composes these parts into the entry point (`udp`) and the config's top level (`udp`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULTS } from './defaults.js';
import { Duration, Name, NamedMap } from './schema-common.js';

export const EntryPointUdpSchema = Type.Object(
  {
    timeout: Type.Optional(
      Duration(
        "How long a session (one client address and port) stays without a datagram either way before it is closed and its upstream socket released (Traefik's `udp.timeout`). Must be above 0.",
        DEFAULTS.udpTimeout,
      ),
    ),
    maxSessions: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1000000,
        description:
          'Most sessions open at once on this entry point. A datagram that would open one more is dropped, counted (`gatehouse_udp_dropped_total{reason="session_limit"}`) and logged at most once per 10 s (`udp session limit reached`): a flood of spoofed source addresses costs one upstream socket per session up to here and nothing past it. Traefik has no limit.',
        default: DEFAULTS.udpMaxSessions,
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Sessions of a UDP entry point (one whose address ends in `/udp`); not allowed on a TCP one. A reload applies changes here to the sessions that exist.',
  },
);

export const UdpRouterSchema = Type.Object(
  {
    entryPoints: Type.Optional(
      Type.Array(Name, { uniqueItems: true, description: 'UDP entry points this router takes the datagrams of. Default: every UDP entry point.' }),
    ),
    service: Type.String({ minLength: 1, description: 'Name of the service in udp.services.' }),
  },
  {
    additionalProperties: false,
    description:
      'Sends the datagrams of its entry points to a service. There is no rule: UDP has nothing to match on. One router per entry point, as in Traefik: where several name one entry point, the one whose name sorts last takes it (Traefik\'s choice) and the others are reported as problems for that entry point.',
  },
);

export const UdpServiceSchema = Type.Object(
  {
    loadBalancer: Type.Optional(
      Type.Object(
        {
          servers: Type.Array(
            Type.Object(
              { address: Type.String({ minLength: 1, description: 'host:port of the server.', examples: ['10.0.0.53:53', '[fd00::53]:53', 'pihole.lan:53'] }) },
              { additionalProperties: false },
            ),
            { minItems: 1, description: 'Servers; each new session goes to the next one, round robin. A session keeps its server until it closes.' },
          ),
        },
        { additionalProperties: false, description: 'Balances sessions over servers.' },
      ),
    ),
    weighted: Type.Optional(
      Type.Object(
        {
          services: Type.Array(
            Type.Object(
              {
                name: Type.String({ minLength: 1, description: 'Name of another service in udp.services.' }),
                weight: Type.Optional(Type.Integer({ minimum: 0, description: "This service's share of new sessions relative to the others' (0: none).", default: 1 })),
              },
              { additionalProperties: false },
            ),
            { minItems: 1, description: 'Services and their weights; new sessions spread over them by weight (smooth weighted round robin).' },
          ),
        },
        { additionalProperties: false, description: "Balances sessions over other UDP services by weight (Traefik's `weighted`)." },
      ),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Where sessions go: exactly one of loadBalancer, weighted. A weighted service naming a missing or broken service, or itself through others, is disabled with the routers using it.',
  },
);

export const UdpSchema = Type.Object(
  {
    routers: Type.Optional(NamedMap(UdpRouterSchema, 'Named UDP routers.')),
    services: Type.Optional(NamedMap(UdpServiceSchema, 'Named UDP services.')),
  },
  { additionalProperties: false, description: 'UDP forwarding on entry points whose address ends in `/udp`.' },
);

export type EntryPointUdpConfig = Static<typeof EntryPointUdpSchema>;
export type UdpConfig = Static<typeof UdpSchema>;
export type UdpRouterConfig = Static<typeof UdpRouterSchema>;
export type UdpServiceConfig = Static<typeof UdpServiceSchema>;
