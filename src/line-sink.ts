/**
 * Log lines to a file descriptor (stdout), encoded straight into preallocated buffers and written in batches.
 *
 * Why not pino's sonic-boom: it appends each line to a growing JS string and calls `Buffer.byteLength` on that
 * string for every line, which flattens and measures up to 8 KiB per line; that, not the formatting, was most of
 * the access log's cost (bench/experiments/README.md, "Access log": 3.2 µs vs 1.5 µs CPU per line, and the
 * callgrind figures). Here a line costs one UTF-8 encode into the current buffer; a full batch is handed to
 * `fs.write` as it is, while later lines fill another buffer.
 */
import { close as fsClose, write as fsWrite, writeSync } from 'node:fs';

/** How the sink batches: a write starts once `batchBytes` wait, or after `flushMs` at the latest. */
export interface LineSinkOptions {
  batchBytes?: number;
  flushMs?: number;
}

/** The buffers lines are encoded into; a long line that does not fit the current one goes out on its own. */
const BUFFER_BYTES = 64 * 1024;
/**
 * Lines waiting for a descriptor that does not take them (a reader that stopped reading a pipe) are dropped past
 * this, counted in `dropped`: the proxy must not run out of memory because its log is not read.
 */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;
/** How long to wait before retrying a write the descriptor refused (a full non-blocking pipe), as sonic-boom. */
const EAGAIN_RETRY_MS = 100;
/** Free buffers kept for reuse; more are allocated only while writes lag behind, and dropped after. */
const SPARE_BUFFERS = 2;

/** Something to sleep on in `flushSync` (no event loop at exit to wait with). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

interface Batch {
  buf: Buffer;
  start: number;
  end: number;
  /** The descriptor it goes to: the one in use when it was queued (a reopen does not split a batch). */
  fd: number;
}

/**
 * A pino destination: `write(line)` never blocks and keeps line order; lines reach the descriptor within
 * `flushMs` (or as soon as a batch is full); `flush(cb)` calls back once everything written so far is out;
 * `flushSync()` writes what is still buffered synchronously (process exit). After EPIPE (the reader is gone)
 * lines are dropped, as pino does.
 */
export class LineSink {
  private cur: Buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
  private used = 0;
  private readonly queue: Batch[] = [];
  private readonly spare: Buffer[] = [];
  private inFlight: Batch | undefined = undefined;
  /** Batches handed to the queue and batches fully written: a flush waits for the count at its call. */
  private enqueued = 0;
  private completed = 0;
  private waiters: Array<{ upTo: number; cb: () => void }> = [];
  /** The periodic flush came while a write was out: the partial batch goes as soon as that write returns. */
  private flushDue = false;
  private broken = false;
  /** Bytes in the queue and in flight. */
  private queuedBytes = 0;
  /** Lines dropped because `MAX_QUEUED_BYTES` were waiting. */
  dropped = 0;
  private readonly batchBytes: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly written = (err: NodeJS.ErrnoException | null, n: number): void => this.onWritten(err, n);

  /** Descriptors replaced by `reopen`, each closed once the batches queued for it are written. */
  private readonly retiredFds = new Set<number>();

  constructor(
    private fd: number,
    options: LineSinkOptions = {},
  ) {
    this.batchBytes = Math.min(options.batchBytes ?? 8192, BUFFER_BYTES);
    const flushMs = options.flushMs ?? 250;
    if (flushMs > 0) {
      this.timer = setInterval(() => this.flushSoon(), flushMs);
      this.timer.unref(); // logging alone never keeps the process alive
    }
  }

  /** Queue one line (with its newline). Returns true, as a stream that never asks for back-pressure. */
  write(line: string): boolean {
    if (this.broken) return true;
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      this.dropped++;
      return true;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
    const worst = line.length * 3;
    if (worst > BUFFER_BYTES - this.used) {
      if (worst > BUFFER_BYTES / 3) {
        this.rotate();
        const buf = Buffer.from(line, 'utf8');
        this.enqueue({ buf, start: 0, end: buf.length, fd: this.fd });
        return true;
      }
      this.rotate();
    }
    this.used += this.cur.write(line, this.used);
    if (this.used >= this.batchBytes && this.inFlight === undefined) this.rotate();
    return true;
  }

  /** Write out everything queued so far; `cb` runs once it has reached the descriptor (or was dropped). */
  flush(cb?: (err?: Error) => void): void {
    this.rotate();
    if (cb === undefined) return;
    if (this.completed === this.enqueued) process.nextTick(cb);
    else this.waiters.push({ upTo: this.enqueued, cb });
  }

  /**
   * Continue on `fd` (a log file reopened at its path after logrotate renamed it): the lines written so far go to the
   * old descriptor, which is closed once they are out; later lines go to `fd`.
   */
  reopen(fd: number): void {
    if (fd === this.fd) return;
    this.rotate();
    this.retiredFds.add(this.fd);
    this.fd = fd;
    this.closeRetired();
  }

  /** Write everything buffered synchronously, for the process's exit (no event loop left). */
  flushSync(): void {
    if (this.used > 0) {
      this.queue.push({ buf: this.cur, start: 0, end: this.used, fd: this.fd });
      this.cur = Buffer.allocUnsafeSlow(BUFFER_BYTES);
      this.used = 0;
    }
    // A batch already handed to the thread pool completes or not on its own; the rest follows it in order.
    for (const batch of this.queue.splice(0)) {
      for (let tries = 0; batch.start < batch.end && tries < 100 && !this.broken; tries++) {
        try {
          batch.start += writeSync(batch.fd, batch.buf, batch.start, batch.end - batch.start);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') Atomics.wait(PAUSE, 0, 0, 10); // a full pipe: wait 10 ms
          else this.broken = true;
        }
      }
    }
  }

  /** Stop the flush timer; what is buffered stays until `flush`/`flushSync`. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The periodic flush: a partial batch goes out unless a write is already under way (it flushes on return). */
  private flushSoon(): void {
    if (this.used === 0) return;
    if (this.inFlight === undefined) this.rotate();
    else this.flushDue = true;
  }

  /** Move the current buffer's lines to the queue and continue in a fresh buffer. */
  private rotate(): void {
    if (this.used === 0) return;
    const buf = this.cur;
    const end = this.used;
    this.cur = this.spare.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
    this.used = 0;
    this.enqueue({ buf, start: 0, end, fd: this.fd });
  }

  private enqueue(batch: Batch): void {
    this.enqueued++;
    this.queuedBytes += batch.end - batch.start;
    this.queue.push(batch);
    if (this.inFlight === undefined) this.next();
  }

  private next(): void {
    const batch = this.queue.shift();
    this.inFlight = batch;
    if (batch !== undefined) fsWrite(batch.fd, batch.buf, batch.start, batch.end - batch.start, null, this.written);
  }

  /** Closes the descriptors `reopen` replaced that no batch in flight or queued goes to any more. */
  private closeRetired(): void {
    for (const old of this.retiredFds) {
      if (this.inFlight?.fd === old || this.queue.some((b) => b.fd === old)) continue;
      this.retiredFds.delete(old);
      fsClose(old, () => {});
    }
  }

  private onWritten(err: NodeJS.ErrnoException | null, n: number): void {
    const batch = this.inFlight!;
    if (err) {
      if (err.code === 'EAGAIN' || err.code === 'EBUSY') {
        // A non-blocking pipe is full: give the reader time (the batch stays in flight, order is kept).
        setTimeout(() => fsWrite(batch.fd, batch.buf, batch.start, batch.end - batch.start, null, this.written), EAGAIN_RETRY_MS).unref();
        return;
      }
      // EPIPE or a closed descriptor: nobody reads the log any more; drop it rather than fail the proxy.
      this.broken = true;
      this.queue.length = 0;
      this.used = 0;
      this.inFlight = undefined;
      this.completed = this.enqueued;
      this.queuedBytes = 0;
      this.release();
      return;
    }
    batch.start += n;
    this.queuedBytes -= n;
    if (batch.start < batch.end) {
      fsWrite(batch.fd, batch.buf, batch.start, batch.end - batch.start, null, this.written); // a partial write
      return;
    }
    if (batch.buf.length === BUFFER_BYTES && this.spare.length < SPARE_BUFFERS) this.spare.push(batch.buf);
    this.inFlight = undefined;
    this.completed++;
    this.release();
    if (this.retiredFds.size > 0) this.closeRetired();
    if (this.queue.length > 0) this.next();
    else if (this.used >= this.batchBytes || (this.flushDue && this.used > 0)) this.rotate();
    this.flushDue = false;
  }

  /** Call back the flushes whose lines are all out. */
  private release(): void {
    if (this.waiters.length === 0) return;
    const done = this.waiters.filter((w) => w.upTo <= this.completed);
    if (done.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.completed);
    for (const w of done) w.cb();
  }
}
