/**
 * Heap dumps for tests: real ones from the installed JDK (17), and files that look like a dump
 * being written (slowCopy), cut short (truncatedCopy), or big (makeLargeHprof, written in the HPROF format).
 *
 * HPROF ("JAVA PROFILE 1.0.2"): header = NUL-terminated version, u4 identifier size, u8 timestamp (ms);
 * then records: u1 tag, u4 time delta, u4 body length (big-endian), body. HotSpot writes HEAP DUMP SEGMENT
 * (0x1C) records and ends with HEAP DUMP END (0x2C, length 0).
 */
import { createHash } from 'crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { repoPath, runTracked, sleep } from './procs';

const LEAK_SOURCE = (): string => repoPath('test', 'support', 'java', 'Leak.java');

export const HPROF_VERSION = 'JAVA PROFILE 1.0.2';
export const HPROF_TAG = {
  utf8: 0x01,
  loadClass: 0x02,
  heapDumpSegment: 0x1c,
  heapDumpEnd: 0x2c,
  /** Sub-record inside a heap dump segment. */
  primitiveArrayDump: 0x23,
} as const;
const ID_SIZE = 8;
const BASIC_TYPE_BYTE = 8;

/**
 * Compiles Leak.java once into a cache dir keyed by the source's hash (shared by test files and runs).
 * World-readable, so a JVM running as another uid can load it.
 */
async function leakClassDir(): Promise<string> {
  const source = readFileSync(LEAK_SOURCE());
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `heapdump-test-leak-${hash}`);
  if (existsSync(path.join(dir, 'Leak.class'))) return dir;
  // compile into a private dir, then rename: parallel workers never see a half-written class
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'heapdump-test-leak-build-'));
  try {
    const r = await runTracked('javac', ['-d', tmp, LEAK_SOURCE()], { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`javac ${LEAK_SOURCE()} failed (code ${r.code}): ${r.stderr}`);
    await fsp.chmod(tmp, 0o755);
    await fsp.chmod(path.join(tmp, 'Leak.class'), 0o644);
    try {
      renameSync(tmp, dir);
    } catch {
      // another worker won the race: its dir is as good as ours
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Whether `uid:gid` may create files in `dir` (by its owner/group/other bits; root always may). */
function writableBy(dir: string, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  const st = statSync(dir);
  if (st.uid === uid) return (st.mode & 0o300) === 0o300;
  if (st.gid === gid) return (st.mode & 0o030) === 0o030;
  return (st.mode & 0o003) === 0o003;
}

/**
 * Adds the search bit for others (x, not r) to `dir` and its ancestors where missing: a JVM running as
 * another uid must reach a dump dir under e.g. a 0700 mkdtemp dir. Only dirs we (root) own are touched.
 */
function makeSearchable(dir: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = statSync(d);
    if ((st.mode & 0o001) === 0 && st.uid === process.getuid?.()) chmodSync(d, (st.mode & 0o7777) | 0o001);
    if (path.dirname(d) === d) return;
  }
}

/**
 * Runs Leak (-Xmx32m by default) until OutOfMemoryError with -XX:+HeapDumpOnOutOfMemoryError and returns
 * the dump's path: `<dir>/java_pid<PID>.hprof`, or `<dir>/<fileName>`. With `uid`, the JVM runs as that
 * uid/gid (setpriv), `dir` is chowned to it if that uid could not write there, and dir's ancestors get
 * the search bit for others if they lack it (see makeSearchable).
 * HotSpot creates the file with mode 0600, owned by the JVM's uid: as on a real node.
 */
export async function makeHeapDump(
  dir: string,
  opts: { xmx?: string; uid?: number; gid?: number; fileName?: string; gzipLevel?: number } = {},
): Promise<string> {
  const classDir = await leakClassDir();
  mkdirSync(dir, { recursive: true });
  const dumpPath = opts.fileName !== undefined ? path.join(dir, opts.fileName) : dir + path.sep;
  const javaArgs = [
    `-Xmx${opts.xmx ?? '32m'}`,
    '-XX:+UseSerialGC', // one GC thread: fast start, small dumps
    '-XX:TieredStopAtLevel=1',
    '-XX:-UsePerfData', // no hsperfdata files left in /tmp
    '-Xshare:auto',
    '-XX:+HeapDumpOnOutOfMemoryError',
    `-XX:HeapDumpPath=${dumpPath}`,
    // JDK 17+: the dump is gzip-compressed (java_pid<N>.hprof.gz), written in parallel as many gzip members
    ...(opts.gzipLevel !== undefined ? [`-XX:HeapDumpGzipLevel=${opts.gzipLevel}`] : []),
    '-cp', classDir, 'Leak',
  ];
  let cmd = 'java';
  let args = javaArgs;
  if (opts.uid !== undefined) {
    const gid = opts.gid ?? opts.uid;
    if (!writableBy(dir, opts.uid, gid)) chownSync(dir, opts.uid, gid);
    makeSearchable(path.dirname(path.resolve(dir)));
    cmd = 'setpriv';
    args = [`--reuid=${opts.uid}`, `--regid=${gid}`, '--clear-groups', '--', 'java', ...javaArgs];
  }
  // setpriv execs java, so the child's PID is the JVM's PID (the default dump name uses it)
  const r = await runTracked(cmd, args, { cwd: dir, timeoutMs: 120_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const m = /Dumping heap to (.+?) \.\.\./.exec(out);
  if (!m) throw new Error(`makeHeapDump: the JVM wrote no heap dump (exit ${r.code}):\n${out}`);
  const written = path.resolve(dir, m[1]);
  if (!/Heap dump file created/.test(out)) throw new Error(`makeHeapDump: heap dump to ${written} did not finish:\n${out}`);
  return written;
}

/** Copies src to dst in chunks with a pause between them, as a JVM writing a dump would. */
export async function slowCopy(
  src: string,
  dst: string,
  opts: { chunkBytes: number; delayMs: number; signal?: AbortSignal },
): Promise<void> {
  if (!(opts.chunkBytes > 0)) throw new Error(`slowCopy: chunkBytes is ${opts.chunkBytes}, expected > 0`);
  const input = await fsp.open(src, 'r');
  const output = await fsp.open(dst, 'w', 0o600);
  try {
    const buf = Buffer.alloc(opts.chunkBytes);
    for (;;) {
      opts.signal?.throwIfAborted();
      const { bytesRead } = await input.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      await output.write(buf, 0, bytesRead);
      if (opts.delayMs > 0) await sleep(opts.delayMs);
    }
  } finally {
    await input.close();
    await output.close();
  }
}

/** Writes the first keepBytes of src to dst: a dump cut short (e.g. an OOM-killed JVM). */
export async function truncatedCopy(src: string, dst: string, keepBytes: number): Promise<void> {
  const size = statSync(src).size;
  if (!(keepBytes >= 0 && keepBytes < size)) {
    throw new Error(`truncatedCopy: keepBytes is ${keepBytes}, expected 0 <= keepBytes < ${size} (size of ${src})`);
  }
  await fsp.copyFile(src, dst);
  await fsp.truncate(dst, keepBytes);
}

function recordHeader(tag: number, length: number): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt8(tag, 0);
  h.writeUInt32BE(0, 1); // time delta
  h.writeUInt32BE(length, 5);
  return h;
}

/**
 * Filler for array contents: 8 MiB (few, large writes), a 1 MiB pattern repeated; per 4 KiB half random,
 * half zeros, so gzip shrinks it about 2x, like real dumps (its 32 KiB window never sees the repetition).
 */
function fillerBuffer(): Buffer {
  const pattern = Buffer.alloc(1024 * 1024);
  for (let off = 0; off < pattern.length; off += 4096) randomBytes(2048).copy(pattern, off);
  return Buffer.concat(Array.from({ length: 8 }, () => pattern));
}

const PRIMITIVE_ARRAY_HEADER = 1 + ID_SIZE + 4 + 4 + 1; // tag, array id, stack serial, length, type
const SEGMENT_OVERHEAD = 9 + PRIMITIVE_ARRAY_HEADER;
const MAX_SEGMENT_BODY = 256 * 1024 * 1024;

/**
 * Writes a structurally complete HPROF file of exactly `bytes` bytes: header, a UTF8 record,
 * HEAP DUMP SEGMENTs each holding one byte[] (PRIMITIVE ARRAY DUMP), and HEAP DUMP END.
 * `sparse: true` leaves array contents as holes (zeros; instant for multi-GiB, but compresses to nothing).
 */
export async function makeLargeHprof(dst: string, bytes: number, opts: { sparse?: boolean } = {}): Promise<void> {
  const header = Buffer.concat([Buffer.from(`${HPROF_VERSION}\0`, 'latin1'), Buffer.alloc(4 + 8)]);
  header.writeUInt32BE(ID_SIZE, HPROF_VERSION.length + 1);
  header.writeBigUInt64BE(BigInt(Date.now()), HPROF_VERSION.length + 5);
  const name = Buffer.from('byte[]', 'utf8');
  const utf8Body = Buffer.alloc(ID_SIZE + name.length);
  utf8Body.writeBigUInt64BE(1n, 0);
  name.copy(utf8Body, ID_SIZE);
  const prologue = Buffer.concat([header, recordHeader(HPROF_TAG.utf8, utf8Body.length), utf8Body]);
  const end = recordHeader(HPROF_TAG.heapDumpEnd, 0);

  const arraysTotal = bytes - prologue.length - end.length;
  if (!Number.isSafeInteger(bytes) || arraysTotal < SEGMENT_OVERHEAD) {
    throw new Error(`makeLargeHprof: bytes is ${bytes}, expected an integer >= ${prologue.length + end.length + SEGMENT_OVERHEAD}`);
  }
  // split into segments of at most MAX_SEGMENT_BODY; the remainder spread so that none is too small
  const count = Math.ceil(arraysTotal / (MAX_SEGMENT_BODY + 9));
  const base = Math.floor(arraysTotal / count);
  const sizes = Array.from({ length: count }, (_, i) => (i === count - 1 ? arraysTotal - base * (count - 1) : base));

  const fh = await fsp.open(dst, 'w', 0o600);
  try {
    let pos = 0;
    const write = async (buf: Buffer, length = buf.length): Promise<void> => {
      await fh.write(buf, 0, length, pos);
      pos += length;
    };
    await write(prologue);
    const filler = opts.sparse ? undefined : fillerBuffer();
    for (const [i, total] of sizes.entries()) {
      const elements = total - SEGMENT_OVERHEAD;
      const sub = Buffer.alloc(PRIMITIVE_ARRAY_HEADER);
      sub.writeUInt8(HPROF_TAG.primitiveArrayDump, 0);
      sub.writeBigUInt64BE(BigInt(0x1000 + i), 1); // array object id
      sub.writeUInt32BE(1, 1 + ID_SIZE); // stack trace serial
      sub.writeUInt32BE(elements, 1 + ID_SIZE + 4);
      sub.writeUInt8(BASIC_TYPE_BYTE, 1 + ID_SIZE + 8);
      await write(Buffer.concat([recordHeader(HPROF_TAG.heapDumpSegment, total - 9), sub]));
      if (filler) {
        for (let left = elements; left > 0; left -= filler.length) await write(filler, Math.min(left, filler.length));
      } else {
        pos += elements; // a hole: reads as zeros
      }
    }
    await write(end);
    await fh.truncate(pos); // sparse mode: makes the file exactly as long as written
  } finally {
    await fh.close();
  }
}

/**
 * A small, structurally complete HPROF (header, one UTF8 record holding `tag`, HEAP DUMP END): distinct
 * content per tag, uploaded after the short quiet time like a finished dump. Mode 0600.
 */
export function tinyHprof(tag: string): Buffer {
  const header = Buffer.concat([Buffer.from(`${HPROF_VERSION}\0`, 'latin1'), Buffer.alloc(4 + 8)]);
  header.writeUInt32BE(ID_SIZE, HPROF_VERSION.length + 1);
  const text = Buffer.from(tag, 'utf8');
  const body = Buffer.concat([Buffer.alloc(ID_SIZE), text]);
  body.writeBigUInt64BE(7n, 0);
  return Buffer.concat([header, recordHeader(HPROF_TAG.utf8, body.length), body, recordHeader(HPROF_TAG.heapDumpEnd, 0)]);
}
