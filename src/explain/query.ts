/** One explain question, as the CLI asks it offline and sends it to a running instance (`--running`). */
import { explainHttp, type HttpExplanation } from './http.js';
import type { OfflineModel } from './offline.js';
import { buildRequest } from './request.js';
import { explainSni, type SniExplanation } from './sni.js';
import { explainTcp, type TcpExplanation } from './tcp.js';

/** A URL (HTTP) or an SNI (TLS), with what the request carries. */
export interface ExplainQuery {
  readonly url?: string;
  readonly sni?: string;
  readonly alpn: readonly string[];
  readonly method?: string;
  readonly headers: readonly string[];
  readonly clientIp: string;
  readonly entryPoint?: string;
  /** `--tcp`: what the plain TCP entry points do with a new connection from clientIp. */
  readonly tcp?: boolean;
}

/** Answers `query` on `model`. Throws UsageError (a bad URL, an unknown entry point). */
export function answerQuery(model: OfflineModel, query: ExplainQuery): HttpExplanation | SniExplanation | TcpExplanation {
  if (query.tcp === true) return explainTcp(model, query.clientIp, query.entryPoint);
  const entryPoint = query.entryPoint !== undefined ? { entryPoint: query.entryPoint } : {};
  if (query.sni !== undefined) return explainSni(model, { sni: query.sni, alpn: [...query.alpn], clientIp: query.clientIp, ...entryPoint });
  return explainHttp(
    model,
    buildRequest({ url: query.url ?? '', ...(query.method !== undefined && { method: query.method }), headers: query.headers, clientIp: query.clientIp, ...entryPoint }),
    query.entryPoint,
  );
}
