/**
 * One upload job: one version of one dump file, from "is it finished?" to "verified in S3".
 *
 * The file is reached through pinned directories from a freshly opened root (never by a path a
 * tenant can redirect), opened non-blocking, and must be the regular file the scan saw (same device
 * and inode). Its bytes are read once (read-pass.ts) for the sha256, the analysis and, for one PUT,
 * the payload digest, then sent (a second read) with payload digests, so the server rejects anything
 * that changed in between (a multipart upload digests each part just before sending it and checks
 * those bytes against the sha256, s3-store.ts); a multipart upload is also checked against the
 * file's ctime before commit.
 * The verifying HEAD also checks the object's server-side encryption (encryption.ts): an object the server
 * stored without the requested encryption is not verified, and is overwritten by the next attempt.
 * The job never decides what happens to the local file afterwards (after-upload.ts) and never
 * changes tracked state itself: it returns what happened and the loop records it.
 */
import type { FileHandle } from 'fs/promises';
import { OBJECT_METADATA } from '../contract';
import { fsError, type FileIdentity, identityOf, openPath, type PinnedDir, sameVersion } from '../fs/pinned-dir';
import type { StuckReads } from '../fs/stuck-io';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import type { HeapSummary } from '../triage/summary';
import type { Analyses } from './analyses';
import { versionKey } from './analysis-journal';
import { describeWanted, encryptionMismatch, etagIsMd5Form, NO_ENCRYPTION, type ObjectEncryption } from './encryption';
import { checkHprof, type HprofVerdict } from './hprof';
import { contentSuffixedKey, dumpKey, metadataValue, podOf } from './keys';
import { ensureTags, podTags } from './object-tags';
import { type DumpKind, kindOfName } from './scan-rules';
import { type PassResult, type PayloadDigest, type PositionedRead, readPass, withReadTimeout } from './read-pass';
import { expectedEtag, type HeadResult, type S3Store } from './s3-store';
import { type Readiness } from './stability';
import { Tracker, type Tracked } from './tracker';

export { type DumpKind, kindOfName } from './scan-rules';

export interface TriageOutcome {
  /** The summary objects' bodies (JSON and text), given the verified dump's facts. */
  render(dump: VerifiedDump): { readonly json: string; readonly text: string };
  /** Top classes by shallow size, for one-line notifications. */
  readonly topClasses: ReadonlyArray<{ readonly name: string; readonly shallowBytes: number; readonly instances: number }>;
}

export interface JobSettings {
  readonly nodeName: string;
  readonly prefix: string;
  readonly gzip: boolean;
  readonly digest: PayloadDigest;
  readonly readTimeoutMs: number;
  /** Log progress of long reads and uploads at most this often. */
  readonly progressIntervalMs: number;
  /** Decompressed bytes a `.hprof.gz` of `size` bytes may be decoded to (the inflate budget). @default no limit */
  readonly inflateLimit?: (size: number) => number;
}

export interface JobDeps {
  readonly store: S3Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Liveness while bytes flow. */
  readonly onBytes: (n: number) => void;
  /** Reads of hung storage that timed out and have not returned (shared with main.ts, for the exit). */
  readonly stuck: StuckReads;
  /** The triage analyses (summaries); undefined when DUMP_ANALYSIS is off. */
  readonly analyses?: Analyses;
}

/** A dump whose object is verified in S3. */
export interface VerifiedDump {
  readonly key: string;
  readonly bucket: string;
  readonly size: number;
  readonly storedSize: number;
  readonly sha256: string;
  /** 'unknown' for files whose format has no end marker (e.g. OpenJ9 .phd). */
  readonly complete: 'true' | 'false' | 'unknown';
  readonly namespace?: string;
  readonly pod?: string;
  readonly modifiedAt: string;
  readonly uploadedAt: string;
  readonly uncompressedSize?: number;
  readonly compressed?: 'gzip';
  /** It was in S3 already (nothing sent). */
  readonly duplicate: boolean;
  readonly seconds: number;
  readonly summaryKeys?: { readonly json: string; readonly text: string };
}

/** A read pass and its analysis (pending or done), kept for the version they ran on. */
export interface CachedPass {
  readonly state: FileIdentity;
  readonly result: PassResult;
  /** The summary of this version, once its analysis is done (analyses.ts). */
  readonly analysis?: Promise<HeapSummary>;
}

export type JobOutcome =
  | { readonly kind: 'wait' }
  /** The cheap check or the read pass ran: cache it and decide again later. */
  | { readonly kind: 'checked'; readonly state: FileIdentity; readonly check?: HprofVerdict; readonly pass?: CachedPass }
  | { readonly kind: 'verified'; readonly state: FileIdentity; readonly dump: VerifiedDump; readonly analysis?: Promise<HeapSummary> };

/** Whether an object holds this content: sha256 and original size in its metadata, and (uncompressed) its size. */
export function sameContent(head: HeadResult, sha256: string, size: number, gzip: boolean): boolean {
  const m = head.metadata;
  if (m[OBJECT_METADATA.sha256] !== sha256 || m[OBJECT_METADATA.originalSize] !== String(size)) return false;
  // An object whose ETag is an MD5 that contradicts the MD5 it was sent with holds other bytes than its metadata says
  // (not with SSE-KMS, whose ETag is no MD5 of the data).
  const md5 = m[OBJECT_METADATA.md5];
  if (md5 !== undefined && etagIsMd5Form(head.encryption) && /^[0-9a-f]{32}$/.test(head.etag) && head.etag !== md5) return false;
  return gzip || head.size === size;
}

/**
 * Whether an object is this dump, done: this content, stored with the required encryption. An object with the
 * same content but not so encrypted is not "already there": it is uploaded again over itself.
 */
export function matches(head: HeadResult, sha256: string, size: number, gzip: boolean, encryption: ObjectEncryption = NO_ENCRYPTION): boolean {
  return sameContent(head, sha256, size, gzip) && encryptionMismatch(head.encryption, encryption) === undefined;
}

export class UploadJob {
  private readonly log: Logger;

  constructor(
    private readonly settings: JobSettings,
    private readonly deps: JobDeps,
  ) {
    this.log = deps.logger;
  }

  /**
   * Runs the job for `t` as far as `readiness` allows. Throws (with a code) on failure; the caller
   * classifies it. `overwrite`: a key this uploader wrote last time with bytes that did not verify.
   */
  async run(root: PinnedDir, t: Tracked, readiness: Readiness, overwrite?: string): Promise<JobOutcome> {
    if (readiness === 'wait') return { kind: 'wait' };
    // An earlier read of this file never returned: reading it again would only lose another thread.
    if (this.deps.stuck.has(t.id)) throw fsError('EREADTIMEOUT', 'an earlier read of this file has not returned yet (hung storage?)');
    const segments = t.file.segments;
    const name = segments[segments.length - 1];
    const parent = await openPath(root, segments.slice(0, -1));
    let fh: FileHandle | undefined;
    try {
      const opened = await parent.openFile(name, t.obs.state);
      fh = opened.fh;
      const state = identityOf(opened.stat);
      if (!sameVersion(state, t.obs.state)) return { kind: 'wait' }; // changed since the scan: observe again
      return await this.withFile(fh, t, state, readiness, kindOfName(name), overwrite);
    } finally {
      // FileHandle.close() waits for the handle's pending reads: after a read that never returned it
      // would wait forever, so the handle is then left to close whenever that read ends.
      if (fh && this.deps.stuck.has(t.id)) void fh.close().catch(() => undefined);
      else await fh?.close().catch(() => undefined);
      await parent.close();
    }
  }

  /** A progress reporter for one phase of one file: heartbeat on every chunk, a log line now and then. */
  private progress(path: string, phase: 'reading' | 'sending', total: number): (n: number) => void {
    const { clock } = this.deps;
    const start = clock.now();
    let done = 0;
    let lastLog = start;
    return (n) => {
      done += n;
      this.deps.onBytes(n);
      const now = clock.now();
      if (now - lastLog < this.settings.progressIntervalMs) return;
      lastLog = now;
      this.log.info('upload progress', {
        path, phase,
        percent: Number(((100 * done) / Math.max(1, total)).toFixed(1)),
        mibPerSecond: Number((done / 2 ** 20 / Math.max(0.001, (now - start) / 1000)).toFixed(1)),
      });
    };
  }

  private async withFile(fh: FileHandle, t: Tracked, state: FileIdentity, readiness: Readiness, kind: DumpKind, overwrite?: string): Promise<JobOutcome> {
    // The completeness check, the read pass (which applies the same timeout itself) and the part digests
    // read through the timeout (the upload itself is bounded by the S3 client's request timeout): a hung
    // disk costs one thread and one failed attempt, not the loop.
    const fileRead: PositionedRead = async (b, p, l) => (await fh.read(b, 0, l, p)).bytesRead;
    const stuck = { reads: this.deps.stuck, key: t.id };
    const read = withReadTimeout(fileRead, this.settings.readTimeoutMs, stuck);

    // Is it finished? A structurally complete HPROF may go after the short quiet time; a compressed
    // one is proven complete only by decoding it (which is the read pass); anything else waits the full window.
    let check = Tracker.current(t.check, state)?.verdict;
    if (kind === 'hprof' && !check) {
      check = await checkHprof(read, state.size);
      if (check.kind !== 'complete' && readiness !== 'quiet-full') return { kind: 'checked', state, check };
    }
    if (kind === 'hprof' && check?.kind !== 'complete' && readiness !== 'quiet-full') return { kind: 'wait' };
    if (kind === 'other' && readiness !== 'quiet-full') return { kind: 'wait' };

    const name = t.file.segments[t.file.segments.length - 1].toString('latin1');
    // The optional gzip on the fly never compresses what is compressed already.
    const gzip = this.settings.gzip && kind !== 'hprof-gzip' && !name.endsWith('.gz');
    const partSize = gzip ? undefined : this.deps.store.partSizeFor(state.size);
    const started = this.deps.clock.now();
    let cached = Tracker.current(t.pass, state);
    // The analysis runs in its own process and the upload never waits for it. Asked for before the pass,
    // it reads alongside it when no other analysis runs (the same pages); a compressed dump is proven
    // whole by this very pass, so its analysis is asked for only once it goes.
    const requestAnalysis = () => (kind !== 'other' && this.deps.analyses
      ? this.deps.analyses.request({ version: versionKey(state), id: t.id, tenant: podOf(t.file.segments).namespace ?? '', kind, state, fh })
      : undefined);
    if (!cached) {
      const analysis = kind === 'hprof' ? requestAnalysis() : undefined;
      // Only one PUT sends the bytes with a digest of this read: multipart digests each part as it sends
      // it, and gzip on the fly its compressed parts.
      const onePut = !gzip && partSize === undefined;
      const inflateLimit = kind === 'hprof-gzip' ? this.settings.inflateLimit?.(state.size) : undefined;
      const result = await readPass(fileRead, {
        size: state.size, ...(onePut ? { digest: this.settings.digest } : {}), gzipHprof: kind === 'hprof-gzip', ...(inflateLimit !== undefined ? { inflateLimit } : {}),
      }, {
        signal: this.deps.signal,
        onBytes: this.progress(t.id, 'reading', state.size),
        readTimeoutMs: this.settings.readTimeoutMs,
        stuck,
      });
      cached = { state, result, ...(analysis ? { analysis } : {}) };
      if (kind === 'hprof-gzip' && !result.decoded?.complete && readiness !== 'quiet-full') {
        // Not (yet) a whole compressed dump: keep the pass (same version = same bytes) and wait the full window.
        return { kind: 'checked', state, pass: cached };
      }
    }
    if (kind === 'hprof-gzip' && !cached.analysis && (cached.result.decoded?.complete || readiness === 'quiet-full')) {
      const analysis = requestAnalysis();
      if (analysis) cached = { ...cached, analysis };
    }
    const pass = cached.result;
    if (kind === 'hprof-gzip' && !pass.decoded?.complete && readiness !== 'quiet-full') return { kind: 'wait' };

    const complete: 'true' | 'false' | 'unknown' = kind === 'hprof' ? (check?.kind === 'complete' ? 'true' : 'false')
      : kind === 'hprof-gzip' ? (pass.decoded?.complete ? 'true' : pass.decoded?.unknown ? 'unknown' : 'false') : 'unknown';
    if (complete === 'false') {
      const reason = kind === 'hprof' ? (check && check.kind !== 'complete' ? check.reason : undefined) : pass.decoded?.reason;
      this.log.warn('dump is not structurally complete: uploading it marked incomplete', { key: t.id, reason });
    }
    if (pass.decoded?.unknown) this.log.warn('compressed dump not checked to its end (inflate budget): uploading it marked complete=unknown', { key: t.id, reason: pass.decoded.reason });
    const dump = await this.upload(fh, read, t, state, pass, { gzip, partSize, complete, overwrite, started, summary: cached.analysis !== undefined });
    return { kind: 'verified', state, dump, ...(cached.analysis ? { analysis: cached.analysis } : {}) };
  }

  private async upload(
    fh: FileHandle,
    read: PositionedRead,
    t: Tracked,
    state: FileIdentity,
    pass: PassResult,
    o: { gzip: boolean; partSize?: number; complete: 'true' | 'false' | 'unknown'; overwrite?: string; started: number; summary: boolean },
  ): Promise<VerifiedDump> {
    const { store, clock, signal } = this.deps;
    const mtimeMs = Number(state.mtimeNs / 1_000_000n);
    const baseKey = dumpKey(this.settings.prefix, this.settings.nodeName, t.file.segments, mtimeMs) + (o.gzip ? '.gz' : '');
    const target = o.overwrite !== undefined ? { key: o.overwrite, duplicate: false } : await this.resolveTarget(baseKey, pass.sha256, state.size, o.gzip);
    const { namespace, pod } = podOf(t.file.segments);
    const tags = podTags(namespace, pod);
    const summaryKeys = o.summary ? { json: `${target.key}.summary.json`, text: `${target.key}.summary.txt` } : undefined;
    const uncompressedSize = pass.decoded?.uncompressedSize;
    let storedSize = state.size;
    if (target.duplicate) {
      this.log.info('already in S3: skipped', { key: target.key, size: state.size });
    } else {
      const metadata: Record<string, string> = {
        [OBJECT_METADATA.node]: metadataValue(this.settings.nodeName),
        [OBJECT_METADATA.uploadTime]: new Date(clock.now()).toISOString(),
        [OBJECT_METADATA.originalSize]: String(state.size),
        [OBJECT_METADATA.sha256]: pass.sha256,
        [OBJECT_METADATA.complete]: o.complete,
        [OBJECT_METADATA.modifiedTime]: new Date(mtimeMs).toISOString(),
      };
      if (pass.md5 !== undefined && !o.gzip) metadata[OBJECT_METADATA.md5] = pass.md5;
      if (namespace !== undefined) metadata[OBJECT_METADATA.namespace] = metadataValue(namespace);
      if (pod !== undefined) metadata[OBJECT_METADATA.pod] = metadataValue(pod);
      if (o.gzip) metadata[OBJECT_METADATA.encoding] = 'gzip';
      if (uncompressedSize !== undefined) metadata[OBJECT_METADATA.uncompressedSize] = String(uncompressedSize);
      if (summaryKeys) metadata[OBJECT_METADATA.summary] = metadataValue(summaryKeys.json.slice(summaryKeys.json.lastIndexOf('/') + 1));
      this.log.info('uploading', { key: target.key, size: state.size, complete: o.complete, gzip: o.gzip, multipart: o.partSize !== undefined });
      const result = await store.upload({
        fh,
        size: state.size,
        key: target.key,
        metadata,
        tags,
        gzip: o.gzip,
        digest: this.settings.digest,
        partSize: o.partSize,
        ...(pass.payloadDigest ? { putDigest: pass.payloadDigest } : {}),
        read,
        sha256: pass.sha256,
        signal,
        onBytes: this.progress(t.id, 'sending', state.size),
        // Nothing may have touched the file since the read pass: same inode, size, mtime and ctime.
        beforeCommit: async () => {
          const now = await fh.stat({ bigint: true });
          if (now.nlink === 0n) throw fsError('EVANISHED', 'the file was deleted during the upload');
          if (!sameVersion(identityOf(now), state)) throw fsError('ECHANGED', 'the file changed during the upload');
        },
      });
      storedSize = result.storedSize;
      const head = await store.head(target.key, signal);
      if (!head || !sameContent(head, pass.sha256, state.size, o.gzip) || (o.gzip && head.size !== storedSize)) {
        // An object we just wrote that does not verify: overwrite it next time, whatever it holds.
        throw Object.assign(fsError('EVERIFY', `verification failed for ${target.key}: ${JSON.stringify(head ? { size: head.size, etag: head.etag } : 'missing')}`), { overwrite: target.key });
      }
      // The server took the request but did not store it encrypted as asked (a server without that mode, a
      // proxy that drops headers): not verified; the next attempt writes it again, over this object.
      const notEncrypted = encryptionMismatch(head.encryption, store.encryption);
      if (notEncrypted !== undefined) {
        throw Object.assign(fsError('ENOTENCRYPTED', `${target.key} was ${notEncrypted}: ${describeWanted(store.encryption)} is required`), { overwrite: target.key });
      }
      // A multipart ETag in S3's form (MD5 of the parts' MD5s) can be checked against the digests sent.
      if (result.partDigests && this.settings.digest === 'md5' && etagIsMd5Form(head.encryption) && /^[0-9a-f]{32}-\d+$/.test(head.etag)) {
        const want = expectedEtag(result.partDigests, true);
        if (head.etag !== want) throw Object.assign(fsError('EVERIFY', `multipart ETag ${head.etag} is not ${want}`), { overwrite: target.key });
      }
      if (result.multipart) await this.checkTags(target.key, tags);
    }
    const seconds = (clock.now() - o.started) / 1000;
    return {
      key: target.key,
      bucket: store.bucket,
      size: state.size,
      storedSize,
      sha256: pass.sha256,
      complete: o.complete,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(pod !== undefined ? { pod } : {}),
      modifiedAt: new Date(mtimeMs).toISOString(),
      uploadedAt: new Date(clock.now()).toISOString(),
      ...(uncompressedSize !== undefined ? { uncompressedSize, compressed: 'gzip' as const } : {}),
      duplicate: target.duplicate,
      seconds,
      ...(summaryKeys ? { summaryKeys } : {}),
    };
  }

  /**
   * A multipart upload's tags, read back and written again if the server lost them (s3-store.ts: Ceph RGW 16).
   * The dump is verified either way: a tag that cannot be checked or written is a warning, not a lost dump.
   */
  private async checkTags(key: string, tags: ReturnType<typeof podTags>): Promise<void> {
    try {
      const done = await ensureTags(this.deps.store, key, tags, this.deps.signal);
      if (done === 'written') this.log.info('object tags were missing after the multipart upload: written with PutObjectTagging', { key, tags });
    } catch (error) {
      if (this.deps.signal.aborted) throw error;
      this.log.warn('could not check or write the object\'s tags (the dump is verified; bucket policies and lifecycle rules by tag miss it)', {
        key, tags, error: error as Error, hint: 'allow s3:GetObjectTagging and s3:PutObjectTagging, or set uploader.objectTags false',
      });
    }
  }

  /**
   * Where this content goes: the dump's key if free, or already this content (encrypted as required) ->
   * duplicate; the same content without the required encryption -> that key again, overwritten with the
   * same bytes, encrypted; if the key holds a different dump, the content-suffixed key (another dump is
   * never overwritten).
   */
  private async resolveTarget(baseKey: string, sha256: string, size: number, gzip: boolean): Promise<{ key: string; duplicate: boolean }> {
    const { store, signal } = this.deps;
    const enc = store.encryption;
    const base = await store.head(baseKey, signal);
    if (!base) return { key: baseKey, duplicate: false };
    if (matches(base, sha256, size, gzip, enc)) return { key: baseKey, duplicate: true };
    if (sameContent(base, sha256, size, gzip)) return this.reencrypt(baseKey, base);
    const suffixed = contentSuffixedKey(baseKey, sha256);
    const other = await store.head(suffixed, signal);
    if (other && matches(other, sha256, size, gzip, enc)) return { key: suffixed, duplicate: true };
    if (other && sameContent(other, sha256, size, gzip)) return this.reencrypt(suffixed, other);
    this.log.info('key holds a different dump: using a content-suffixed key', { key: baseKey, suffixedKey: suffixed });
    return { key: suffixed, duplicate: false };
  }

  private reencrypt(key: string, head: HeadResult): { key: string; duplicate: false } {
    this.log.warn('this dump is in S3 without the required encryption: uploading it again over that object', {
      key, stored: encryptionMismatch(head.encryption, this.deps.store.encryption), required: describeWanted(this.deps.store.encryption),
    });
    return { key, duplicate: false };
  }
}

export type { HeadResult };
