// The relay of src/upstream/forward-http.ts as it is (undici Pool.dispatch), for comparison with its variants.
import { Pool } from 'undici';
import { Relay, requestHeaders, serve } from './relay.mjs';

const pool = new Pool(process.env.TARGET, { connections: 128, pipelining: 1 });
serve((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: requestHeaders(req.rawHeaders), body: null }, new Relay(res));
});
