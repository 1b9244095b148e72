/**
 * One HTTP/1.1 answer read straight from its socket into buffers of our own: how the heapdumps API server takes a
 * dump's bytes from S3 (direct-get.ts sends the request).
 *
 * Why not node:http's client: it hands a body over in a fresh Buffer per socket read (64 KiB over TCP, a 16 KiB TLS
 * record over HTTPS), each then passed through the parser, IncomingMessage, a pipe and the response's Writable
 * (interpreted under `--jitless`), and that garbage kept V8 collecting: 5 to 7.6 CPU s per GiB sent
 * (docs/performance.md). Here reads (`onread`) land in 1 MiB buffers; `sendTo` writes a buffer once it is nearly
 * full and reuses it when that write is done: nothing is allocated per chunk, two or three buffers are in use.
 * When the client's socket is full the S3 socket is paused (TCP holds S3 back) until it drains; the idle timeout
 * only runs while we read, so a slow client is not taken for a silent S3. The body is also a plain Readable (for
 * any other reader): then each read is pushed as it came, and buffers are not reused.
 *
 * `sendTo(sink, { sha256 })` also checks the bytes as they go (body-check.ts): the last buffer is written only once
 * the whole body hashed to that sha256; otherwise the send fails with a BodyMismatch and the sink is left short.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BodyCheck } from './body-check';
import { parseResponseHead, type ResponseHead } from './response-head';

export const BUFFER_BYTES = 1024 * 1024;
/** A buffer is sent once less than this is left in it, so every write but the last carries at least 768 KiB (1 MiB: 20 % less CPU per GiB than 256 KiB, RSS the same; `npm run bench:api`). */
const MIN_READ_BYTES = 256 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;

type Phase = 'head' | 'waiting' | 'stream' | 'send' | 'done';

export interface SendOptions {
  /** Hex: the whole body must hash to it before its last bytes are written. */
  readonly sha256?: string;
}

export class DirectResponse extends Readable {
  /** The status line and headers; rejects when the connection fails or ends before them. */
  public readonly head: Promise<ResponseHead>;
  private phase: Phase = 'head';
  private socket?: Socket;
  private idleMs = 0;
  private cur: Buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
  /** Bytes of `cur` before `start` were passed on; `[start, filled)` hold body bytes not yet passed on. */
  private start = 0;
  private filled = 0;
  /** Body bytes the socket has still to deliver. */
  private remaining = 0;
  private readonly free: Buffer[] = [];
  private sent = 0;
  private sink?: ServerResponse;
  private check?: BodyCheck;
  /** Why the exchange ended early (kept for a sendTo that comes after). */
  private failure?: Error;
  private headSettle!: { resolve: (h: ResponseHead) => void; reject: (e: Error) => void };
  private sendSettle?: { resolve: (bytes: number) => void; reject: (e: Error) => void; cleanup: () => void };

  /** Body bytes handed to the sink by sendTo so far. */
  public get bytesSent(): number {
    return this.sent;
  }

  /** The socket's `onread` option (given when it is created): reads land in this response's buffers. */
  public readonly onread = {
    buffer: (): Uint8Array => this.cur.subarray(this.filled),
    callback: (n: number): boolean => this.received(n),
  };

  public constructor() {
    super({ highWaterMark: BUFFER_BYTES });
    this.head = new Promise((resolve, reject) => (this.headSettle = { resolve, reject }));
    this.head.catch(() => undefined); // the handler awaits it; a failure must not be unhandled meanwhile
  }

  /**
   * Reads `socket` (created with `onread` above; a socket without it, e.g. a CONNECT tunnel to a plain-HTTP
   * endpoint, is read from its 'data' events, copied into the same buffers). `idleMs`: an error when the socket
   * is silent that long while we wait for it.
   */
  public attach(socket: Socket, idleMs: number): void {
    this.socket = socket;
    this.idleMs = idleMs;
    const silence = idleMs >= 1000 && idleMs % 1000 === 0 ? `${idleMs / 1000} s` : `${idleMs} ms`;
    socket.setTimeout(idleMs, () => this.fail(Object.assign(new Error(`S3 sent nothing for ${silence}`), { code: 'ETIMEDOUT' })));
    socket.on('data', (chunk: Buffer) => this.copyIn(chunk));
    // Once the whole answer is here, S3 closing the connection (as asked: `connection: close`) is no failure.
    const complete = () => this.phase !== 'head' && this.remaining === 0;
    socket.on('error', (error) => complete() || this.fail(error));
    socket.on('close', () => complete() || this.fail(new Error(this.phase === 'head'
      ? 'S3 closed the connection before answering'
      : `S3 closed the connection with ${this.remaining} bytes of the answer still to come`)));
  }

  /**
   * Writes the body to `sink` and ends it; resolves with the bytes written once it has finished. Rejects when S3
   * fails or the client goes away (`sink` emits 'close' before 'finish'); the S3 connection is closed either way.
   */
  public sendTo(sink: ServerResponse, o: SendOptions = {}): Promise<number> {
    if (this.phase !== 'waiting') return Promise.reject(this.failure ?? new Error(`the body cannot be sent now (${this.phase})`));
    this.phase = 'send';
    this.sink = sink;
    if (o.sha256 !== undefined) this.check = new BodyCheck(o.sha256);
    return new Promise<number>((resolve, reject) => {
      const onDrain = () => this.readMore();
      const onFinish = () => this.settleSend(undefined);
      const onClose = () => {
        const error = new Error('the client closed the connection');
        this.fail(error);
        this.settleSend(error); // also after the last write, before 'finish'
      };
      sink.on('drain', onDrain);
      sink.once('finish', onFinish);
      sink.once('close', onClose);
      this.sendSettle = { resolve, reject, cleanup: () => (sink.off('drain', onDrain), sink.off('finish', onFinish), sink.off('close', onClose)) };
      if (this.remaining === 0) this.endBody();
      else this.readMore();
    });
  }

  public override _read(): void {
    if (this.phase === 'waiting') {
      this.phase = 'stream';
      if (this.filled > this.start) this.push(this.passOn());
      if (this.remaining === 0) return this.endBody();
    }
    if (this.phase === 'stream') this.readMore();
  }

  public override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Only a reader listens for 'error'; otherwise the error is the head's, sendTo's, or nobody's (an abort).
    const reading = this.phase === 'stream';
    this.fail(error ?? new Error('the download was stopped'));
    callback(reading ? error : null);
  }

  /** Bytes `[start, filled)` of the current buffer, passed on; later reads go to a buffer nobody else holds. */
  private passOn(): Buffer {
    const chunk = this.cur.subarray(this.start, this.filled);
    this.start = this.filled;
    if (this.cur.length - this.filled < MIN_READ_BYTES) {
      this.cur = Buffer.allocUnsafeSlow(BUFFER_BYTES);
      this.start = this.filled = 0;
    }
    return chunk;
  }

  /** `n` more bytes in `cur` at `filled`; false pauses the socket. */
  private received(n: number): boolean {
    this.filled += n;
    if (this.phase === 'head') return this.parseHead(n);
    if (!this.bodyBytes(n)) return false;
    switch (this.phase) {
      case 'stream': {
        const more = this.push(this.passOn());
        if (this.remaining === 0) return this.endBody(), false;
        return more || this.paused();
      }
      case 'send':
        if (this.remaining === 0) return this.endBody(), false;
        return this.cur.length - this.filled >= MIN_READ_BYTES || this.flush() || this.paused();
      default:
        return this.paused(); // 'waiting': kept for whoever takes the body
    }
  }

  /** Counts body bytes; more than the Content-Length is an error (the connection carries one answer). */
  private bodyBytes(n: number): boolean {
    this.remaining -= n;
    if (this.remaining >= 0) return true;
    this.fail(new Error('S3 sent more bytes than its Content-Length'));
    return false;
  }

  /** Writes `[start, filled)` and continues in a free buffer; false when the client's socket is full. */
  private flush(): boolean {
    const buf = this.cur;
    const chunk = buf.subarray(this.start, this.filled);
    this.cur = this.free.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES);
    this.start = this.filled = 0;
    if (chunk.length === 0) {
      this.free.push(buf);
      return true;
    }
    this.check?.update(chunk);
    this.sent += chunk.length;
    return this.sink!.write(chunk, () => this.free.push(buf));
  }

  private parseHead(n: number): boolean {
    const end = this.cur.subarray(0, this.filled).indexOf('\r\n\r\n', Math.max(0, this.filled - n - 3), 'latin1');
    if (end < 0) {
      if (this.filled > MAX_HEAD_BYTES) this.fail(new Error(`S3's answer has more than ${MAX_HEAD_BYTES} bytes of headers`));
      return this.phase === 'head';
    }
    const head = parseResponseHead(this.cur.toString('latin1', 0, end));
    const remaining = typeof head === 'string' || head.contentLength === undefined ? 0 : head.contentLength - (this.filled - end - 4);
    if (typeof head === 'string' || remaining < 0) {
      this.fail(new Error(typeof head === 'string' ? head : 'S3 sent more bytes than its Content-Length'));
      return false;
    }
    this.start = end + 4;
    this.remaining = remaining;
    this.phase = 'waiting';
    this.headSettle.resolve(head);
    return this.paused();
  }

  /** A socket without `onread`: the chunk is copied into the same buffers. */
  private copyIn(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.ended()) {
      const n = chunk.copy(this.cur, this.filled, offset);
      offset += n;
      if (!this.received(n)) {
        if (offset < chunk.length && !this.ended()) this.socket?.unshift(chunk.subarray(offset));
        return;
      }
    }
  }

  /** A method, so that TypeScript does not narrow `phase` across the calls that change it. */
  private ended = (): boolean => this.phase === 'done';

  private paused(): false {
    this.socket?.setTimeout(0);
    this.socket?.pause();
    return false;
  }

  private readMore(): void {
    if (this.socket === undefined || this.phase === 'done') return;
    this.socket.setTimeout(this.idleMs);
    this.socket.resume();
  }

  /** The whole body is here: pass the rest on and end. */
  private endBody(): void {
    const sink = this.sink;
    this.closeSocket();
    if (this.phase === 'stream') {
      this.phase = 'done';
      this.push(null);
    } else if (this.phase === 'send' && sink !== undefined) {
      // the last bytes: written only if the whole body is what was expected
      const mismatch = this.check?.finish(this.cur.subarray(this.start, this.filled));
      this.check = undefined;
      if (mismatch !== undefined) return this.fail(mismatch);
      this.flush();
      this.phase = 'done';
      sink.end();
    }
  }

  private settleSend(error: Error | undefined): void {
    const s = this.sendSettle;
    if (s === undefined) return;
    this.sendSettle = undefined;
    s.cleanup();
    if (error === undefined) s.resolve(this.sent);
    else s.reject(error);
    if (!this.destroyed) this.destroy(); // 'close': the request's abort listener goes
  }

  private closeSocket(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    socket.setTimeout(0);
    socket.removeAllListeners('close');
    socket.removeAllListeners('data');
    socket.on('error', () => undefined); // late errors of a socket we are done with
    socket.destroy();
  }

  /** Anything that ends the exchange early; idempotent. */
  private fail(error: Error): void {
    const phase = this.phase;
    if (phase === 'done') return;
    this.phase = 'done';
    this.failure = error;
    this.closeSocket();
    if (phase === 'head') this.headSettle.reject(error);
    else if (phase === 'send') this.settleSend(error);
    // A reader has an 'error' listener; before anyone took the body, nobody would hear it (sendTo gets `failure`).
    else if (!this.destroyed) this.destroy(phase === 'stream' ? error : undefined);
  }
}
