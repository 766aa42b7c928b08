/**
 * The tcp folder's public face: SNI passthrough. After the edge has peeked a ClientHello it asks
 * `matchTcpRoute` for a route and hands the socket and the peeked bytes to that route's forwarder.
 */
export { buildTcpRoutes, matchTcpRoute } from './router.js';
export type { TcpRoute, TcpRouteTable } from './router.js';
export { createTcpForwarder } from './forward.js';
export type { PassthroughObserver, PassthroughOrigin, PeerAddresses, TcpForwarder, TcpForwarderOptions } from './forward.js';
export { parseBackendAddress, TcpBackendRing } from './backend.js';
export type { TcpBackend } from './backend.js';
export { joinSockets } from './pipe.js';
export type { Pipe, PipeEnd, PipeResult } from './pipe.js';
