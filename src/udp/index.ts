/**
 * The udp folder's public face: UDP entry points (issue 17). The runtime compiles `udp.routers` and `udp.services`
 * into one route per UDP entry point (`buildUdpRoutes`); the edge binds each UDP entry point with `listenUdp`, which
 * asks the route in force when a session opens.
 */
export { buildUdpRoutes, udpEntryPoints } from './routes.js';
export type { UdpRoute, UdpRouteTable } from './routes.js';
export { listenUdp } from './listener.js';
export type { UdpCounters, UdpListener, UdpSources } from './listener.js';
export { udpEntrySettings } from './settings.js';
export type { UdpEntrySettings } from './settings.js';
export { parseUdpServer } from './balancer.js';
export type { UdpServer } from './balancer.js';
