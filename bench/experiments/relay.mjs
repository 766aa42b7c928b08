// A plain-JS copy of the relay in src/upstream/forward-http.ts (Pool.dispatch with a handler writing straight into
// the ServerResponse, parser paused past 256 KiB waiting in the client socket), so forwarder experiments measure
// the forwarding path alone, independent of dist/ and of work in progress in src/upstream/.
import http from 'node:http';

const RESPONSE_BUFFER_BYTES = 256 * 1024;
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Raw header array of the upstream response without hop-by-hop fields (Buffers from undici → strings). */
function responseHeaders(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
  }
  return out;
}

/** Relays one upstream response into `res`. */
export class Relay {
  constructor(res) {
    this.res = res;
    this.abort = null;
    this.resumeParser = null;
    this.done = false;
    this.onDrain = () => this.resumeParser?.();
    res.once('close', () => {
      if (!this.done) this.abort?.(new Error('client gone'));
    });
  }
  onConnect(abort) {
    this.abort = abort;
  }
  onHeaders(statusCode, rawHeaders, resume, statusText) {
    if (statusCode < 200) return true;
    this.resumeParser = resume;
    this.res.writeHead(statusCode, statusText || undefined, responseHeaders(rawHeaders));
    return true;
  }
  onData(chunk) {
    const res = this.res;
    if (res.write(chunk) || res.writableLength < RESPONSE_BUFFER_BYTES) return true;
    res.once('drain', this.onDrain);
    return false;
  }
  onComplete() {
    this.done = true;
    this.res.end();
  }
  onError() {
    this.done = true;
    if (!this.res.headersSent) this.res.writeHead(502);
    this.res.end();
  }
}

/** The request headers to send upstream, as a flat array (raw, minus hop-by-hop). */
export function requestHeaders(rawHeaders) {
  const out = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (!HOP.has(rawHeaders[i].toLowerCase())) out.push(rawHeaders[i], rawHeaders[i + 1]);
  return out;
}

/** Serve `forward(req, res)` on a loopback port and print `listening <port>`; exit on SIGTERM. */
export function serve(forward) {
  const server = http.createServer(forward);
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}
