/**
 * `ipAllowList`: only clients whose address (socket peer, or X-Forwarded-For behind trusted proxies, see
 * client-ip-strategy.ts) is in `sourceRange` pass; others get 403. The ranges are one BlockList built at load.
 */
import type { IpAllowListConfig } from '../config/schema-middlewares.js';
import { MIDDLEWARE_DEFAULTS } from '../config/option-defaults.js';
import type { Wrapper } from '../http/middlewares.js';
import { clientIpMatcher } from '../rules/client-ip-match.js';
import { compileClientIpStrategy, compileRanges } from './client-ip-strategy.js';

const FORBIDDEN = Buffer.from('Forbidden\n');

/** Build an ipAllowList; throws MIDDLEWARE_CONFIG for an entry that is not an address or CIDR. */
export function createIpAllowList(spec: IpAllowListConfig, path: string): Wrapper {
  const allowed = clientIpMatcher(compileRanges(spec.sourceRange, `${path}/sourceRange`));
  const clientIpOf = compileClientIpStrategy(spec.ipStrategy, `${path}/ipStrategy`);
  const status = spec.rejectStatusCode ?? MIDDLEWARE_DEFAULTS.ipAllowListRejectStatus;
  return (next) => (req, res, ctx) => {
    const ip = clientIpOf(ctx);
    if (ip !== '' && allowed(ip)) return next(req, res, ctx);
    ctx.log.debug({ clientIp: ip, router: ctx.router }, 'client not in allow list');
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': FORBIDDEN.length });
    res.end(FORBIDDEN);
  };
}
