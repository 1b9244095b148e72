/**
 * How the heapdumps API reads a dump from S3 (agent/src/net/direct-get.ts, direct-response.ts), against real parts:
 * s3rver (in this process, path-style), a TLS terminator in front of it with a private CA, a loopback CONNECT proxy
 * that alone knows where `s3.test.invalid` is, a relay that counts the bytes S3 sends, and raw TCP servers that
 * misbehave as an S3 might. Bodies are random bytes compared with what was put; the answer is written into a real
 * http.ServerResponse and read back by a real client.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'crypto';
import { mkdtempSync, rmSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { DumpStore, type ObjectStream } from '../../../agent/src/api/dump-store';
import type { S3Config } from '../../../agent/src/config';
import { DirectGetHandler } from '../../../agent/src/net/direct-get';
import { BodyMismatch } from '../../../agent/src/net/body-check';
import { DirectResponse, type SendOptions } from '../../../agent/src/net/direct-response';
import { createAgents } from '../../../agent/src/net/proxy';
import { createS3Client } from '../../../agent/src/net/s3-client';
import { type ConnectProxy, startConnectProxy } from '../../support/connect-proxy';
import { TEST_REGION } from '../../support/s3';
import { issueServerCert, makeCa, type TestCa } from '../../support/tls';

const BUCKET = 'direct-bucket';
const HIDDEN = 's3.test.invalid';
const KEYS = 'S3RVER';
const MiB = 1024 * 1024;
/** Three and a bit of the reader's 1 MiB buffers. */
const big = randomBytes(3 * MiB + 12_345);
const huge = randomBytes(96 * MiB);
const hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** `big` with one byte changed in its last buffer, and one with a byte changed in its first */
const lateFlip = Buffer.from(big);
lateFlip[big.length - 3] ^= 0x80;
const earlyFlip = Buffer.from(big);
earlyFlip[7] ^= 0x01;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

let tmp: string;
let ca: TestCa;
let s3Port: number;
let tlsPort: number;
let proxy: ConnectProxy;
const closers: Array<() => Promise<void> | void> = [];

/** Closes a server and every connection it still has. */
function track(server: net.Server): void {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  closers.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
}

async function listen(server: net.Server): Promise<number> {
  track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** TCP to s3rver, counting the bytes S3 sends and the connections still open. */
async function startRelay(): Promise<{ port: number; bytes: () => number; open: () => number }> {
  let bytes = 0;
  let open = 0;
  const port = await listen(net.createServer((client) => {
    const upstream = net.connect(s3Port, '127.0.0.1');
    open++;
    upstream.on('data', (c: Buffer) => (bytes += c.length));
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.on('close', () => (open--, client.destroy()));
    client.on('close', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  }));
  return { port, bytes: () => bytes, open: () => open };
}

function s3Config(endpoint: string, extra: Partial<S3Config> = {}): S3Config {
  return { bucket: BUCKET, prefix: '', region: TEST_REGION, endpoint, forcePathStyle: true, storageClass: 'STANDARD', checksumMode: 'WHEN_REQUIRED', credentials: { accessKeyId: KEYS, secretAccessKey: KEYS }, ...extra };
}

/** A DumpStore whose every call goes through the client that streams dumps. */
function storeFor(endpoint: string, extra: Partial<S3Config> = {}): DumpStore {
  const client = createS3Client(s3Config(endpoint, extra), 16, undefined, { directGets: true });
  closers.push(() => client.destroy());
  return new DumpStore(client, BUCKET, '', client);
}

/** The answer as a server sends it: `send(res)` in a real http.Server, read by a real client that may misbehave. */
async function throughServer(
  send: (res: http.ServerResponse) => Promise<number>,
  read: (res: http.IncomingMessage) => Promise<Buffer> = collect,
): Promise<{ body: Buffer; sent: Promise<number> }> {
  let sent!: Promise<number>;
  const server = http.createServer((_req, res) => {
    sent = send(res);
    sent.catch(() => undefined);
  });
  const port = await listen(server);
  const body = await new Promise<Buffer>((resolve, reject) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => read(res).then(resolve, reject)).on('error', reject));
  return { body, sent };
}

function collect(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => (res.complete ? resolve(Buffer.concat(chunks)) : reject(new Error('incomplete answer'))));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('incomplete answer')));
  });
}

/** As the download does it: the headers, the body, and a cut answer when the body fails. */
const sendWhole = (s: ObjectStream, o: SendOptions = {}) => async (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-length': s.length });
  return (s.body as DirectResponse).sendTo(res, o).catch((error: Error) => {
    res.destroy();
    throw error;
  });
};

async function eventually(what: string, ok: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'direct-get-'));
  ca = makeCa(tmp, 'heapdump test S3 CA');
  const cert = issueServerCert(ca, tmp, [HIDDEN, 'localhost'], 's3');
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3rver'), vhostBuckets: false, configureBuckets: [{ name: BUCKET }] });
  s3Port = (await s3rver.run()).port;
  closers.push(() => s3rver.close());
  // TLS in front of s3rver, byte for byte (an on-premises S3 behind a private CA)
  tlsPort = await listen(tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (c) => {
    const u = net.connect(s3Port, '127.0.0.1');
    c.pipe(u).on('error', () => c.destroy());
    u.pipe(c).on('error', () => u.destroy());
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  }));
  proxy = await startConnectProxy([HIDDEN]);
  closers.push(() => proxy.close());
  const client = new S3Client({ region: TEST_REGION, endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: KEYS, secretAccessKey: KEYS }, requestChecksumCalculation: 'WHEN_REQUIRED' });
  for (const [key, body] of [['big', big], ['huge', huge], ['late-flip', lateFlip], ['early-flip', earlyFlip]] as const) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentLength: body.length }));
  client.destroy();
}, 120_000);

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the bytes, whole and in ranges, on every way to S3', () => {
  const ways: Array<[string, () => [string, Partial<S3Config>], number]> = [
    ['http', () => [`http://127.0.0.1:${s3Port}`, {}], 0],
    ['https with a private CA', () => [`https://localhost:${tlsPort}`, { caBundle: { file: 'ca.pem', pem: ca.certPem } }], 0],
    ['http through a CONNECT proxy (a tunnel read from its data events)', () => [`http://${HIDDEN}:${s3Port}`, { proxy: { httpProxy: proxy.url, noProxy: [] } }], 1],
    ['https through a CONNECT proxy', () => [`https://${HIDDEN}:${tlsPort}`, { caBundle: { file: 'ca.pem', pem: ca.certPem }, proxy: { httpsProxy: proxy.url, noProxy: [] } }], 1],
  ];
  test.each(ways)('%s', async (_label, endpoint, tunnelsPerGet) => {
    const [url, extra] = endpoint();
    const store = storeFor(url, extra);
    const tunnels = proxy.tunnels.length;
    const whole = await store.stream('big', undefined);
    expect(whole.body).toBeInstanceOf(DirectResponse);
    const sent = await throughServer(sendWhole(whole));
    expect([sent.body.equals(big), await sent.sent]).toEqual([true, big.length]);
    // ranges inside one buffer, across buffers, the last bytes; sent, and read as a plain Readable
    for (const [from, to] of [[1, 1], [MiB - 1, 2 * MiB + 5], [big.length - 1000, big.length - 1]] as const) {
      const a = await store.stream('big', [from, to]);
      const viaSend = await throughServer(sendWhole(a));
      const b = await store.stream('big', [from, to]);
      const chunks: Buffer[] = [];
      for await (const c of b.body) chunks.push(c as Buffer);
      expect({ from, sent: viaSend.body.equals(big.subarray(from, to + 1)), read: Buffer.concat(chunks).equals(big.subarray(from, to + 1)) })
        .toEqual({ from, sent: true, read: true });
    }
    expect(proxy.tunnels.length - tunnels).toBe(7 * tunnelsPerGet);
    // everything but a dump's GET goes the SDK's usual way
    expect((await store.head('big')).size).toBe(big.length);
  }, 60_000);
});

describe('sendTo with the sha256: the last bytes go only after the whole body hashed to it', () => {
  test('the right bytes arrive whole; changed bytes, early or late, leave the client short and the send fails', async () => {
    const store = storeFor(`http://127.0.0.1:${s3Port}`);
    const ok = await throughServer(sendWhole(await store.stream('big', undefined), { sha256: hex(big).toUpperCase() }));
    expect([ok.body.equals(big), await ok.sent]).toEqual([true, big.length]);
    for (const key of ['early-flip', 'late-flip']) {
      const s = await store.stream(key, undefined);
      let got = Buffer.alloc(0);
      const r = await throughServer(sendWhole(s, { sha256: hex(big) }), (res) => new Promise((resolve) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => resolve((got = Buffer.concat(chunks))));
        res.on('end', () => resolve((got = Buffer.concat(chunks))));
      }));
      await expect(r.sent).rejects.toBeInstanceOf(BodyMismatch);
      await expect(r.sent).rejects.toThrow(`the ${big.length} bytes S3 sent hash to sha256 ${hex(key === 'late-flip' ? lateFlip : earlyFlip)}, not the dump's ${hex(big)}`);
      // what came is a true prefix of what S3 holds, and the changed byte's buffer (at least) never came
      expect(got.length).toBeLessThan(big.length);
      expect(got.equals((key === 'late-flip' ? lateFlip : earlyFlip).subarray(0, got.length))).toBe(true);
      if (key === 'late-flip') expect(got.length).toBeLessThanOrEqual(big.length - 3);
      // written before the send failed; a destroyed socket may drop some of it
      expect((s.body as DirectResponse).bytesSent).toBeGreaterThanOrEqual(got.length);
      expect((s.body as DirectResponse).bytesSent).toBeLessThan(big.length);
    }
  });
});

describe('S3 errors are the SDK\'s as everywhere else', () => {
  test('missing key, range past the end, an unknown access key, nobody listening', async () => {
    const store = storeFor(`http://127.0.0.1:${s3Port}`);
    await expect(store.stream('nope', [0, 9])).rejects.toMatchObject({ kind: 'not-found' });
    await expect(store.stream('big', [big.length, big.length + 9])).rejects.toMatchObject({ kind: 'range-not-satisfiable' });
    const stranger = storeFor(`http://127.0.0.1:${s3Port}`, { credentials: { accessKeyId: 'NOBODY', secretAccessKey: KEYS } });
    await expect(stranger.stream('big', [0, 9])).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/HTTP 403 InvalidAccessKeyId/) });
    const closed = await listen(net.createServer((s) => s.destroy()));
    await expect(storeFor(`http://127.0.0.1:${closed}`).stream('big', [0, 9])).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe('the client sets the pace', () => {
  test('a client that goes away stops the reads from S3', async () => {
    const relay = await startRelay();
    const s = await storeFor(`http://127.0.0.1:${relay.port}`).stream('huge', undefined);
    const r = await throughServer(sendWhole(s), (res) => new Promise((resolve) => {
      let seen = 0;
      res.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen >= MiB) {
          res.destroy();
          resolve(Buffer.alloc(0));
        }
      });
    }));
    await expect(r.sent).rejects.toThrow('the client closed the connection');
    await eventually('the connection to S3 closed', () => relay.open() === 0);
    expect(relay.bytes()).toBeLessThan(huge.length / 2);
  }, 60_000);

  test('a client that stops reading holds S3 back; every byte arrives once it reads again', async () => {
    const relay = await startRelay();
    const s = await storeFor(`http://127.0.0.1:${relay.port}`).stream('huge', undefined);
    const samples: number[] = [];
    const r = await throughServer(sendWhole(s, { sha256: hex(huge) }), async (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      await new Promise((resolve) => res.once('data', resolve));
      res.pause();
      for (const wait of [1_000, 500]) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        samples.push(relay.bytes());
      }
      res.resume();
      await new Promise((resolve) => res.on('end', resolve));
      return Buffer.concat(chunks);
    });
    // while the client does not read, nothing more comes from S3, and far less than the object came at all
    expect(samples[1]).toBe(samples[0]);
    expect(samples[0]).toBeLessThan(huge.length / 2);
    expect([r.body.equals(huge), await r.sent]).toEqual([true, huge.length]);
  }, 60_000);
});

/** A raw TCP "S3" answering every request with `answer(request number)`; counts requests and open connections. */
async function fakeS3(answer: (n: number, socket: net.Socket) => void): Promise<{ url: string; requests: () => number; open: () => number }> {
  let requests = 0;
  let open = 0;
  const port = await listen(net.createServer((socket) => {
    open++;
    socket.on('close', () => open--);
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        head = '';
        answer(++requests, socket);
      }
    });
  }));
  return { url: `http://127.0.0.1:${port}`, requests: () => requests, open: () => open };
}

describe('an S3 that misbehaves', () => {
  test('breaking off within the body: the send fails, saying how much was missing, and the client sees a cut answer', async () => {
    const fake = await fakeS3((_n, s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n'), randomBytes(1_500_000)])));
    const s = await storeFor(fake.url).stream('k', undefined);
    const r = throughServer(sendWhole(s));
    await expect(r).rejects.toThrow('incomplete answer');
    expect(s.body).toBeInstanceOf(DirectResponse);
    await expect((s.body as DirectResponse).sendTo({} as never)).rejects.toThrow('S3 closed the connection with 2694304 bytes of the answer still to come');
  });

  test('a chunked body or an error answer goes to the SDK\'s own handler (the request is sent again)', async () => {
    const chunked = await fakeS3((_n, s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const got = await storeFor(chunked.url).stream('k', undefined);
    expect(got.body).not.toBeInstanceOf(DirectResponse);
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(c as Buffer);
    expect([Buffer.concat(chunks).toString(), chunked.requests()]).toEqual(['hello', 2]);
    const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>';
    const failing = await fakeS3((_n, s) => s.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`));
    await expect(storeFor(failing.url).stream('k', undefined)).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/HTTP 500 InternalError/) });
  });

  test('silent S3: the abort of the download, or the idle timeout, closes the connection', async () => {
    const silent = await fakeS3(() => undefined);
    const abort = new AbortController();
    const pending = storeFor(silent.url).stream('k', undefined, abort.signal);
    await eventually('the request sent', () => silent.requests() === 1);
    abort.abort();
    await expect(pending).rejects.toMatchObject({ kind: 'unavailable' });
    await eventually('the connection closed', () => silent.open() === 0);
    const config = s3Config(silent.url);
    const usual = createS3Client(config);
    closers.push(() => usual.destroy());
    const quick = new S3Client({
      region: TEST_REGION, endpoint: silent.url, forcePathStyle: true, credentials: config.credentials, maxAttempts: 1,
      requestHandler: new DirectGetHandler(usual.config.requestHandler, { ...createAgents({ keepAlive: true, maxSockets: 4 }), connectionTimeoutMs: 1_000, requestTimeoutMs: 300 }),
    });
    closers.push(() => quick.destroy());
    await expect(new DumpStore(quick, BUCKET, '', quick).stream('k', undefined)).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('S3 sent nothing for 300 ms') });
    await eventually('the connection closed', () => silent.open() === 0);
  });
});
