/**
 * `gatehouse explain URL` and `gatehouse explain --sni NAME`: thin, parses its own options (it has more than the
 * other commands), explains offline on the config file and prints text or JSON. Exit 0 when something matches,
 * 1 when nothing does, 2 for a usage problem; an invalid config is thrown for main's fail() to print (exit 2).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { answerQuery, DEFAULT_CLIENT_IP, formatExplanation, loadOffline, UsageError, type ExplainQuery, type HttpExplanation, type SniExplanation, type TcpExplanation, type UdpExplanation } from '../explain/index.js';
import { controlFor } from './state-dir.js';
import { EXPLAIN_OPTIONS, EXPLAIN_USAGE } from './usage.js';

/** Runs the command on `args` (after "explain"); resolves with the exit code. Throws GatehouseErrors for an invalid config. */
export async function runExplain(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options;
  try {
    options = parseOptions(args, env);
  } catch (err) {
    return usageFailed(err);
  }
  if (options === 'help') {
    process.stdout.write(EXPLAIN_USAGE);
    return 0;
  }
  const query: ExplainQuery = {
    ...(options.url !== undefined && { url: options.url }),
    ...(options.sni !== undefined && { sni: options.sni }),
    alpn: options.alpn,
    ...(options.method !== undefined && { method: options.method }),
    headers: options.headers,
    clientIp: options.clientIp,
    ...(options.entryPoint !== undefined && { entryPoint: options.entryPoint }),
    ...(options.udp && { udp: true }),
    ...(options.tcp && { tcp: true }),
  };
  let explanation: HttpExplanation | SniExplanation | UdpExplanation | TcpExplanation;
  if (options.running) {
    const answer = await controlFor(options.file, { command: 'explain', query }, env);
    if (!answer.ok) return usageFailed(new UsageError(answer.error ?? 'the running instance could not explain this'));
    explanation = answer.data as HttpExplanation | SniExplanation | UdpExplanation | TcpExplanation;
  } else {
    const model = await loadOffline(options.file, env);
    try {
      explanation = answerQuery(model, query);
    } catch (err) {
      return usageFailed(err);
    } finally {
      await model.dispose();
    }
  }
  process.stdout.write(options.json ? `${JSON.stringify(explanation, null, 2)}\n` : formatExplanation(explanation));
  return explanation.matched ? 0 : 1;
}

function usageFailed(err: unknown): number {
  if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
  process.stderr.write(`gatehouse: explain: ${err.message}; see gatehouse explain --help\n`);
  return 2;
}

interface ExplainOptions {
  file: string;
  url: string | undefined;
  sni: string | undefined;
  alpn: string[];
  method: string | undefined;
  headers: string[];
  clientIp: string;
  entryPoint: string | undefined;
  json: boolean;
  running: boolean;
  udp: boolean;
  tcp: boolean;
}

function parseOptions(args: readonly string[], env: NodeJS.ProcessEnv): ExplainOptions | 'help' {
  // parseArgs throws a TypeError (ERR_PARSE_ARGS_*) for an unknown or malformed option: a usage problem.
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: EXPLAIN_OPTIONS,
  });
  if (values.help) return 'help';
  const file = values.config ?? env['GATEHOUSE_CONFIG'];
  if (!file) throw new UsageError('needs a config file: --config FILE or GATEHOUSE_CONFIG');
  const url = positionals[0];
  if (positionals.length > 1) throw new UsageError(`one URL at a time, got ${positionals.length}`);
  if (values.tcp) {
    if (values.udp || url !== undefined || values.sni !== undefined || values.method !== undefined || values.header !== undefined || values.alpn !== undefined) {
      throw new UsageError('--tcp takes no URL, --sni, --udp, --method, --header or --alpn (a plain TCP connection has only its client address: --client-ip); --entry-point chooses one');
    }
  } else if (values.udp) {
    if (url !== undefined || values.sni !== undefined || values.method !== undefined || values.header !== undefined || values.alpn !== undefined) {
      throw new UsageError('--udp takes no URL, --sni, --method, --header or --alpn (UDP has nothing to match on); --entry-point chooses one');
    }
  } else if ((url === undefined) === (values.sni === undefined)) throw new UsageError('give a URL or --sni NAME (one of them), or --udp');
  if (values.sni !== undefined && (values.method !== undefined || values.header !== undefined)) throw new UsageError('--method and --header go with a URL, not --sni');
  if (url !== undefined && values.alpn !== undefined) throw new UsageError('--alpn goes with --sni');
  const clientIp = values['client-ip'] ?? DEFAULT_CLIENT_IP;
  if (isIP(clientIp) === 0) throw new UsageError(`--client-ip ${JSON.stringify(clientIp)} is not an IP address`);
  return {
    file,
    url,
    sni: values.sni,
    alpn: values.alpn === undefined ? [] : values.alpn.split(',').map((p) => p.trim()).filter((p) => p !== ''),
    method: values.method,
    headers: values.header ?? [],
    clientIp,
    entryPoint: values['entry-point'],
    json: values.json ?? false,
    running: values.running ?? false,
    udp: values.udp ?? false,
    tcp: values.tcp ?? false,
  };
}
