/**
 * A small fault-injecting HTTP proxy on loopback, in front of a real S3 server.
 *
 * For a seeded, reproducible fraction of requests it answers 500 or 503 itself (after draining the
 * request body, with an S3-style XML error), or delays the request before forwarding it. Everything
 * else is forwarded untouched, so the real server still decides what is stored.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface FaultProxyOptions {
  /** The real server, e.g. http://127.0.0.1:4568. */
  readonly target: string;
  /** Fraction of requests answered 500 by the proxy. @default 0 */
  readonly error500?: number;
  /** Fraction of requests answered 503 SlowDown by the proxy. @default 0 */
  readonly error503?: number;
  /** Fraction of requests delayed by `delayMs` before being forwarded. @default 0 */
  readonly slow?: number;
  /** @default 2000 */
  readonly delayMs?: number;
  /** Seed of the deterministic random sequence. @default 1 */
  readonly seed?: number;
  /**
   * Requests whose method and path (decoded, without the query) match are refused with this S3 error,
   * as a server refuses one request for what it carries (e.g. 400 KeyTooLongError).
   * @default none
   */
  readonly refuse?: ReadonlyArray<{ readonly method?: string; readonly path: RegExp; readonly status: number; readonly code: string }>;
  /** Called with every request's method, URL (path and query) and headers, before anything else. @default none */
  readonly observe?: (req: { readonly method: string; readonly url: string; readonly headers: http.IncomingHttpHeaders }) => void;
  /**
   * Headers added to (or replacing those of) a forwarded request's response, e.g. what a server that stores objects
   * with SSE-S3 answers a HEAD with. Response headers are not signed, so the client takes them as the server's.
   * @default none
   */
  readonly responseHeaders?: (req: { readonly method: string; readonly url: string }) => Record<string, string> | undefined;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly stats: { requests: number; error500: number; error503: number; slowed: number; forwarded: number; refused: number };
  close(): Promise<void>;
}

/** mulberry32: tiny deterministic PRNG, so a fault run can be repeated exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function s3Error(res: http.ServerResponse, status: number, code: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by fault proxy</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const random = prng(opts.seed ?? 1);
  const delayMs = opts.delayMs ?? 2000;
  const stats = { requests: 0, error500: 0, error503: 0, slowed: 0, forwarded: 0, refused: 0 };
  const agent = new http.Agent({ keepAlive: true });

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.forwarded++;
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        const extra = opts.responseHeaders?.({ method: req.method ?? '', url: req.url ?? '/' });
        res.writeHead(up.statusCode ?? 502, extra ? { ...up.headers, ...extra } : up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) s3Error(res, 502, 'BadGateway');
      else res.destroy();
    });
    req.pipe(upstream);
  };

  const server = http.createServer((req, res) => {
    stats.requests++;
    opts.observe?.({ method: req.method ?? '', url: req.url ?? '/', headers: req.headers });
    const reqPath = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const rule = opts.refuse?.find((x) => (x.method === undefined || x.method === req.method) && x.path.test(reqPath));
    if (rule) {
      stats.refused++;
      req.resume();
      req.on('end', () => s3Error(res, rule.status, rule.code));
      return;
    }
    const r = random();
    const p500 = opts.error500 ?? 0;
    const p503 = opts.error503 ?? 0;
    const pSlow = opts.slow ?? 0;
    if (r < p500 || r < p500 + p503) {
      const is500 = r < p500;
      if (is500) stats.error500++;
      else stats.error503++;
      req.resume();
      req.on('end', () => s3Error(res, is500 ? 500 : 503, is500 ? 'InternalError' : 'SlowDown'));
      return;
    }
    if (r < p500 + p503 + pSlow) {
      stats.slowed++;
      req.pause();
      setTimeout(() => forward(req, res), delayMs);
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
