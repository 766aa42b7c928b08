/**
 * The tcp folder's public face: TCP routers. On a TLS entry point, after the edge has peeked a ClientHello it asks
 * `matchTcpRoute` for a route (SNI passthrough); on a plain entry point it asks at once, with no SNI. Either way it
 * hands the socket and the peeked bytes (none on a plain one) to that route's forwarder.
 */
export { buildTcpRoutes, matchTcpRoute } from './router.js';
export type { TcpRoute, TcpRouteTable } from './router.js';
export { plainEntryPoints } from './plain-entry-points.js';
export type { PlainEntryPoints } from './plain-entry-points.js';
export { createTcpForwarder } from './forward.js';
export type { PassthroughObserver, PassthroughOrigin, PeerAddresses, TcpForwarder, TcpForwarderOptions } from './forward.js';
export { parseBackendAddress, TcpServerRing, TcpWeighted } from './backend.js';
export type { TcpBackend, TcpBalancer, TcpLink, TcpServer } from './backend.js';
export type { TcpServiceSpec } from './services.js';
export type { NamedTcpGate, TcpGate } from './middlewares.js';
export { joinSockets } from './pipe.js';
export type { Pipe, PipeEnd, PipeResult } from './pipe.js';
