/**
 * The fault matrix: each row runs the simulated node (node-sim.ts) with the project's own mount guard
 * and uploader, writes dumps the way a JVM does, injects its faults, lets the pipeline settle, and
 * counts what happened. Used by `npm run faults` (scripts/faults.ts, every row, N times) and by
 * test/e2e/fault-matrix.test.ts (the subset that fits in CI time).
 *
 * Counting (per run), all from outside the pipeline:
 * - dumps written: dump files the row wrote (or the JVM wrote) on the node;
 * - objects expected: one per dump, at `<S3_PREFIX><node>/<path below the dump root>` with the dump's
 *   occurrence (its mtime) before the extension;
 * - objects found: expected keys whose object has the dump's bytes (downloaded and hashed) and the right
 *   `complete` flag (true iff the dump is a structurally complete HPROF, gzip-compressed or not);
 * - duplicates: any other object under the node's prefix (a second copy, a suffixed key) — the summary
 *   objects next to a dump (`<key>.summary.json|txt`) are not duplicates (counted in the notes);
 * - partial objects: objects whose bytes differ from their own sha256/original-size metadata or from
 *   the dump, or whose `complete` flag is wrong;
 * - orphaned multipart uploads: ListMultipartUploads on the bucket after settling (Ceph RGW; s3rver
 *   cannot list them: "n/a");
 * - local files lost: dumps with the bytes written neither on the PVC (in the pod's folder, or moved
 *   into the archive once verified) nor removed by the retention limits after verification.
 */
import {
  AbortMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'fs';
import { gunzipSync } from 'zlib';
import * as path from 'path';
import { Readable } from 'stream';
import { ENV, OBJECT_METADATA, PATHS, type ReadyMarker } from '../../agent/src/contract';
import { dumpKey } from '../../agent/src/uploader/keys';
import { FaultProxy, startFaultProxy, FaultProxyOptions } from '../support/fault-proxy';
import { makeHeapDump, makeLargeHprof, slowCopy } from '../support/jvm';
import { runTracked, sleep } from '../support/procs';
import { makeS3Client, S3Server, startS3Server } from '../support/s3';
import { Manifests } from './manifests';
import { NodeSim } from './node-sim';
import { headObject, listLocal, LocalFile, sha256Of, waitFor, waitForObject } from './observe';

export interface RowResult {
  readonly row: string;
  readonly run: number;
  readonly server: string;
  readonly faults: string[];
  readonly dumpsWritten: number;
  readonly objectsExpected: number;
  readonly objectsFound: number;
  readonly duplicates: number;
  readonly partial: number;
  /** undefined = the server cannot list them (s3rver). */
  readonly orphans: number | undefined;
  readonly localLost: number;
  /** Dumps found in the node's archive (moved there once verified). */
  readonly archived: number;
  readonly seconds: number;
  readonly notes: string[];
  /** Figures a scenario measured (e.g. seconds from a JVM's exit to its object), by name. */
  readonly measured: Record<string, number[]>;
}

/** Everything shared by the runs of a matrix: manifests, a Ceph cluster (optional), cached source dumps. */
export interface MatrixEnv {
  readonly manifests: Manifests;
  /** Rows that need ListMultipartUploads (orphan count) run on it; without it they fall back to s3rver. */
  readonly ceph?: S3Server;
  /** A directory for source dumps (readable by all). */
  readonly workDir: string;
  readonly log: (line: string) => void;
  readonly verbose?: boolean;
}

export interface RowDef {
  readonly id: string;
  readonly title: string;
  readonly server: 'ceph' | 's3rver';
  readonly uploaderEnv?: Record<string, string>;
  readonly guardEnv?: Record<string, string>;
  readonly pvcTmpfsSize?: string;
  readonly appHeap?: string;
  readonly proxy?: Omit<FaultProxyOptions, 'target'>;
  /** How long the pipeline may take to settle after the scenario. */
  readonly settleMs: number;
  scenario(ctx: RowContext): Promise<void>;
}

interface WrittenDump {
  readonly rel: string;
  /** sha256 of the bytes written; undefined for a JVM's own dump (known only from the file). */
  readonly sha256?: string;
  /** Its mtime once written: which occurrence it is (part of its key). */
  readonly mtimeMs: number;
}

/** What a scenario can do. */
export class RowContext {
  readonly faults: string[] = [];
  readonly notes: string[] = [];
  readonly written: WrittenDump[] = [];
  readonly measured: Record<string, number[]> = {};

  constructor(
    readonly sim: NodeSim,
    readonly server: S3Server,
    readonly client: S3Client,
    readonly bucket: string,
    readonly env: MatrixEnv,
    readonly proxy?: FaultProxy,
  ) {}

  measure(name: string, value: number): void {
    (this.measured[name] ??= []).push(value);
  }

  fault(what: string): void {
    this.faults.push(what);
    this.env.log(`    fault: ${what}`);
  }

  /** The node's dump root (the guard's mount target) as the test reaches it. */
  get dumpRoot(): string {
    return this.sim.view(this.sim.guardMount().target);
  }

  /** Starts an app pod's wait-ready (it creates the pod's dump folder through the mount); returns the pod name. */
  async newPod(): Promise<string> {
    const pod = this.sim.newAppPodName();
    await this.sim.runWaitReady(this.env.manifests.app, pod);
    return pod;
  }

  /** The file a JVM that is PID 1 of the pod writes (`java_pid1.hprof` in the pod's HeapDumpPath). */
  dumpFile(pod: string): { view: string; rel: string } {
    const { nodeDir } = this.sim.appDumpDirs(pod);
    const file = path.join(nodeDir, 'java_pid1.hprof');
    return { view: this.sim.view(file), rel: path.relative(this.sim.guardMount().target, file) };
  }

  /**
   * Writes `src` as the pod's dump, as the JVM would: created 0600 and owned by the app's uid, written
   * in chunks with pauses (delayMs 0 = as fast as the disk goes).
   */
  async writeDump(pod: string, src: string, opts: { chunkBytes?: number; delayMs?: number } = {}): Promise<void> {
    const f = this.dumpFile(pod);
    const sha256 = await cachedSha(src);
    writeFileSync(f.view, '', { mode: 0o600 });
    chownSync(f.view, this.appUid, this.appUid);
    await slowCopy(src, f.view, { chunkBytes: opts.chunkBytes ?? 8 * 2 ** 20, delayMs: opts.delayMs ?? 0 });
    this.written.push({ rel: f.rel, sha256, mtimeMs: statSync(f.view).mtimeMs });
  }

  /** Creates a large HPROF directly as the pod's dump (dense: the uploader never uploads sparse files). */
  async writeLargeDump(pod: string, bytes: number): Promise<void> {
    const f = this.dumpFile(pod);
    await makeLargeHprof(f.view, bytes);
    chownSync(f.view, this.appUid, this.appUid);
    this.written.push({ rel: f.rel, sha256: await sha256Of(f.view), mtimeMs: statSync(f.view).mtimeMs });
  }

  /** Records a dump written by a real JVM of the simulation (sha known only from the file), once the JVM is gone. */
  recordJvmDump(rel: string): void {
    this.written.push({ rel, mtimeMs: statSync(path.join(this.dumpRoot, rel)).mtimeMs });
  }

  get appUid(): number {
    return this.sim.opts.appUid ?? 1000;
  }

  /** Waits until a multipart upload is in progress on the bucket (Ceph), i.e. "mid-upload". */
  async waitMidUpload(timeoutMs = 60_000): Promise<void> {
    const seen = await waitFor(async () => (await listMultipart(this.client, this.bucket)).length > 0, timeoutMs, 25);
    if (!seen) throw new Error(`no multipart upload started within ${timeoutMs} ms\nuploader:\n${this.sim.uploader?.proc.output() ?? ''}`);
  }

  /** A source dump of `mib` MiB (structurally complete HPROF, random content), cached per size and index. */
  source(mib: number, index = 0): Promise<string> {
    return sourceDump(this.env.workDir, mib, index);
  }
}

const shaCache = new Map<string, string>();
async function cachedSha(file: string): Promise<string> {
  const st = statSync(file);
  const k = `${file}:${st.size}:${st.mtimeMs}`;
  if (!shaCache.has(k)) shaCache.set(k, await sha256Of(file));
  return shaCache.get(k) as string;
}

async function sourceDump(workDir: string, mib: number, index: number): Promise<string> {
  const file = path.join(workDir, `src-${mib}m-${index}.hprof`);
  if (!existsSync(file)) {
    mkdirSync(workDir, { recursive: true });
    await makeLargeHprof(file, mib * 2 ** 20);
  }
  return file;
}

/** A real heap dump of the installed JDK (cached): the content of "JVM" dumps written by rows. */
export async function realDump(workDir: string): Promise<string> {
  const file = path.join(workDir, 'real.hprof');
  if (!existsSync(file)) {
    mkdirSync(workDir, { recursive: true });
    await makeHeapDump(workDir, { fileName: 'real.hprof', xmx: '48m' });
  }
  return file;
}

// ------------------------------------------------------------------------------------------------ S3 checks

/** A deadline for one of the harness's own S3 calls: a stalled server must fail the run, not hang it. */
const within = (ms: number) => ({ abortSignal: AbortSignal.timeout(ms) });
const CALL_MS = 30_000;

async function listMultipart(client: S3Client, bucket: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }), within(CALL_MS)).catch(() => undefined);
  return (out?.Uploads ?? []).map((u) => `${u.Key}#${u.UploadId}`);
}

async function removeBucket(client: S3Client, bucket: string): Promise<void> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }), within(CALL_MS));
  for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), within(CALL_MS));
  for (const key of await listAll(client, bucket, '')) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), within(CALL_MS));
  await client.send(new DeleteBucketCommand({ Bucket: bucket }), within(CALL_MS));
}

/**
 * RGW frees deleted objects' data only in its garbage collection (hours later by default), and the
 * test cluster's store is 4 GiB: without this, a full matrix fills the OSD and RGW stops answering.
 * The cluster's config file is found in radosgw's environment (CEPH_CONF).
 */
async function collectCephGarbage(server: S3Server): Promise<void> {
  const pid = server.pid();
  if (pid === undefined) return;
  const conf = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((e) => e.startsWith('CEPH_CONF='));
  if (!conf) throw new Error(`radosgw (pid ${pid}) has no CEPH_CONF in its environment`);
  const r = await runTracked('radosgw-admin', ['gc', 'process', '--include-all'], {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CEPH_CONF: conf.slice('CEPH_CONF='.length) },
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim()}`);
}

async function listAll(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), within(CALL_MS));
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function getSha(client: S3Client, bucket: string, key: string): Promise<{ sha256: string; size: number; metadata: Record<string, string> }> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), within(600_000));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of out.Body as Readable) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size, metadata: out.Metadata ?? {} };
}

/**
 * Structural completeness of an HPROF file, checked independently of the agent's code: a finished
 * HotSpot dump ends with a HEAP DUMP END record (tag 0x2C, u4 time, u4 length 0).
 */
export function hprofLooksComplete(file: string): boolean {
  if (file.endsWith('.gz')) {
    // the test's own check of a compressed dump: every member decodes, and the HPROF inside ends right
    let raw: Buffer;
    try {
      raw = gunzipSync(readFileSync(file));
    } catch {
      return false;
    }
    return raw.length >= 9 + 19 && raw[raw.length - 9] === 0x2c && raw.readUInt32BE(raw.length - 4) === 0;
  }
  const size = statSync(file).size;
  if (size < 9 + 19) return false;
  const buf = Buffer.alloc(9);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, 9, size - 9);
  } finally {
    closeSync(fd);
  }
  return buf[0] === 0x2c && buf.readUInt32BE(5) === 0;
}

// ------------------------------------------------------------------------------------------------ runner

/** Runs one row once: fresh node, fresh bucket; returns the counts. Never leaves processes behind. */
export async function runRowOnce(row: RowDef, env: MatrixEnv, run: number): Promise<RowResult> {
  const t0 = Date.now();
  let ownServer: S3Server | undefined;
  let server: S3Server;
  let bucket: string;
  if (row.server === 'ceph' && env.ceph) {
    server = env.ceph;
    bucket = `${row.id}-${run}-${Date.now() % 1_000_000}`;
    await server.client().send(new CreateBucketCommand({ Bucket: bucket }), within(CALL_MS));
  } else {
    ownServer = await startS3Server('s3rver');
    server = ownServer;
    bucket = server.bucket;
  }
  const client = makeS3Client(server.endpoint, server.accessKeyId, server.secretAccessKey);
  let proxy: FaultProxy | undefined;
  let sim: NodeSim | undefined;
  try {
    // a different (still reproducible) fault sequence in each run of the row
    if (row.proxy) proxy = await startFaultProxy({ target: server.endpoint, ...row.proxy, seed: (row.proxy.seed ?? 1) + run - 1 });
    const endpoint = proxy?.endpoint ?? server.endpoint;
    sim = await NodeSim.create({
      manifests: env.manifests,
      s3: { endpoint, bucket, region: server.region, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      nodeName: `node-${run}`,
      uploaderEnv: row.uploaderEnv,
      guardEnv: row.guardEnv,
      pvcTmpfsSize: row.pvcTmpfsSize,
      appHeap: row.appHeap,
      verbose: env.verbose,
    });
    await sim.startGuard();
    await sim.startUploader();
    const ctx = new RowContext(sim, server, client, bucket, env, proxy);
    await row.scenario(ctx);
    const result = await settleAndCount(row, ctx, server.kind === 'ceph', t0, run);
    if (proxy) ctx.notes.push(`proxy: ${proxy.stats.requests} requests, ${proxy.stats.error500}x500, ${proxy.stats.error503}x503, ${proxy.stats.slowed} slowed`);
    ctx.notes.push(...uploaderNotes(sim), ...guardNotes(sim));
    if (!rowClean(result)) {
      const pid = sim.uploader?.proc.pid;
      // diagnostics only (iproute2 may be missing): which connections the uploader still holds
      const ss = pid ? await runTracked('ss', ['-tnpH'], { timeoutMs: 5000 }).catch(() => ({ stdout: '(ss not available)' })) : { stdout: '' };
      const conns = ss.stdout.split('\n').filter((l) => l.includes(`pid=${pid},`) || l.startsWith('('));
      env.log(`    not settled after ${row.settleMs / 1000} s; uploader TCP connections:\n${conns.join('\n')}`);
      env.log(`    uploader output (last lines):\n${(sim.uploader?.proc.stdout ?? []).slice(-40).join('\n')}\n${(sim.uploader?.proc.stderr ?? []).slice(-20).join('\n')}`);
      env.log(`    guard output (last lines):\n${(sim.guard?.proc.stdout ?? []).slice(-20).join('\n')}`);
    }
    return result;
  } finally {
    await sim?.dispose();
    await proxy?.close();
    // a shared Ceph keeps every byte (memstore: in RAM): drop this run's bucket once counted
    if (!ownServer) {
      await removeBucket(client, bucket).catch((err) => env.log(`    could not remove bucket ${bucket}: ${(err as Error).message}`));
      await collectCephGarbage(server).catch((err) => env.log(`    radosgw-admin gc failed: ${(err as Error).message}`));
    }
    client.destroy();
    await ownServer?.dispose();
  }
}

/** What the uploader said about failures and clean-ups (from its JSON log), for the notes column. */
function uploaderNotes(sim: NodeSim): string[] {
  const events = sim.uploaderLog().map((l) => {
    try {
      return JSON.parse(l) as { msg?: string; count?: number };
    } catch {
      return {};
    }
  });
  const failed = events.filter((e) => /failed/.test(e.msg ?? '')).length;
  const aborted = events.filter((e) => e.msg === 'aborted orphaned multipart uploads').reduce((n, e) => n + (e.count ?? 0), 0);
  const notes: string[] = [];
  if (failed > 0) notes.push(`uploader logged ${failed} failure(s) and retried`);
  if (aborted > 0) notes.push(`uploader aborted ${aborted} orphaned multipart upload(s) (its clean-up once S3 answers)`);
  return notes;
}

/** Mount guard events worth a note (remounts, stale mounts at start). */
function guardNotes(sim: NodeSim): string[] {
  const msgs = sim.guardLog().map((l) => {
    try {
      return (JSON.parse(l) as { msg?: string }).msg ?? '';
    } catch {
      return '';
    }
  });
  const notes: string[] = [];
  const remounted = msgs.filter((m) => m === 'remounted').length;
  const stale = msgs.filter((m) => m === 'stale mount removed at start').length;
  if (remounted > 0) notes.push(`guard remounted ${remounted}x`);
  if (stale > 0) notes.push(`guard removed a stale mount at start ${stale}x`);
  return notes;
}

export function rowClean(r: RowResult): boolean {
  return r.objectsFound === r.objectsExpected && r.duplicates === 0 && r.partial === 0 && (r.orphans ?? 0) === 0 && r.localLost === 0 && r.dumpsWritten > 0;
}

/** Where a verified dump went: its key, and its path in the node's archive (AFTER_UPLOAD=archive). */
function placesOf(w: WrittenDump, prefix: string, node: string): { key: string; archived: string } {
  const key = dumpKey(prefix, node, w.rel.split('/').map((x) => Buffer.from(x)), w.mtimeMs);
  return { key, archived: path.join(PATHS.archiveDir, path.dirname(w.rel), key.slice(key.lastIndexOf('/') + 1)) };
}

/** The dump's file now: in the pod's folder, or in the archive; undefined when it is in neither. */
function localOf(w: WrittenDump, byRel: Map<string, LocalFile>, places: { archived: string }): LocalFile | undefined {
  for (const rel of [w.rel, places.archived]) {
    const f = byRel.get(rel);
    if (f && (w.sha256 === undefined || f.sha256 === w.sha256)) return f;
  }
  return undefined;
}

async function settleAndCount(row: RowDef, ctx: RowContext, canListMultipart: boolean, t0: number, run: number): Promise<RowResult> {
  const { sim, client, bucket } = ctx;
  const prefix = `${sim.uploaderEnv()[ENV.s3Prefix] ?? ''}${sim.nodeName}/`;
  const root = ctx.dumpRoot;
  const places = new Map(ctx.written.map((w) => [w, placesOf(w, sim.uploaderEnv()[ENV.s3Prefix] ?? '', sim.nodeName)]));
  // archive paths the uploader's retention removed (after verifying the object once more)
  const expired = () => new Set(sim.uploaderLog().flatMap((l) => {
    try {
      const e = JSON.parse(l) as { msg?: string; path?: string };
      return e.msg === 'archived dump removed by retention' && e.path ? [path.join(PATHS.archiveDir, e.path)] : [];
    } catch {
      return [];
    }
  }));

  // settle: every dump's object verified (HEAD: size + sha256 metadata), the dump itself on the PVC (or
  // expired by retention after that), no multipart upload open
  await waitFor(async () => {
    const byRel = new Map((await listLocal(root)).map((f) => [f.rel, f]));
    const gone = expired();
    for (const w of ctx.written) {
      const p = places.get(w)!;
      const f = localOf(w, byRel, p);
      const h = await headObject(client, bucket, p.key);
      if (!h) return false;
      if (f && (h.size !== f.size || h.metadata[OBJECT_METADATA.sha256] !== f.sha256)) return false;
      if (!f && !gone.has(p.archived)) return false;
    }
    return !canListMultipart || (await listMultipart(client, bucket)).length === 0;
  }, row.settleMs, 500);
  await sleep(3000); // late duplicates would show up here

  const byRel = new Map((await listLocal(root)).map((f) => [f.rel, f]));
  const gone = expired();
  let lost = 0;
  const dumpOfKey = new Map<string, { w: WrittenDump; f?: LocalFile }>();
  for (const w of ctx.written) {
    const p = places.get(w)!;
    const f = localOf(w, byRel, p);
    if (!f && !gone.has(p.archived)) lost++;
    if (!f && gone.has(p.archived)) ctx.notes.push(`${w.rel}: removed from the archive by retention after verification`);
    dumpOfKey.set(p.key, { w, f });
  }
  const allKeys = await listAll(client, bucket, prefix);
  const isSummary = (k: string) => /\.summary\.(json|txt)$/.test(k) && dumpOfKey.has(k.replace(/\.summary\.(json|txt)$/, ''));
  const keys = allKeys.filter((k) => !isSummary(k));
  const summaries = allKeys.length - keys.length;
  if (summaries > 0) ctx.notes.push(`${summaries} summary object(s) next to the dumps`);
  let found = 0;
  let partial = 0;
  for (const key of keys) {
    const obj = await getSha(client, bucket, key);
    const metaOk = obj.metadata[OBJECT_METADATA.sha256] === obj.sha256 && obj.metadata[OBJECT_METADATA.originalSize] === String(obj.size);
    const d = dumpOfKey.get(key);
    const f = d?.f;
    const completeOk = f === undefined || obj.metadata[OBJECT_METADATA.complete] === String(hprofLooksComplete(f.abs));
    const matchesLocal = f === undefined || (f.sha256 === obj.sha256 && f.size === obj.size);
    const matchesWritten = d?.w.sha256 === undefined || d.w.sha256 === obj.sha256;
    if (!metaOk || !completeOk || !matchesLocal || !matchesWritten) {
      partial++;
      ctx.notes.push(`partial ${key}: size ${obj.size}, meta ${JSON.stringify(obj.metadata)}`);
    } else if (d) found++;
  }
  const duplicates = keys.filter((k) => !dumpOfKey.has(k)).length;
  if (duplicates > 0) ctx.notes.push(`extra keys: ${keys.filter((k) => !dumpOfKey.has(k)).join(', ')}`);
  const orphans = canListMultipart ? (await listMultipart(client, bucket)).length : undefined;
  const incomplete = [...dumpOfKey.values()].filter((d) => d.f && !hprofLooksComplete(d.f.abs)).length;
  if (incomplete > 0) ctx.notes.push(`${incomplete} truncated dump(s), uploaded with complete=false`);
  const archived = [...dumpOfKey.values()].filter((d) => d.f?.rel.startsWith(PATHS.archiveDir)).length;
  if (archived > 0) ctx.notes.push(`${archived} dump(s) moved to the archive once verified`);
  return {
    row: row.id,
    run,
    server: ctx.server.kind + (ctx.proxy ? '+proxy' : ''),
    faults: ctx.faults,
    dumpsWritten: ctx.written.length,
    objectsExpected: ctx.written.length,
    objectsFound: found,
    duplicates,
    partial,
    orphans,
    localLost: lost,
    archived,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    notes: ctx.notes,
    measured: ctx.measured,
  };
}

// ------------------------------------------------------------------------------------------------ rows

const MIB = 2 ** 20;

/** The demo JVM's leak without its 5 s pauses: it runs out of memory within seconds. */
const FAST_LEAK = { LEAK_INTERVAL_SECONDS: '0' };

/** The kubelet's first back-off before it restarts a crashed container (CrashLoopBackOff starts at 10 s). */
const CRASH_LOOP_BACKOFF_MS = 10_000;

/**
 * Waits until the guard has (re)made its mount after `since` (ms): the node path is a mount point and
 * carries a marker whose `since` is newer. An older marker may still be there from before the fault
 * (a SIGKILLed guard leaves its mount and marker behind), and the guard replaces the mount once more.
 */
async function waitMarker(ctx: RowContext, since: number, timeoutMs: number): Promise<void> {
  const marker = ctx.sim.view(ctx.sim.guardMarkerPath());
  const fresh = async () => {
    try {
      const m = JSON.parse(readFileSync(marker, 'utf8')) as Partial<ReadyMarker>;
      return Date.parse(m.since ?? '') >= since && (await ctx.sim.isMounted(ctx.sim.guardMount().target));
    } catch {
      return false;
    }
  };
  if (!(await waitFor(fresh, timeoutMs, 100))) {
    throw new Error(`the guard did not restore the mount + a fresh marker within ${timeoutMs} ms\nguard:\n${ctx.sim.guard?.proc.output() ?? ''}`);
  }
}

export const ROWS: RowDef[] = [
  {
    id: 's3-killed',
    title: 'S3 server killed mid-upload, restarted after 5 s',
    server: 'ceph',
    // below the default 1 GiB threshold dumps go as one PUT: make this 512 MiB dump a multipart upload
    uploaderEnv: { [ENV.uploadMultipartThresholdMb]: '64' },
    settleMs: 180_000,
    async scenario(ctx) {
      const pod = await ctx.newPod();
      const src = await ctx.source(512);
      const midUpload = ctx.waitMidUpload(120_000);
      await ctx.writeDump(pod, src);
      await midUpload;
      await ctx.server.kill();
      ctx.fault('S3 server SIGKILLed mid-upload');
      await sleep(5000);
      await ctx.server.start();
      ctx.fault('S3 server restarted after 5 s');
    },
  },
  {
    id: 'uploader-killed',
    title: 'uploader SIGKILLed mid-upload and restarted',
    server: 'ceph',
    uploaderEnv: { [ENV.uploadMultipartThresholdMb]: '64' },
    settleMs: 120_000,
    async scenario(ctx) {
      const pod = await ctx.newPod();
      const src = await ctx.source(512);
      const midUpload = ctx.waitMidUpload(120_000);
      await ctx.writeDump(pod, src);
      await midUpload;
      await ctx.sim.kill(ctx.sim.uploader);
      ctx.fault('uploader SIGKILLed mid-upload');
      await sleep(1000);
      await ctx.sim.restartUploader();
      ctx.fault('uploader container restarted');
    },
  },
  {
    id: 's3-errors',
    title: 'S3 answers 500 (10%), 503 (10%), slow 1.5 s (10%) through a proxy',
    server: 'ceph',
    proxy: { error500: 0.1, error503: 0.1, slow: 0.1, delayMs: 1500, seed: 7 },
    // 40 MiB dumps as multipart (16 MiB parts), 8 MiB dumps as single PUTs
    uploaderEnv: { [ENV.uploadMultipartThresholdMb]: '32' },
    // generous: a stalled request is only given up after the uploader's request timeout (x SDK attempts)
    settleMs: 600_000,
    async scenario(ctx) {
      const sizes = [40, 40, 40, 8, 8, 8];
      const pods = await Promise.all(sizes.map(() => ctx.newPod()));
      const sources = await Promise.all(sizes.map((mib, i) => ctx.source(mib, i)));
      await Promise.all(pods.map((pod, i) => ctx.writeDump(pod, sources[i])));
      ctx.fault('proxy: 10% 500, 10% 503, 10% +1.5 s');
    },
  },
  {
    id: 'mount-removed',
    title: 'bind mount removed from outside while the application writes',
    server: 'ceph',
    guardEnv: { [ENV.mountCheckInterval]: '2' },
    settleMs: 120_000,
    async scenario(ctx) {
      const target = ctx.sim.guardMount().target;
      const pod = await ctx.newPod();
      const writing = ctx.writeDump(pod, await ctx.source(64), { chunkBytes: 2 * MIB, delayMs: 100 });
      // "while the application writes": its file open and a few chunks in (a fixed sleep lost that race on a busy CI machine)
      const view = ctx.dumpFile(pod).view;
      const begun = await waitFor(() => existsSync(view) && statSync(view).size >= 4 * MIB, 30_000, 20);
      if (!begun) throw new Error(`the dump ${view} was not being written within 30 s`);
      const t = Date.now();
      const r = await ctx.sim.nsExec(['umount', '-l', target]);
      if (r.code !== 0) throw new Error(`umount -l ${target} failed: ${r.stderr}`);
      if (await ctx.sim.isMounted(target)) throw new Error(`${target} is still a mount point after umount -l`);
      ctx.fault('umount -l of the node mount while a dump is being written');
      await writing;
      await waitMarker(ctx, t, 30_000);
      ctx.notes.push(`mount back after ${((Date.now() - t) / 1000).toFixed(1)} s (check interval 2 s)`);
      const pod2 = await ctx.newPod();
      await ctx.writeDump(pod2, await ctx.source(16, 1));
    },
  },
  {
    id: 'guard-restarted',
    title: 'mount guard killed and restarted (stale mount at start)',
    server: 'ceph',
    guardEnv: { [ENV.mountCheckInterval]: '2' },
    settleMs: 120_000,
    async scenario(ctx) {
      const podA = await ctx.newPod();
      await ctx.writeDump(podA, await ctx.source(16, 0));
      await ctx.sim.kill(ctx.sim.guard);
      if (!(await ctx.sim.isMounted(ctx.sim.guardMount().target))) throw new Error('the mount vanished with the guard: no stale mount to test');
      ctx.fault('guard SIGKILLed (mount and marker left behind)');
      const podB = await ctx.newPod();
      await ctx.writeDump(podB, await ctx.source(16, 1), { chunkBytes: 2 * MIB, delayMs: 50 });
      const restartedAt = Date.now();
      await ctx.sim.startGuard();
      ctx.fault('guard restarted on a stale mount');
      await waitMarker(ctx, restartedAt, 30_000);
      const podC = await ctx.newPod();
      await ctx.writeDump(podC, await ctx.source(16, 2));
    },
  },
  {
    id: 'disk-full',
    title: 'dump volume full while the JVM writes (24 MiB tmpfs PVC, real JVM -Xmx48m)',
    server: 'ceph',
    pvcTmpfsSize: '24m',
    appHeap: '-Xmx48m',
    uploaderEnv: { [ENV.fileStableTime]: '15' },
    settleMs: 120_000,
    async scenario(ctx) {
      const app = await ctx.sim.startApp();
      const exit = await Promise.race([app.proc.exited, sleep(120_000).then(() => undefined)]);
      if (!exit) throw new Error(`the JVM did not stop within 120 s:\n${app.proc.output()}`);
      ctx.fault('ENOSPC during the heap dump');
      const m = /Dumping heap to (\S+)/.exec(app.proc.output());
      if (!m) throw new Error(`the JVM did not start a heap dump:\n${app.proc.output()}`);
      const file = path.join(ctx.sim.appDumpDirs(app.podName).nodeDir, path.basename(m[1]));
      ctx.recordJvmDump(path.relative(ctx.sim.guardMount().target, file));
      ctx.notes.push(`JVM: ${app.proc.output().split('\n').filter((l) => /incomplete|Heap dump file created/.test(l)).join(' / ')}`);
    },
  },
  {
    id: 'gzip-disk-full',
    title: 'compressed dump (-XX:HeapDumpGzipLevel=1) cut by a full volume (1 MiB tmpfs PVC, real JVM -Xmx48m)',
    server: 'ceph',
    pvcTmpfsSize: '1m',
    appHeap: '-Xmx48m',
    uploaderEnv: { [ENV.fileStableTime]: '15' },
    settleMs: 120_000,
    async scenario(ctx) {
      const app = await ctx.sim.startApp(undefined, { jvmOptions: ['-XX:HeapDumpGzipLevel=1'], env: FAST_LEAK });
      const exit = await Promise.race([app.proc.exited, sleep(120_000).then(() => undefined)]);
      if (!exit) throw new Error(`the JVM did not stop within 120 s:\n${app.proc.output()}`);
      ctx.fault('ENOSPC during a gzip-compressed heap dump');
      const m = /Dumping heap to (\S+)/.exec(app.proc.output());
      if (!m || !m[1].endsWith('.hprof.gz')) throw new Error(`the JVM did not start a compressed heap dump:\n${app.proc.output()}`);
      const file = path.join(ctx.sim.appDumpDirs(app.podName).nodeDir, path.basename(m[1]));
      ctx.recordJvmDump(path.relative(ctx.sim.guardMount().target, file));
      ctx.notes.push(`JVM: ${app.proc.output().split('\n').filter((l) => /incomplete|Heap dump file created|No space/.test(l)).join(' / ')}`);
    },
  },
  {
    id: 'crash-loop',
    title: 'OOM crash loop: a JVM as PID 1 runs out of memory 3 times in the same pod folder; the uploader restarts in between',
    server: 'ceph',
    settleMs: 120_000,
    async scenario(ctx) {
      const pod = ctx.sim.newAppPodName();
      const latencies: string[] = [];
      for (let i = 0; i < 3; i++) {
        // a restarted container keeps its pod (and folder): init containers do not run again
        const app = await ctx.sim.startApp(pod, { restart: i > 0, pid1: true, env: FAST_LEAK });
        const exit = await Promise.race([app.proc.exited, sleep(120_000).then(() => undefined)]);
        const exitedAt = Date.now();
        if (!exit) throw new Error(`the JVM did not stop within 120 s:\n${app.proc.output()}`);
        const m = /Dumping heap to (\S+)/.exec(app.proc.output());
        if (!m || !/Heap dump file created/.test(app.proc.output())) throw new Error(`OOM ${i + 1}: the JVM wrote no heap dump:\n${app.proc.output()}`);
        if (path.basename(m[1]) !== 'java_pid1.hprof') throw new Error(`OOM ${i + 1}: the JVM was not PID 1 (${m[1]})`);
        const file = path.join(ctx.sim.appDumpDirs(pod).nodeDir, 'java_pid1.hprof');
        const rel = path.relative(ctx.sim.guardMount().target, file);
        ctx.recordJvmDump(rel);
        ctx.fault(`OOM ${i + 1} of the same container`);
        const w = ctx.written[ctx.written.length - 1];
        const key = dumpKey(ctx.sim.uploaderEnv()[ENV.s3Prefix] ?? '', ctx.sim.nodeName, rel.split('/').map((x) => Buffer.from(x)), w.mtimeMs);
        const local = { size: statSync(path.join(ctx.dumpRoot, rel)).size, sha256: await sha256Of(path.join(ctx.dumpRoot, rel)) };
        const arrived = await waitForObject(ctx.client, ctx.bucket, key, local, 60_000);
        latencies.push(arrived === undefined ? 'never' : `${((arrived - exitedAt) / 1000).toFixed(1)} s`);
        ctx.measure('secondsFromExitToS3', arrived === undefined ? Infinity : (arrived - exitedAt) / 1000);
        if (i === 0) {
          await ctx.sim.kill(ctx.sim.uploader);
          await ctx.sim.restartUploader();
          ctx.fault('uploader SIGKILLed and restarted');
        }
        await sleep(CRASH_LOOP_BACKOFF_MS);
      }
      ctx.notes.push(`each dump in S3 after its JVM exited: ${latencies.join(', ')}`);
    },
  },
  {
    id: 'many-dumps',
    title: '50 dumps at once (50 pods, 4 MiB each)',
    server: 'ceph',
    settleMs: 180_000,
    async scenario(ctx) {
      const pods: string[] = [];
      for (let i = 0; i < 50; i += 10) pods.push(...(await Promise.all(Array.from({ length: 10 }, () => ctx.newPod()))));
      const sources = await Promise.all(pods.map((_, i) => ctx.source(4, i)));
      const t = Date.now();
      await Promise.all(pods.map((pod, i) => ctx.writeDump(pod, sources[i])));
      ctx.fault(`50 dumps written in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    },
  },
  {
    id: 'large-dump',
    title: 'one large dump (3 GiB)',
    server: 'ceph',
    settleMs: 600_000,
    async scenario(ctx) {
      const pod = await ctx.newPod();
      await ctx.writeLargeDump(pod, 3 * 1024 * MIB);
      ctx.fault('3 GiB dump');
    },
  },
];

export function rowById(id: string): RowDef {
  const row = ROWS.find((r) => r.id === id);
  if (!row) throw new Error(`fault row '${id}' is unknown, expected one of ${ROWS.map((r) => r.id).join(', ')}`);
  return row;
}

// ------------------------------------------------------------------------------------------------ table

export const TABLE_HEADER =
  '| row | run | server | faults injected | dumps written | objects expected | objects found | duplicates | partial objects | orphaned multipart uploads | local files lost | s | notes |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|';

export function tableRow(r: RowResult): string {
  const cells = [
    r.row, String(r.run), r.server, r.faults.join('; '), String(r.dumpsWritten), String(r.objectsExpected), String(r.objectsFound),
    String(r.duplicates), String(r.partial), r.orphans === undefined ? 'n/a (s3rver)' : String(r.orphans), String(r.localLost),
    String(r.seconds), r.notes.join('; ').replace(/\|/g, '\\|'),
  ];
  return `| ${cells.join(' | ')} |`;
}
