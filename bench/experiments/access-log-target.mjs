// A gatehouse (dist/api.js, bench/gatehouse.json) whose logger is chosen by ACCESS_LOG_VARIANT, to take the access
// log's cost apart: 'off' (level warn: no line built), 'discard' (lines built and handed to a destination that
// drops them: the cost of building them and of the per-request hook), 'stdout' (the real destination, src/log.ts).
// Env: PORT, TARGET (the backend URL).
import { createGatehouse } from '../../dist/api.js';
import { createLogger } from '../../dist/log.js';

const variant = process.env.ACCESS_LOG_VARIANT ?? 'stdout';
const discard = { write() {} };
const logger =
  variant === 'off'
    ? createLogger({ level: 'warn' })
    : variant === 'discard'
      ? createLogger({ level: 'info', destination: discard })
      : createLogger({ level: 'info' });
const gh = createGatehouse({
  config: 'bench/gatehouse.json',
  env: { GATEHOUSE_BENCH_PORT: process.env.PORT, GATEHOUSE_BENCH_BACKEND: process.env.TARGET },
  logger,
});
await gh.start();
process.on('SIGTERM', () => gh.stop({ graceMs: 0 }).then(() => process.exit(0)));
