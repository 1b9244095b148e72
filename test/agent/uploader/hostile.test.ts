/**
 * Hostile tenants against the uploader loop (in-process, as root, real s3rver, real files, real uids):
 * every attack of issue 8 that targets the uploader's file handling, each run as a tenant would run
 * it, racing the loop where there is a race. Tenants here are uid 2001 (A, the attacker) and 2002
 * (B, the victim); their folders are theirs, mode 0700, as wait-ready makes them.
 */
import { createHash } from 'crypto';
import { chmodSync, chownSync, lchownSync, closeSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OBJECT_METADATA, PATHS } from '../../../agent/src/contract';
import { startFaultProxy } from '../../support/fault-proxy';
import { mtimeNs, restoreMtime } from '../../support/files';
import { makeHeapDump, makeLargeHprof, tinyHprof, truncatedCopy } from '../../support/jvm';
import { nativeProgram } from '../../support/native';
import { spawnTracked } from '../../support/procs';
import { disposeAll, getObjectSha256, S3Server, startS3Server } from '../../support/s3';
import { eventually, FAST_RETRY, msgs, stampedKey, startUploader, testConfig } from './harness';
import { note } from '../../support/notes';

const A = 2001;
const B = 2002;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
let tmp: string;
let dump: string;
let n = 0;
function fresh(): { root: string; node: string; prefix: string } {
  n++;
  const root = path.join(tmp, `root-${n}`);
  mkdirSync(root, { recursive: true, mode: 0o1777 });
  chmodSync(root, 0o1777);
  return { root, node: `node-${n}`, prefix: `dumps/node-${n}/` };
}

/** `<root>/<ns>/<pod>` owned by `uid`, mode 0700, as the pod's wait-ready makes it (namespace folder: root, 01777). */
function podFolder(root: string, ns: string, pod: string, uid: number): string {
  mkdirSync(path.join(root, ns), { recursive: true });
  chmodSync(path.join(root, ns), 0o1777);
  const dir = path.join(root, ns, pod);
  mkdirSync(dir);
  chownSync(dir, uid, uid);
  chmodSync(dir, 0o700);
  return dir;
}

/** A file as its tenant's JVM writes it: owned by the tenant, mode 0600. */
function tenantFile(file: string, body: Buffer, uid: number): void {
  writeFileSync(file, body, { mode: 0o600 });
  chownSync(file, uid, uid);
}

/** The dumps' keys (the summary objects next to them left out). */
async function dumpKeys(prefix: string): Promise<string[]> {
  return (await s3.listKeys(prefix)).filter((k) => !/\.summary\.(json|txt)$/.test(k));
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'hostile-test-'));
  chmodSync(tmp, 0o755); // tenants (other uids) must reach their folders
  [s3, dump] = await Promise.all([startS3Server('s3rver'), makeHeapDump(path.join(tmp, 'jvm'))]);
}, 120_000);

afterAll(async () => {
  await disposeAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe('hostile tenants against the uploader', () => {
  it.each(['delete', 'archive'] as const)(
    'AFTER_UPLOAD=%s: a tenant swapping its subfolders for symlinks into another tenant\'s folder, nonstop, never gets that folder touched or read',
    async (afterUpload) => {
      const { root, node, prefix } = fresh();
      const podA = podFolder(root, 'team-a', 'app-a', A);
      const podB = podFolder(root, 'team-b', 'app-b', B);
      // B's dump is not finished yet (cut short, FILE_STABLE_TIME far away): it must stay exactly where it is
      const victim = path.join(podB, 'java_pid1.hprof');
      await truncatedCopy(dump, victim, 3_000_000);
      chownSync(victim, B, B);
      chmodSync(victim, 0o600);
      const victimSha = sha(readFileSync(victim));
      const victimIno = statSync(victim).ino;
      // A: 30 subfolders, each with a finished dump of the same name as B's, and 30 symlinks to B's folder
      const PAIRS = 30;
      const bodies = new Map<string, Buffer>();
      const pairs: string[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const sub = path.join(podA, `sub${i}`);
        mkdirSync(sub);
        chownSync(sub, A, A);
        const body = tinyHprof(`team-a dump ${i}`);
        tenantFile(path.join(sub, 'java_pid1.hprof'), body, A);
        bodies.set(`sub${i}`, body);
        const link = path.join(podA, `link${i}`);
        symlinkSync(podB, link);
        lchownSync(link, A, A); // the link itself (chown would follow it to B's folder)
        pairs.push(sub, link);
      }
      const exchange = await nativeProgram('exchange');
      const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload, fileStableTimeMs: 600_000 }));
      try {
        // the attack: as uid A, swap every subfolder with its symlink as fast as the kernel allows, for 12 s
        const attacker = spawnTracked('setpriv', [`--reuid=${A}`, `--regid=${A}`, '--clear-groups', '--', exchange, '12000', ...pairs]);
        const { code } = await attacker.exited;
        expect(code).toBe(0);
        const swaps = Number(/swaps=(\d+)/.exec(attacker.stdout.join('\n'))?.[1]);
        // put every subfolder back under its own name (an odd number of swaps leaves the symlink there)
        for (let i = 0; i < PAIRS; i++) {
          const sub = path.join(podA, `sub${i}`);
          if (lstatSync(sub).isSymbolicLink()) {
            renameSync(sub, path.join(podA, 'tmp'));
            renameSync(path.join(podA, `link${i}`), sub);
            renameSync(path.join(podA, 'tmp'), path.join(podA, `link${i}`));
          }
        }
        await eventually('every one of A\'s dumps uploaded and settled', () =>
          msgs(up.events, afterUpload === 'delete' ? 'verified dump deleted' : 'verified dump moved to the archive').length === PAIRS, 60_000);
        const raced = msgs(up.events, 'uploaded and verified').length;
        note(`symlink-swap attack (${afterUpload}): ${swaps} swaps by the tenant while the uploader handled ${raced} dumps; `
          + `${Number(await up.metric('heapdump_uploader_file_errors_total', { reason: 'local ELOOP' }) ?? 0) + Number(await up.metric('heapdump_uploader_file_errors_total', { reason: 'local ENOTDIR' }) ?? 0)} attempts met a swapped folder`);
        expect(swaps).toBeGreaterThan(100_000);
        // B: untouched, unread, still there
        expect(existsSync(victim)).toBe(true);
        expect(statSync(victim).ino).toBe(victimIno);
        expect(sha(readFileSync(victim))).toBe(victimSha);
        expect(readdirSync(podB)).toEqual(['java_pid1.hprof']);
        // S3: exactly A's 30 dumps, each under A's key with A's bytes; nothing of B's
        const keys = await dumpKeys(prefix);
        expect(keys).toHaveLength(PAIRS);
        for (const key of keys) {
          expect(key).toMatch(new RegExp(`^${prefix}team-a/app-a/sub\\d+/java_pid1\\.[0-9T:.Z-]+\\.hprof$`));
          const sub = key.split('/')[4];
          expect((await getObjectSha256(s3, key)).sha256).toBe(sha(bodies.get(sub)!));
        }
      } finally {
        await up.stop();
      }
    },
    120_000,
  );

  it('a hard link to another tenant\'s dump is never uploaded under the linker\'s key (nor the dump while the link exists); counted and said once', async () => {
    const { root, node, prefix } = fresh();
    const podA = podFolder(root, 'team-a', 'app-a', A);
    const podB = podFolder(root, 'team-b', 'app-b', B);
    const victim = path.join(podB, 'java_pid1.hprof');
    tenantFile(victim, readFileSync(dump), B);
    // where uids are shared (or the admission policy is missing) a tenant can link another's file into its folder
    linkSync(victim, path.join(podA, 'stolen.hprof'));
    const up = startUploader(testConfig(s3, root, { nodeName: node }));
    try {
      // a gauge of the last scan: skipped entries are counted, never remembered
      await eventually('both names skipped', async () => (await up.metric('heapdump_uploader_skipped_files', { reason: 'hardlink' })) === 2);
      await new Promise((r) => setTimeout(r, 2000)); // several more scans: said once, never uploaded
      expect(await dumpKeys(prefix)).toEqual([]);
      expect(msgs(up.events, 'not uploading a matching entry that is not a plain dump file')).toHaveLength(2);
      // the link gone, B's dump is an ordinary dump again and goes under B's key only
      unlinkSync(path.join(podA, 'stolen.hprof'));
      await eventually('B\'s dump uploaded', () => msgs(up.events, 'uploaded and verified').length === 1);
      expect((await dumpKeys(prefix))[0]).toMatch(new RegExp(`^${prefix}team-b/app-b/java_pid1\\.`));
    } finally {
      await up.stop();
    }
  });

  it.each([
    ['a symlink to another tenant\'s folder', (at: string, victimDir: string) => { symlinkSync(victimDir, at); lchownSync(at, A, A); }],
    ['a tenant-owned directory, mode 0777', (at: string) => { mkdirSync(at); chownSync(at, A, A); chmodSync(at, 0o777); }],
    ['a tenant-owned file', (at: string) => tenantFile(at, Buffer.from('x'), A)],
  ])('a planted archive (%s) is moved aside, never followed: the dump goes into a root-owned archive', async (_what, plant) => {
    const { root, node, prefix } = fresh();
    const podA = podFolder(root, 'team-a', 'app-a', A);
    const podB = podFolder(root, 'team-b', 'app-b', B);
    tenantFile(path.join(podB, 'keep.bin'), Buffer.from('B'), B);
    const file = path.join(podA, 'java_pid1.hprof');
    tenantFile(file, readFileSync(dump), A);
    const digest = sha(readFileSync(file));
    // the node's root is 01777: before any archive exists, a tenant can put anything at its name
    plant(path.join(root, PATHS.archiveDir), podB);
    const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'archive' }));
    try {
      await eventually('the dump archived', () => msgs(up.events, 'verified dump moved to the archive').length === 1);
      const keys = await dumpKeys(prefix);
      expect(keys).toHaveLength(1);
      const archive = lstatSync(path.join(root, PATHS.archiveDir));
      expect({ dir: archive.isDirectory(), uid: archive.uid, groupOrOther: archive.mode & 0o077 }).toEqual({ dir: true, uid: 0, groupOrOther: 0 });
      const archived = path.join(root, PATHS.archiveDir, 'team-a', 'app-a', keys[0].split('/').pop()!);
      expect(sha(readFileSync(archived))).toBe(digest);
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(podB)).toEqual(['keep.bin']); // nothing went through the planted link
      const aside = readdirSync(root).filter((e) => e.startsWith(`${PATHS.archiveDir}.untrusted-`));
      expect(aside).toHaveLength(1);
      expect(msgs(up.events, 'something else is at the archive\'s name: moved aside, not used')).toHaveLength(1);
    } finally {
      await up.stop();
    }
  });

  it('a sparse 64 GiB "dump" is skipped with a metric; the real dump next to it flows', async () => {
    const { root, node, prefix } = fresh();
    const podA = podFolder(root, 'team-a', 'app-a', A);
    const huge = path.join(podA, 'huge.hprof');
    closeSync(openSync(huge, 'w', 0o600));
    truncateSync(huge, 64 * 2 ** 30);
    chownSync(huge, A, A);
    tenantFile(path.join(podA, 'java_pid1.hprof'), readFileSync(dump), A);
    const up = startUploader(testConfig(s3, root, { nodeName: node }));
    try {
      await eventually('the real dump', () => msgs(up.events, 'uploaded and verified').length === 1);
      expect(await up.metric('heapdump_uploader_skipped_files', { reason: 'sparse' })).toBe(1);
      expect((await dumpKeys(prefix)).map((k) => k.split('/').pop())).toEqual([expect.stringMatching(/^java_pid1\./)]);
    } finally {
      await up.stop();
    }
  });

  it('a 20,000-directory tree: deep watches capped (warning and gauges), a dump deep inside still found by the periodic scan', async () => {
    const { root, node, prefix } = fresh();
    const podA = podFolder(root, 'team-a', 'app-a', A);
    for (let i = 0; i < 200; i++) {
      const d = path.join(podA, `d${i}`);
      mkdirSync(d);
      for (let j = 0; j < 100; j++) mkdirSync(path.join(d, `e${j}`));
    }
    // the pod folder's entry budget raised above the tree (the default stops a scan of one pod folder at 10,000 entries)
    const up = startUploader(testConfig(s3, root, { nodeName: node, maxWatches: 1024, maxEntriesPerPod: 30_000 }));
    try {
      // the root, namespace and pod folders are always watched (3); the cap applies to the deeper ones
      await eventually('the first full scan', async () => (await up.metric('heapdump_uploader_unwatched_directories')) !== undefined
        && (await up.metric('heapdump_uploader_watched_directories')) === 3 + 1024, 60_000);
      expect(await up.metric('heapdump_uploader_unwatched_directories')).toBeGreaterThanOrEqual(20_200 - 1024);
      expect(msgs(up.events, 'directory watch limit reached: the rest is found by the periodic scan only')).toHaveLength(1);
      const deep = path.join(podA, 'd199', 'e99', 'java_pid1.hprof');
      tenantFile(deep, readFileSync(dump), A);
      const key = stampedKey(`${prefix}team-a/app-a/d199/e99/java_pid1.hprof`, statSync(deep).mtimeMs);
      await eventually('the deep dump', async () => (await dumpKeys(prefix)).includes(key), 60_000);
      expect(msgs(up.events, 'the dump tree is larger than the scan limits: the rest is not looked at')).toHaveLength(0);
    } finally {
      await up.stop();
    }
  }, 120_000);

  it('4 KiB changed in place between the read pass and the upload (mtime put back): never a verified object whose bytes differ from its metadata', async () => {
    for (const [what, threshold] of [['one PUT', 1024], ['multipart', 8]] as const) {
      const { root, node, prefix } = fresh();
      const podA = podFolder(root, 'team-a', 'app-a', A);
      const file = path.join(podA, 'big.hprof');
      await makeLargeHprof(file, 160 * 2 ** 20);
      chownSync(file, A, A);
      const up = startUploader(testConfig(s3, root, { nodeName: node, afterUpload: 'keep', multipartThresholdBytes: threshold * 2 ** 20, concurrency: 1 }), { ...FAST_RETRY, progressIntervalMs: 50 });
      try {
        // as soon as the bytes are being sent (the read pass is over), rewrite the last 4 KiB and restore the mtime
        await eventually('sending', () => up.events.some((e) => e.msg === 'upload progress' && e.phase === 'sending'), 30_000, 10);
        const { size } = statSync(file);
        const mtime = mtimeNs(file);
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, size - 4096 - 9);
        closeSync(fd);
        restoreMtime(file, mtime);
        const finalSha = sha(readFileSync(file));
        await eventually(`${what}: verified`, () => msgs(up.events, 'uploaded and verified').length >= 1, 60_000);
        await new Promise((r) => setTimeout(r, 1500));
        for (const key of await dumpKeys(prefix)) {
          const obj = await getObjectSha256(s3, key);
          expect({ what, key, bytes: obj.sha256 }).toEqual({ what, key, bytes: obj.metadata[OBJECT_METADATA.sha256] });
        }
        const objects = await Promise.all((await dumpKeys(prefix)).map((k) => getObjectSha256(s3, k)));
        expect(objects.map((o) => o.sha256)).toContain(finalSha);
        note(`in-place change (${what}): ${msgs(up.events, 'dump changed during its upload: waiting for it to settle again').length} attempt(s) discarded, `
          + `objects: ${objects.length}`);
      } finally {
        await up.stop();
      }
    }
  }, 180_000);

  it('a per-file 400 (key too long for the server) is that file\'s error: clear line and metric, readiness unaffected, other dumps flow', async () => {
    const { root, node, prefix } = fresh();
    const proxy = await startFaultProxy({ target: s3.endpoint, refuse: [{ method: 'PUT', path: /\/doomed\//, status: 400, code: 'KeyTooLongError' }] });
    try {
      const podA = podFolder(root, 'team-a', 'app-a', A);
      mkdirSync(path.join(podA, 'doomed'));
      tenantFile(path.join(podA, 'doomed', 'java_pid1.hprof'), tinyHprof('refused'), A);
      const up = startUploader(testConfig(s3, root, { nodeName: node }, { endpoint: proxy.endpoint }));
      try {
        await eventually('the refusal logged', () => msgs(up.events, 'S3 refused this dump (local file kept, retrying slowly; other dumps are not affected)').length === 1);
        const fine = path.join(podA, 'java_pid1.hprof');
        tenantFile(fine, tinyHprof('accepted'), A);
        await eventually('the other dump', () => msgs(up.events, 'uploaded and verified').length === 1);
        await new Promise((r) => setTimeout(r, 2500)); // more attempts on the refused one: still one line
        expect(msgs(up.events, 'S3 refused this dump (local file kept, retrying slowly; other dumps are not affected)')).toHaveLength(1);
        expect(msgs(up.events, 'S3 refused this dump (local file kept, retrying slowly; other dumps are not affected)')[0]).toMatchObject({ cause: 'KeyTooLongError' });
        expect(await up.metric('heapdump_uploader_file_errors_total', { reason: 'KeyTooLongError' })).toBeGreaterThanOrEqual(1);
        expect(up.readiness.every((r) => r.ready)).toBe(true);
        expect(up.events.filter((e) => /bucket/.test(String(e.hint ?? '')))).toEqual([]);
        expect(existsSync(path.join(podA, 'doomed', 'java_pid1.hprof'))).toBe(true);
        expect((await dumpKeys(prefix)).map((k) => k.split('/').pop())).toEqual([expect.stringMatching(/^java_pid1\./)]);
      } finally {
        await up.stop();
      }
    } finally {
      await proxy.close();
    }
  });
});
