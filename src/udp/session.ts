/**
 * One UDP session: a client (address and port) of an entry point, tied to one server through its own connected
 * socket, so the server's replies come back on that socket alone (the kernel drops datagrams from anyone else) and
 * go out to the client from the entry point's socket. Memory is bounded: datagrams arriving while the upstream socket
 * is being set up wait in a short queue (PENDING_MAX datagrams, PENDING_MAX_BYTES after the first), the rest are
 * dropped; once it is up, a datagram is handed to the kernel at once, or dropped when the socket already has
 * SEND_QUEUE_MAX datagrams waiting for it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns';
import type { UdpServer } from './balancer.js';

/** Datagrams a session holds (the first included) while its upstream socket is being set up (a resolver retry, a WireGuard handshake). */
const PENDING_MAX = 8;
/** Bytes those may take beyond the first datagram (which is always kept: it opened the session). */
const PENDING_MAX_BYTES = 16 * 1024;
/** Datagrams waiting in an upstream socket's send queue (the kernel's buffer full) past which new ones are dropped. */
const SEND_QUEUE_MAX = 64;

/** What a session reports to the listener that owns it. */
export interface SessionOwner {
  /** A datagram from the session's server, for its client. */
  reply(session: UdpSession, datagram: Buffer): void;
  /** A datagram could not be queued or sent (queue full): counted. */
  dropped(session: UdpSession): void;
  /** The session is closed (idle, upstream error, shutdown); `err` when the upstream socket failed. */
  closed(session: UdpSession, err: NodeJS.ErrnoException | undefined): void;
}

/** A client's session. Created by the listener for the first datagram of a client address and port. */
export class UdpSession {
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly server: UdpServer;
  /** Date.now() of the last datagram either way. */
  last: number;
  readonly #owner: SessionOwner;
  #socket: Socket | undefined;
  #connected = false;
  /** Until the upstream socket is connected; undefined afterwards. */
  #pending: Buffer[] | undefined;
  #pendingBytes = 0;
  #closed = false;

  constructor(owner: SessionOwner, clientAddress: string, clientPort: number, server: UdpServer, first: Buffer, now: number) {
    this.#owner = owner;
    this.clientAddress = clientAddress;
    this.clientPort = clientPort;
    this.server = server;
    this.last = now;
    this.#pending = [first];
    if (server.family !== 0) this.#open(server.family, server.host);
    else {
      // A server named by host name is looked up per session, so a changed DNS record takes effect for new sessions.
      lookup(server.host, (err, address, family) => {
        if (this.#closed) return;
        if (err) this.close(err);
        else this.#open(family === 6 ? 6 : 4, address);
      });
    }
  }

  /** Forward a client datagram to the server (queued while the upstream socket is set up). */
  send(datagram: Buffer, now: number): void {
    this.last = now;
    const socket = this.#socket;
    if (this.#connected && socket !== undefined) {
      if (socket.getSendQueueCount() >= SEND_QUEUE_MAX) this.#owner.dropped(this);
      else socket.send(datagram);
      return;
    }
    const pending = this.#pending;
    if (pending === undefined || pending.length >= PENDING_MAX || this.#pendingBytes + datagram.length > PENDING_MAX_BYTES) {
      this.#owner.dropped(this);
      return;
    }
    pending.push(datagram);
    this.#pendingBytes += datagram.length;
  }

  /** Close the upstream socket; the owner is told once. */
  close(err?: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      try {
        socket.close();
      } catch {
        // Already closed by an error.
      }
    }
    this.#owner.closed(this, err);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #open(family: 4 | 6, host: string): void {
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    // Held from now on, so close() closes it even while it is still connecting.
    this.#socket = socket;
    // The server's replies, in order; a connected socket only receives from its server (connect(2) on UDP).
    socket.on('message', (datagram) => {
      if (this.#closed) return;
      this.last = Date.now();
      this.#owner.reply(this, datagram);
    });
    // ECONNREFUSED (an ICMP port unreachable: nothing listens there) and the like end the session: the client's next
    // datagram opens a new one, on the next server.
    socket.on('error', (err: NodeJS.ErrnoException) => this.close(err));
    socket.connect(this.server.port, host, () => {
      if (this.#closed) return;
      this.#connected = true;
      const pending = this.#pending!;
      this.#pending = undefined;
      for (const d of pending) socket.send(d);
    });
  }
}
