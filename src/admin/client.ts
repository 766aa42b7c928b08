/**
 * The admin API's client side, for `gatehouse status --admin URL`: reads `/api/status` of a running instance over
 * HTTP, so the status is available from another host or container, where the control socket is out of reach.
 * Credentials in the URL (`http://user:password@host:8081`) are sent as basic auth, never printed.
 */

/** How long the CLI waits for the admin entry point. */
const TIMEOUT_MS = 10_000;

/** The JSON of `<base>/api/status`; rejects with a message naming the URL (without its credentials) and the cause. */
export async function fetchAdminStatus(base: string): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`--admin ${JSON.stringify(base)} is not a URL (expected e.g. http://127.0.0.1:8081)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--admin must be an http:// or https:// URL, got ${url.protocol}`);
  const headers: Record<string, string> = {};
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/status`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach the admin entry point at ${url.href}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (res.status === 401) throw new Error(`${url.href}: 401, the admin entry point wants basic auth: put the user and password in the URL (http://user:password@host:port)`);
  if (res.status !== 200) throw new Error(`${url.href}: HTTP ${res.status}`);
  return res.json();
}
