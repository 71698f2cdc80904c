/** The load generator's HTTP client. */
import { connect, type Socket } from 'node:net';

export type RawCallback = (error: string | undefined, status: number, body: Buffer) => void;

/**
 * A minimal HTTP/1.1 keep-alive client for the load generator: `connections` sockets opened up
 * front, one request in flight per socket, requests beyond that wait in a FIFO queue (their
 * latency still counts from the scheduled send time). One write per request, responses read by
 * Content-Length: about a quarter of undici's CPU per request, which matters on a 2-core machine
 * where the generator shares the CPU with the responder and Redis.
 */
export class RawHttpPool {
  private readonly idle: RawConnection[] = [];
  private readonly queue: { bytes: Buffer; cb: RawCallback }[] = [];
  private readonly all: RawConnection[] = [];
  /** Replacement connections being opened. */
  private opening = 0;
  private closing = false;

  private constructor(private readonly port: number) {}

  static async open(port: number, connections: number): Promise<RawHttpPool> {
    const pool = new RawHttpPool(port);
    for (let i = 0; i < connections; i++) pool.add(await pool.connect());
    return pool;
  }

  request(bytes: Buffer, cb: RawCallback): void {
    const c = this.idle.pop();
    if (c) c.send(bytes, cb);
    else if (this.alive()) this.queue.push({ bytes, cb });
    else cb('every connection is closed', 0, Buffer.alloc(0));
  }

  /**
   * A connection is free again, or closed: then it is dropped and, as a keep-alive client does when
   * the server ends a connection (its maxRequestsPerSocket), another one is opened in its place.
   */
  release(c: RawConnection, alive: boolean): void {
    if (!alive) {
      for (const list of [this.idle, this.all]) {
        const i = list.indexOf(c);
        if (i >= 0) list.splice(i, 1);
      }
      if (this.closing) return;
      this.opening++;
      this.connect().then(
        (socket) => {
          this.opening--;
          this.add(socket);
        },
        () => {
          this.opening--;
          if (!this.alive()) for (const q of this.queue.splice(0)) q.cb('every connection is closed', 0, Buffer.alloc(0));
        },
      );
      return;
    }
    const next = this.queue.shift();
    if (next) c.send(next.bytes, next.cb);
    else this.idle.push(c);
  }

  close(): void {
    this.closing = true;
    for (const c of this.all) c.socket.destroy();
  }

  private alive(): boolean {
    return this.opening > 0 || this.all.some((x) => !x.closed);
  }

  private connect(): Promise<Socket> {
    return new Promise<Socket>((res, rej) => {
      const s = connect({ port: this.port, host: '127.0.0.1', noDelay: true }, () => res(s));
      s.once('error', rej);
    });
  }

  /** A new connection: it takes a queued request at once, or waits idle. */
  private add(socket: Socket): void {
    const c = new RawConnection(socket, this);
    this.all.push(c);
    if (this.closing) return void socket.destroy();
    this.release(c, true);
  }
}

export class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private cb: RawCallback | undefined;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly pool: RawHttpPool,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.closed || this.cb) this.fail('connection closed');
    });
  }

  send(bytes: Buffer, cb: RawCallback): void {
    this.cb = cb;
    if (this.closed) return this.fail('connection closed');
    this.socket.write(bytes);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!len) return this.fail(`no Content-Length in the response: ${head.slice(0, 200)}`);
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    const body = this.buf.subarray(end + 4, total);
    const extra = this.buf.length > total;
    this.buf = Buffer.alloc(0);
    const cb = this.cb;
    this.cb = undefined;
    if (extra) return this.fail('bytes after the response');
    // The server's last response on this connection (its maxRequestsPerSocket): no request may follow.
    const last = /\r\nconnection: *close/i.test(head);
    if (last) {
      this.closed = true;
      this.socket.destroy();
    }
    this.pool.release(this, !last);
    cb?.(undefined, Number(head.slice(9, 12)), body);
  }

  private fail(error: string): void {
    const cb = this.cb;
    this.cb = undefined;
    this.closed = true;
    this.socket.destroy();
    this.pool.release(this, false);
    cb?.(error, 0, Buffer.alloc(0));
  }
}
