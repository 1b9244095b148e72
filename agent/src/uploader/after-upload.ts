/**
 * What happens to local dumps once they are safe in S3 (retain), and how much room they take.
 *
 * By default a verified dump is moved out of the tenant's folder into the root-owned archive
 * (`<root>/.heapdump-archive/<namespace>/<pod>/<key name>`: the object's key below the node, same
 * filesystem, one rename): a container
 * that runs out of memory again finds its folder free and HotSpot writes `java_pid1.hprof` again
 * (it never overwrites an existing file). The archive is bounded by the retention settings (age and
 * bytes); only verified dumps are ever in it, and each is checked against S3 once more before it is
 * removed. `delete` removes the verified file instead; `keep` leaves it where it is (then the next
 * OOM of the same container writes no dump: only for read-only set-ups).
 *
 * Every step in a tenant's folder goes through pinned directories (no path a tenant can redirect)
 * and acts only on the exact version that was verified (device, inode, size, mtime, ctime).
 */
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import type { AfterUpload } from '../config';
import { OBJECT_METADATA, PATHS } from '../contract';
import { type FileIdentity, identityOf, openPath, type PinnedDir, sameVersion } from '../fs/pinned-dir';
import type { Logger } from '../runtime/logger';
import { encodeSegment, objectKey } from './keys';
import { selectForRetention } from './retention';
import type { S3Store } from './s3-store';

export interface RetainSettings {
  readonly afterUpload: AfterUpload;
  readonly nodeName: string;
  readonly prefix: string;
  /** 0 = off. */
  readonly retentionMaxAgeMs: number;
  /** 0 = off. */
  readonly retentionMaxBytes: number;
}

export type SettleResult = 'archived' | 'deleted' | 'kept' | 'changed' | 'gone';

/** Mode of the archive and its folders: root only (tenants never see other tenants' dumps there). */
const ARCHIVE_MODE = 0o700;
/** Folder levels below the archive (the scanner's depth limit). */
const MAX_ARCHIVE_DEPTH = 8;

export interface ArchivedFile {
  /** Path below the archive, which is the object key below `<prefix><node>/`. */
  readonly segments: readonly string[];
  readonly size: number;
  readonly mtimeMs: number;
}

export class Retainer {
  constructor(
    private readonly settings: RetainSettings,
    private readonly store: S3Store,
    private readonly log: Logger,
  ) {}

  /**
   * Applies AFTER_UPLOAD to one verified dump. `segments`: its path below the root; `key`: its object.
   * Never removes or moves anything but the exact verified version.
   */
  async settle(root: PinnedDir, segments: readonly Buffer[], verified: FileIdentity, key: string): Promise<SettleResult> {
    if (this.settings.afterUpload === 'keep') return 'kept';
    const name = segments[segments.length - 1];
    const parent = await openPath(root, segments.slice(0, -1));
    try {
      const st = await parent.lstat(name);
      if (!st) return 'gone';
      if (!st.isFile() || !sameVersion(identityOf(st), verified)) return 'changed';
      if (this.settings.afterUpload === 'delete') {
        return (await parent.unlinkIfSame(name, verified)) ? 'deleted' : 'changed';
      }
      // The archive mirrors the key below the node: `<archive>/<ns>/<pod>/<key name>`.
      const dirs = segments.slice(0, -1).map((s) => encodeSegment(s));
      const target = await this.archiveDir(root, dirs);
      try {
        await parent.renameTo(name, target, key.slice(key.lastIndexOf('/') + 1));
      } finally {
        await target.close();
      }
      return 'archived';
    } finally {
      await parent.close();
    }
  }

  /**
   * The archive folder `dirs` below the root's archive, made if missing. The archive itself must be a
   * root-owned directory writable by nobody else: anything else found under its name (planted before
   * the archive existed) is moved aside, never followed.
   */
  private async archiveDir(root: PinnedDir, dirs: readonly string[]): Promise<PinnedDir> {
    let dir = await this.archiveRoot(root);
    for (const d of dirs) {
      const parent = dir;
      try {
        dir = await parent.openDir(d).catch(async (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          return parent.mkdir(d, ARCHIVE_MODE).catch((e: NodeJS.ErrnoException) => {
            if (e.code === 'EEXIST') return parent.openDir(d);
            throw e;
          });
        });
      } finally {
        await parent.close();
      }
    }
    return dir;
  }

  private async archiveRoot(root: PinnedDir): Promise<PinnedDir> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const st = await root.lstat(PATHS.archiveDir);
      if (st && st.isDirectory() && st.uid === 0n && (Number(st.mode) & 0o077) === 0) {
        const dir = await root.openDir(PATHS.archiveDir);
        const now = await dir.fstat();
        if (now.uid === 0n && (Number(now.mode) & 0o077) === 0) return dir;
        await dir.close();
      } else if (st) {
        const aside = `${PATHS.archiveDir}.untrusted-${randomBytes(6).toString('hex')}`;
        this.log.error('something else is at the archive\'s name: moved aside, not used', {
          path: root.describe(PATHS.archiveDir), movedTo: aside, uid: Number(st.uid), mode: (Number(st.mode) & 0o7777).toString(8),
        });
        await root.renameTo(PATHS.archiveDir, root, aside);
        continue;
      }
      try {
        return await root.mkdir(PATHS.archiveDir, ARCHIVE_MODE);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw Object.assign(new Error('could not make the archive folder'), { code: 'EARCHIVE' });
  }

  /** Archived dumps (bounded walk of the root-owned archive). */
  async listArchive(root: PinnedDir): Promise<ArchivedFile[]> {
    const st = await root.lstat(PATHS.archiveDir);
    if (!st || !st.isDirectory() || st.uid !== 0n) return [];
    const out: ArchivedFile[] = [];
    const walk = async (dir: PinnedDir, segs: string[]): Promise<void> => {
      for (const name of await dir.list()) {
        const s = await dir.lstat(name).catch(() => undefined);
        if (!s) continue;
        const here = [...segs, name.toString('utf8')];
        if (s.isDirectory() && segs.length < MAX_ARCHIVE_DEPTH) {
          const sub = await dir.openDir(name).catch(() => undefined);
          if (!sub) continue;
          try {
            await walk(sub, here);
          } finally {
            await sub.close();
          }
        } else if (s.isFile()) {
          out.push({ segments: here, size: Number(s.size), mtimeMs: Number(s.mtimeNs / 1_000_000n) });
        }
      }
    };
    const archive = await root.openDir(PATHS.archiveDir);
    try {
      await walk(archive, []);
    } finally {
      await archive.close();
    }
    return out;
  }

  /**
   * Trims the archive to the retention limits. `pendingBytes`: dumps not in S3 yet (they count
   * against the byte limit but are never removed). Each removal is preceded by a HEAD that finds the
   * object in S3 with the archived file's size. Returns the names removed.
   */
  async applyRetention(root: PinnedDir, now: number, pendingBytes: number, signal?: AbortSignal): Promise<string[]> {
    const { retentionMaxAgeMs: maxAgeMs, retentionMaxBytes: maxBytes } = this.settings;
    if (!maxAgeMs && !maxBytes) return [];
    const archived = await this.listArchive(root);
    if (archived.length === 0) return [];
    const byId = new Map(archived.map((f) => [f.segments.join('/'), f]));
    const ids = selectForRetention(
      [
        ...archived.map((f) => ({ id: f.segments.join('/'), size: f.size, mtimeMs: f.mtimeMs, verified: true })),
        { id: '\0pending', size: pendingBytes, mtimeMs: now, verified: false },
      ],
      now,
      { maxAgeMs, maxBytes },
    );
    const removed: string[] = [];
    for (const id of ids) {
      const f = byId.get(id);
      if (!f || signal?.aborted) continue;
      const key = objectKey(this.settings.prefix, this.settings.nodeName, []) + f.segments.join('/');
      const head = await this.store.head(key, signal).catch(() => undefined);
      if (!head || head.metadata[OBJECT_METADATA.originalSize] !== String(f.size)) {
        this.log.warn('not removing an archived dump: S3 does not show it', { key });
        continue;
      }
      const dir = await openPath(root, [PATHS.archiveDir, ...f.segments.slice(0, -1)]).catch(() => undefined);
      if (!dir) continue;
      try {
        await dir.unlink(f.segments[f.segments.length - 1]);
        removed.push(id);
      } catch (error) {
        this.log.warn('cannot remove an archived dump', { key, error: error as Error });
      } finally {
        await dir.close();
      }
    }
    return removed;
  }
}

/** Capacity and use of the filesystem holding the dump root (the PVC), in bytes. */
export async function volumeUsage(path: string): Promise<{ capacity: number; used: number; available: number } | undefined> {
  try {
    const s = await fsp.statfs(path);
    return { capacity: s.blocks * s.bsize, used: (s.blocks - s.bfree) * s.bsize, available: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

