// Baseline of SNI passthrough (S4): a bare `net` server that connects each client to TARGET (host:port of
// tls-backend.mjs) and pipes both ways, reading nothing. What gatehouse adds on top is the ClientHello peek,
// the route match and its bookkeeping.
import net from 'node:net';

const [host, port] = process.env.TARGET.replace(/^[a-z]+:\/\//, '').split(':');

const server = net.createServer({ allowHalfOpen: true }, (client) => {
  client.setNoDelay(true);
  const backend = net.connect({ host, port: Number(port), allowHalfOpen: true, noDelay: true });
  client.pipe(backend);
  backend.pipe(client);
  const close = () => (client.destroy(), backend.destroy());
  client.on('error', close);
  backend.on('error', close);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));

process.on('SIGTERM', () => process.exit(0));
