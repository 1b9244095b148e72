/**
 * A byte-counting HTTP proxy on loopback in front of the demo's S3 server, so the progress view can show a
 * dump's bytes on their way (the uploader's PUTs, the analyzer's GET) as the server receives and sends them,
 * not as an agent says it did. Everything is forwarded untouched; path-style requests only (the agents use
 * path-style with a custom endpoint), so the key is the path after the bucket.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface S3Transfer {
  readonly method: 'PUT' | 'GET';
  /** The object key (decoded), without the bucket. */
  readonly key: string;
  /** Body bytes of this request (PUT) or response (GET) so far. */
  readonly bytes: number;
}

export interface S3Tap {
  readonly endpoint: string;
  /** Body bytes per `METHOD key` so far (multipart parts of one key add up). */
  bytes(method: 'PUT' | 'GET', key: string): number;
  close(): Promise<void>;
}

function keyOf(url: string, bucket: string): string | undefined {
  const p = decodeURIComponent(url.split('?')[0]);
  const prefix = `/${bucket}/`;
  return p.startsWith(prefix) && p.length > prefix.length ? p.slice(prefix.length) : undefined;
}

export async function startS3Tap(target: string, bucket: string, onBytes: (t: S3Transfer) => void = () => undefined): Promise<S3Tap> {
  const up = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const totals = new Map<string, number>();
  const count = (method: 'PUT' | 'GET', key: string, n: number) => {
    const id = `${method} ${key}`;
    const bytes = (totals.get(id) ?? 0) + n;
    totals.set(id, bytes);
    onBytes({ method, key, bytes });
  };

  const server = http.createServer((req, res) => {
    const key = keyOf(req.url ?? '/', bucket);
    const method = req.method === 'PUT' || req.method === 'GET' ? req.method : undefined;
    const upstream = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (method === 'GET' && key !== undefined && (ur.statusCode ?? 500) < 300) ur.on('data', (c: Buffer) => count('GET', key, c.length));
      ur.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { connection: 'close' });
      res.end();
    });
    if (method === 'PUT' && key !== undefined) req.on('data', (c: Buffer) => count('PUT', key, c.length));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bytes: (method, key) => totals.get(`${method} ${key}`) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
