/** /healthz, /readyz and /metrics on node:http (no framework: small image, small memory). */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HTTP } from '../contract';
import type { Logger } from './logger';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: () => { ready: boolean; reason?: string };
  /** @default always healthy */
  readonly health?: () => { healthy: boolean; reason?: string };
  readonly logger: Logger;
  /** Extra routes, by `METHOD path` (CommandContext.httpRoute). @default none */
  readonly routes?: ReadonlyMap<string, () => { readonly status: number; readonly body: string }>;
}

export interface RunningHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = opts.routes?.get(`${req.method} ${path}`);
    if (route) {
      req.resume(); // no body is read
      const answer = route();
      return send(res, answer.status, answer.body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, '{"error":"method not allowed"}');
    // Answering at all proves the event loop is alive; `health` adds the command's loops.
    if (path === HTTP.health) {
      const state = opts.health?.() ?? { healthy: true };
      return send(res, state.healthy ? 200 : 503, JSON.stringify(state));
    }
    if (path === HTTP.ready) {
      const state = opts.readiness();
      return send(res, state.ready ? 200 : 503, JSON.stringify(state));
    }
    if (path === HTTP.metrics) {
      opts.registry.metrics().then(
        (text) => send(res, 200, text, opts.registry.contentType),
        (error) => {
          opts.logger.error('metrics collection failed', { error });
          send(res, 500, '{"error":"metrics failed"}');
        },
      );
      return;
    }
    send(res, 404, '{"error":"not found"}');
  });
  // Probes are short requests; do not let idle keep-alive sockets delay shutdown.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info('http server listening', { host: opts.host, port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
