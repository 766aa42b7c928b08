/**
 * Servers transports: how gatehouse connects to HTTP upstreams (TLS verification, SNI, client certificates, pool
 * size, timeouts), named and shared by services as Traefik's `http.serversTransports`. Part of the single schema
 * source (schema.ts composes it).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DURATION_PATTERN, Name } from './schema-common.js';

/** A duration with no default of its own: the load balancer's `timeouts` win, then gatehouse's defaults. */
const TransportDuration = (description: string) => Type.String({ pattern: DURATION_PATTERN, description, examples: ['5s', '90s'] });

/** A PEM file path, or the PEM text itself (Traefik's FileOrContent: text starting with `-----BEGIN`). */
const FileOrContent = (description: string) => Type.String({ minLength: 1, description });

export const ServersTransportSchema = Type.Object(
  {
    serverName: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "Name sent as SNI to https:// servers and checked against their certificate. Default: the host of each server's URL (an IP address is checked against the certificate's IP entries and sends no SNI).",
        examples: ['pve.local'],
      }),
    ),
    insecureSkipVerify: Type.Optional(
      Type.Boolean({
        description:
          "Accept any certificate from https:// servers (no chain, name or date check). For a lab box with a self-signed certificate you cannot add to rootCAs; gatehouse logs a warning naming each service that uses it at start and at every reload. rootCAs is the safer fix.",
        default: false,
      }),
    ),
    rootCAs: Type.Optional(
      Type.Array(FileOrContent('A PEM file (relative to the config file) or the PEM text itself.'), {
        minItems: 1,
        description:
          "CA certificates that https:// servers' certificates are verified against, instead of the system's CAs. For a self-signed server, its own certificate. Read when the config is loaded (a reload reads them again).",
        examples: [['certs/pve-ca.pem']],
      }),
    ),
    certificates: Type.Optional(
      Type.Array(
        Type.Object(
          {
            certFile: FileOrContent('Client certificate (PEM file, or its text), with its chain.'),
            keyFile: FileOrContent('Its private key (PEM file, or its text).'),
          },
          { additionalProperties: false },
        ),
        {
          minItems: 1,
          maxItems: 1,
          description: 'Client certificate presented to https:// servers that ask for one (mutual TLS). One certificate (the first of a Traefik list is used).',
        },
      ),
    ),
    maxIdleConnsPerHost: Type.Optional(
      Type.Integer({
        minimum: -1,
        description:
          "Keep-alive connections per server: the most open at once (more requests wait for one to be free); -1: no reuse, one connection per request; 0: the default. A load balancer's own maxConnections wins. Traefik caps only the idle ones (default 2) and opens more on demand.",
      }),
    ),
    forwardingTimeouts: Type.Optional(
      Type.Object(
        {
          dialTimeout: Type.Optional(TransportDuration('Time to open a connection (TLS handshake included); past it, 502. The load balancer\'s timeouts.connect wins.')),
          responseHeaderTimeout: Type.Optional(
            TransportDuration("Time from sending a request to its response headers; past it, 504. The load balancer's timeouts.responseHeaders wins."),
          ),
          idleConnTimeout: Type.Optional(TransportDuration("How long an idle keep-alive connection is kept. The load balancer's timeouts.idle wins.")),
        },
        { additionalProperties: false, description: 'Timeouts of the services that use this transport, as Traefik names them.' },
      ),
    ),
    disableHTTP2: Type.Optional(
      Type.Boolean({
        description: 'Accepted for Traefik configs; https:// servers are always spoken to in HTTP/1.1 (h2c:// servers in HTTP/2), so it changes nothing.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "How gatehouse connects to a service's servers. A load balancer names one in serversTransport; one named `default` applies to every load balancer that names none. Certificates of https:// servers are verified against the system's CAs unless rootCAs or insecureSkipVerify says otherwise.",
  },
);

/** `http.serversTransports`: named transports. */
export const ServersTransportsSchema = Type.Record(Name, ServersTransportSchema, {
  description: 'Named transports (TLS to upstreams, pool size, timeouts) that load balancers refer to by serversTransport, as in Traefik.',
  additionalProperties: false,
});

export type ServersTransportConfig = Static<typeof ServersTransportSchema>;
