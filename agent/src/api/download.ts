/**
 * `GET .../heapdumps/<name>/download`: the dump's bytes, streamed from S3 to the client with backpressure (never
 * the file: one GET of the asked range, read from its socket into a few reused buffers and written on as they fill,
 * net/direct-response.ts), with `Range` (resume), `If-Range`, the sha256 as `Digest` / `Repr-Digest` (of the whole
 * file, also on a 206) and as the strong `ETag`, an audit log line and metrics.
 *
 * The whole file is checked as it goes: its bytes are hashed on their way out and the last buffer is sent only if
 * they hash to the recorded sha256; otherwise the response is cut short of its Content-Length (audit result
 * `store-corrupt`), so a changed or damaged object is never served as whole. A Range of part of the file cannot be
 * checked here: its length is, and the client checks the whole file it assembles against the Digest.
 *
 * A gzip-compressed upload (`uploader.gzip`) is served as the stored .gz bytes; its sha256 is the original's,
 * so it is sent as `X-Heapdump-Sha256` with `X-Heapdump-Encoding: gzip` and no Digest header (the client checks
 * it after decompressing).
 */
import type * as http from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BodyMismatch, checkingStream } from '../net/body-check';
import { DirectResponse } from '../net/direct-response';
import type { Logger } from '../runtime/logger';
import type { DumpMeta, DumpRecord } from './dump-index';
import { StoreError, type DumpStore } from './dump-store';
import type { Identity } from './identity';
import type { ApiMetrics } from './metrics';
import { SECURITY_HEADERS, sendStatus, status } from './status';

export type RangeAsk = { readonly kind: 'full' } | { readonly kind: 'range'; readonly start: number; readonly end: number } | { readonly kind: 'unsatisfiable' };

/** RFC 9110 byte ranges, one range only (several, or a malformed header, get the whole file, as RFC 9110 allows). */
export function parseRange(header: string | undefined, size: number): RangeAsk {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'full' };
  return { kind: 'range', start, end };
}

/** The strong ETag of a dump: its sha256 (the original's, marked, for a gzip upload), else the S3 ETag. */
export function etagOf(r: DumpRecord, meta: DumpMeta): string {
  if (meta.sha256 === undefined) return `"s3-${r.etag}"`;
  return meta.encodingApplied === 'gzip' ? `"sha256-${meta.sha256}-gzip"` : `"sha256-${meta.sha256}"`;
}

const EXTENSIONS = ['.hprof.gz', '.hprof', '.phd', '.gz'];

/** `<name><extension>`: ASCII only, so the Content-Disposition needs no encoding. */
export function downloadFileName(r: DumpRecord): string {
  return r.name + (EXTENSIONS.find((e) => r.fileName.endsWith(e)) ?? '');
}

export interface DownloadDeps {
  readonly store: DumpStore;
  readonly logger: Logger;
  readonly metrics: ApiMetrics;
  readonly now: () => number;
}

export async function serveDownload(req: http.IncomingMessage, res: http.ServerResponse, r: DumpRecord, meta: DumpMeta, who: Identity, d: DownloadDeps): Promise<void> {
  const started = d.now();
  const etag = etagOf(r, meta);
  const ifRange = req.headers['if-range'];
  const ask = ifRange !== undefined && ifRange !== etag ? { kind: 'full' as const } : parseRange(req.headers.range, r.size);
  const audit = (result: string, bytes: number, extra: Record<string, unknown> = {}) => {
    d.metrics.downloads.inc({ result });
    d.metrics.downloadBytes.inc({ namespace: r.namespace }, bytes);
    d.logger.info('heap dump download', {
      audit: true, user: who.user.username, groups: who.user.groups, via: who.via, namespace: r.namespace, name: r.name, key: r.key,
      result, bytes, size: r.size, range: ask.kind === 'range' ? `${ask.start}-${ask.end}` : undefined, ms: d.now() - started, ...extra,
    });
  };
  const digestHeaders: Record<string, string> = { etag, 'accept-ranges': 'bytes' };
  if (meta.sha256 !== undefined) {
    digestHeaders['x-heapdump-sha256'] = meta.sha256;
    if (meta.encodingApplied === 'gzip') digestHeaders['x-heapdump-encoding'] = 'gzip';
    else {
      const b64 = Buffer.from(meta.sha256, 'hex').toString('base64');
      digestHeaders.digest = `sha-256=${b64}`;
      digestHeaders['repr-digest'] = `sha-256=:${b64}:`;
    }
  }
  if (ask.kind === 'unsatisfiable') {
    audit('range-not-satisfiable', 0);
    sendStatus(res, status(416, 'RequestedRangeNotSatisfiable', `range "${String(req.headers.range)}" is outside the dump's ${r.size} bytes`), { 'content-range': `bytes */${r.size}`, ...digestHeaders });
    return;
  }
  const range = ask.kind === 'range' ? [ask.start, ask.end] as const : undefined;
  const [from, to] = range ?? [0, r.size - 1];
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const length = r.size === 0 ? 0 : to - from + 1;
  // HEAD (a client asking for the size and digest before it resumes): the headers from the index, no GET to S3.
  let body: Readable | undefined;
  if (length > 0 && req.method !== 'HEAD') {
    try {
      const s = await d.store.stream(r.key, [from, to], abort.signal);
      body = s.body;
      if (s.length !== length) {
        body.destroy();
        throw new StoreError('unavailable', `get ${r.key}: S3 answered ${s.length} bytes for the ${length} asked for (the object changed since it was listed)`);
      }
    } catch (error) {
      res.off('close', onClose);
      const e = error as StoreError;
      if (abort.signal.aborted) return audit('client-closed', 0);
      if (e instanceof StoreError && e.kind === 'not-found') {
        audit('gone', 0);
        return sendStatus(res, status(404, 'NotFound', `heapdumps "${r.name}" not found`, { name: r.name, kind: 'heapdumps' }));
      }
      audit('store-unavailable', 0, { error: e.message });
      return sendStatus(res, status(503, 'ServiceUnavailable', 'the dump store (S3) cannot be reached right now; nothing was sent, try again in a minute'), { 'retry-after': '30' });
    }
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'content-length': length,
    'content-disposition': `attachment; filename="${downloadFileName(r)}"`,
    ...SECURITY_HEADERS,
    ...digestHeaders,
  };
  if (range !== undefined) headers['content-range'] = `bytes ${range[0]}-${range[0] + length - 1}/${r.size}`;
  res.writeHead(range !== undefined ? 206 : 200, headers);
  if (body === undefined) {
    res.end();
    res.off('close', onClose);
    return audit(req.method === 'HEAD' ? 'head' : 'complete', 0);
  }
  // The status and headers go now, not with the first buffer (up to 1 MiB later): the client sees the size and the
  // digest at once, and a body that fails its check is always an answer cut short, whatever its size.
  res.flushHeaders();
  let sent = 0;
  // the whole file, stored as it was hashed: checked on the way out
  const sha256 = length === r.size && meta.sha256 !== undefined && meta.encodingApplied !== 'gzip' ? meta.sha256 : undefined;
  try {
    if (body instanceof DirectResponse) {
      sent = await body.sendTo(res, { sha256 });
    } else {
      // another body (e.g. the SDK's checksum validation wraps it): streamed as it comes
      body.on('data', (c: Buffer) => (sent += c.length));
      await (sha256 === undefined ? pipeline(body, res) : pipeline(body, checkingStream(sha256), res));
    }
    audit(range !== undefined ? 'partial' : 'complete', sent);
  } catch (error) {
    res.destroy();
    if (body instanceof DirectResponse) sent = body.bytesSent;
    const result = error instanceof BodyMismatch ? 'store-corrupt' : abort.signal.aborted && sent < length ? 'client-closed' : 'store-failed';
    audit(result, sent, { error: (error as Error).message });
    if (result === 'store-corrupt') d.logger.error('dump in S3 does not match its sha256; not served whole', { key: r.key, error: (error as Error).message });
  } finally {
    res.off('close', onClose);
  }
}
