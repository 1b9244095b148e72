/**
 * The HTTPS listeners of the `api` command. The serving certificate comes from files (the OpenShift service
 * CA's or cert-manager's Secret) and is re-read by `reload()`, like the injector's; the API port also asks for
 * a client certificate and trusts the requestheader client CA for it (the aggregation layer's front proxy),
 * which `reload()` replaces when the API server rotates it. The certificate is optional for a client: without
 * one the request carries a bearer token or is refused by the handler (401).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from '../runtime/logger';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Listener {
  readonly port: number;
  /** Re-read the certificate (and apply `clientCa`); true when something changed. Never throws. */
  reload(clientCa?: string): Promise<boolean>;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function readPair(f: TlsFiles): Promise<{ cert: Buffer; key: Buffer; digest: string }> {
  const [cert, key] = await Promise.all([fsp.readFile(f.certFile), fsp.readFile(f.keyFile)]);
  return { cert, key, digest: createHash('sha256').update(cert).update('\0').update(key).digest('hex') };
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closer(server: http.Server): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Downloads in flight get the shutdown's time; a resumable client continues with Range elsewhere.
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}

function tune(server: http.Server): void {
  server.headersTimeout = 10_000;
  // A multi-GiB download may take long: no overall request timeout, but idle sockets are closed.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 30_000;
  server.setTimeout(120_000);
}

/** HTTPS on `host:port`; with `clientCa`, client certificates are requested and verified against it. */
export async function startTlsListener(o: { host: string; port: number; files: TlsFiles; requestClientCert: boolean; clientCa?: string; logger: Logger; handler: Handler }): Promise<Listener> {
  let pair = await readPair(o.files);
  let clientCa = o.clientCa;
  const context = () => ({
    cert: pair.cert,
    key: pair.key,
    minVersion: 'TLSv1.2' as const,
    ...(o.requestClientCert && clientCa !== undefined ? { ca: clientCa } : {}),
  });
  tls.createSecureContext(context());
  const server = https.createServer({ ...context(), requestCert: o.requestClientCert, rejectUnauthorized: false }, o.handler);
  tune(server);
  server.on('tlsClientError', (error) => o.logger.debug('TLS handshake failed', { error }));
  const port = await listen(server, o.host, o.port);
  return {
    port,
    async reload(nextCa?: string) {
      let next;
      try {
        next = await readPair(o.files);
      } catch (error) {
        o.logger.warn('certificate files unreadable, keeping the current pair', { error: error as Error });
        return false;
      }
      const caChanged = nextCa !== undefined && nextCa !== clientCa;
      if (next.digest === pair.digest && !caChanged) return false;
      const previous = { pair, clientCa };
      pair = next;
      if (caChanged) clientCa = nextCa;
      try {
        server.setSecureContext(context());
      } catch (error) {
        ({ pair, clientCa } = previous);
        o.logger.warn('new certificate or client CA not usable yet, keeping the current ones', { error: error as Error });
        return false;
      }
      o.logger.info('TLS settings reloaded', { certificateChanged: next.digest !== previous.pair.digest, clientCaChanged: caChanged });
      return true;
    },
    close: closer(server),
  };
}

/** Plain HTTP on loopback only (the web page behind the oauth-proxy sidecar of the same pod). */
export async function startLoopbackListener(o: { host: string; port: number; handler: Handler }): Promise<Listener> {
  const server = http.createServer(o.handler);
  tune(server);
  const port = await listen(server, o.host, o.port);
  return { port, reload: async () => false, close: closer(server) };
}
