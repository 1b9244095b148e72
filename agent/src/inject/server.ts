/**
 * The webhook's HTTPS endpoint on node:https (no framework): POST AdmissionReviews to /mutate-pods.
 *
 * - TLS from a certificate and key file (the mounted serving-cert Secret). `reloadCertificate()` re-reads
 *   them; when they changed and form a usable pair, new connections get them (`setSecureContext`), without
 *   a restart. A half-rotated pair (new cert, old key) is refused and retried on the next call.
 * - Bodies above `maxBodyBytes` are answered 413 (by Content-Length before reading, or once the stream
 *   passes the limit) and the rest is discarded; anything that is not an AdmissionReview is a 400 with a
 *   JSON error. A handler failure is a 500 for that request only: the server keeps serving.
 * - Metrics: reviews by result, and the time from the request's first byte to the answer.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { INJECT_HTTPS } from '../contract';
import type { Logger } from '../runtime/logger';
import { METRIC_PREFIX } from '../runtime/metrics';
import { Counter, Gauge, Histogram, type Registry } from '../runtime/prom';
import { type AdmissionSettings, REVIEW_RESULTS, type ReviewResult, reviewAdmission } from './admission';

export interface InjectMetrics {
  readonly reviews: Counter<'result'>;
  readonly duration: Histogram<'result'>;
  readonly certificateReloads: Counter<'outcome'>;
  readonly certificateExpiry: Gauge;
}

export function injectMetrics(registry: Registry): InjectMetrics {
  const reviews = new Counter({
    name: `${METRIC_PREFIX}inject_reviews_total`,
    help: 'AdmissionReviews answered by the inject webhook, by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of REVIEW_RESULTS) reviews.inc({ result }, 0);
  return {
    reviews,
    duration: new Histogram({
      name: `${METRIC_PREFIX}inject_review_duration_seconds`,
      help: 'Time from the first byte of an AdmissionReview request to the end of the answer.',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    certificateReloads: new Counter({
      name: `${METRIC_PREFIX}inject_certificate_reloads_total`,
      help: 'Changed certificate files seen, by outcome (loaded, or rejected and the current pair kept).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    certificateExpiry: new Gauge({
      name: `${METRIC_PREFIX}inject_certificate_expiry_timestamp_seconds`,
      help: 'notAfter of the serving certificate in use (Unix time).',
      registers: [registry],
    }),
  };
}

export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly maxBodyBytes: number;
  readonly settings: AdmissionSettings;
  readonly logger: Logger;
  readonly metrics: InjectMetrics;
  /** Monotonic time in seconds, for the latency histogram. @default process.hrtime */
  readonly now?: () => number;
}

export interface RunningWebhookServer {
  readonly port: number;
  /** sha256 fingerprint (hex, no colons) of the certificate being served. */
  readonly fingerprint: string;
  /** Re-read the files; true when a new pair is now served. Never throws. */
  reloadCertificate(): Promise<boolean>;
  /** Stop accepting, finish requests in flight, close idle keep-alive connections. */
  close(): Promise<void>;
}

interface Pair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly digest: string;
}

async function readPair(certFile: string, keyFile: string): Promise<Pair> {
  const [cert, key] = await Promise.all([fs.readFile(certFile), fs.readFile(keyFile)]);
  return { cert, key, digest: createHash('sha256').update(cert).update('\0').update(key).digest('hex') };
}

/** Throws when the pair is unusable (unparsable, or key and certificate do not match). */
function describe(pair: Pair): { fingerprint: string; validTo: string; expiry: number } {
  tls.createSecureContext({ cert: pair.cert, key: pair.key });
  const x509 = new X509Certificate(pair.cert);
  return { fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(), validTo: x509.validTo, expiry: Date.parse(x509.validTo) / 1000 };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(text);
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<RunningWebhookServer> {
  const now = o.now ?? (() => Number(process.hrtime.bigint()) / 1e9);
  let current = await readPair(o.tlsCertFile, o.tlsKeyFile);
  let info = describe(current);
  o.metrics.certificateExpiry.set(info.expiry);
  const log = o.logger;

  const observe = (result: ReviewResult, started: number) => {
    o.metrics.reviews.inc({ result });
    o.metrics.duration.observe({ result }, now() - started);
  };

  const server = https.createServer({ cert: current.cert, key: current.key, minVersion: 'TLSv1.2' }, (req, res) => {
    const started = now();
    const path = (req.url ?? '/').split('?')[0];
    if (path !== INJECT_HTTPS.mutatePods && path !== INJECT_HTTPS.validateExec) {
      req.resume();
      return sendJson(res, 404, { error: 'not found' });
    }
    if (req.method !== 'POST') {
      req.resume();
      return sendJson(res, 405, { error: 'method not allowed: POST an AdmissionReview' });
    }
    const tooLarge = () => {
      observe('bad-request', started);
      log.warn('admission request rejected: body too large', { limitBytes: o.maxBodyBytes, remote: req.socket.remoteAddress });
      sendJson(res, 413, { error: `body larger than ${o.maxBodyBytes} bytes` }, true);
      // Discard the rest without buffering it; the connection closes after the answer.
      req.removeAllListeners('data');
      req.resume();
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > o.maxBodyBytes) return tooLarge();

    const chunks: Buffer[] = [];
    let size = 0;
    let rejected = false;
    req.on('data', (chunk: Buffer) => {
      if (rejected) return;
      size += chunk.length;
      if (size > o.maxBodyBytes) {
        rejected = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (error) => log.debug('admission request stream failed', { error }));
    req.on('end', () => {
      if (rejected) return;
      let outcome;
      try {
        outcome = reviewAdmission(Buffer.concat(chunks, size).toString('utf8'), o.settings);
      } catch (error) {
        observe('error', started);
        log.error('admission review failed', { error: error as Error });
        return sendJson(res, 500, { error: 'internal error' });
      }
      sendJson(res, outcome.status, outcome.body);
      observe(outcome.result, started);
      const fields = { result: outcome.result, namespace: outcome.namespace, pod: outcome.pod, warnings: outcome.warnings.length || undefined };
      if (outcome.result === 'error') log.error('pod not collected: internal error', { ...fields, error: outcome.error });
      else if (outcome.result === 'bad-request') log.warn('malformed admission request', { error: (outcome.body as { error: string }).error });
      else if (outcome.result === 'injected') log.info('pod collected', fields);
      else if (outcome.result === 'exec-refused') log.warn('exec into the wait-ready container refused', fields);
      else log.debug('admission review answered', fields);
    });
  });
  // The API server's webhook timeout is at most 30 s (ours is short); nothing legitimate is slower.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 30_000;
  server.on('tlsClientError', (error) => log.debug('TLS handshake failed', { error }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info('webhook listening', { host: o.host, port, path: INJECT_HTTPS.mutatePods, certificate: info.fingerprint, validTo: info.validTo });

  return {
    port,
    get fingerprint() {
      return info.fingerprint;
    },
    async reloadCertificate() {
      let next: Pair;
      try {
        next = await readPair(o.tlsCertFile, o.tlsKeyFile);
      } catch (error) {
        log.warn('certificate files unreadable, keeping the current pair', { error: error as Error });
        return false;
      }
      if (next.digest === current.digest) return false;
      try {
        const nextInfo = describe(next);
        server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
        current = next;
        info = nextInfo;
        o.metrics.certificateExpiry.set(info.expiry);
        o.metrics.certificateReloads.inc({ outcome: 'loaded' });
        log.info('certificate reloaded', { certificate: info.fingerprint, validTo: info.validTo });
        return true;
      } catch (error) {
        o.metrics.certificateReloads.inc({ outcome: 'rejected' });
        log.warn('changed certificate files are not a usable pair yet, keeping the current one', { error: error as Error });
        return false;
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
