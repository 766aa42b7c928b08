/**
 * The two pieces of undici the forwarder uses, loaded from their own files: undici's index loads all of undici
 * (fetch, WebSocket, EventSource, the cache and mock agents: ~170 ms of CPU at start on the test VM, 60 ms for these
 * two). Like read-slabs.ts's reading pattern, these paths are undici's internals: keep its version pinned, and the
 * read-slabs and forwarding tests run on every Node line we ship. Nothing here uses the Dispatcher API methods that
 * the index adds (request, stream, pipeline): the forwarder calls `dispatch` only.
 */
import { createRequire } from 'node:module';
import type { Pool as PoolType, buildConnector as buildConnectorType } from 'undici';

const require = createRequire(import.meta.url);

/** undici's Pool class (the one `import { Pool } from 'undici'` gives). */
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolType;
/** undici's buildConnector (the one `import { buildConnector } from 'undici'` gives). */
export const buildConnector = require('undici/lib/core/connect.js') as typeof buildConnectorType;
