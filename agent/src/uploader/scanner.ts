/**
 * Finds dump files below the watch root: recursive readdir with lstat, raw (Buffer) names so that any
 * file name can be opened and keyed. Never follows symlinks (so it never leaves the root), skips hidden
 * entries (which includes the ready marker) and the configured marker name.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';

export interface DumpFile {
  /** Raw names from the root down to the file. */
  readonly segments: readonly Buffer[];
  /** Absolute path as bytes (usable with every fs call). */
  readonly path: Buffer;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly uid: number;
}

export interface ScanResult {
  readonly files: DumpFile[];
  /** Every directory visited, root included (absolute, bytes): what the event watcher watches. */
  readonly dirs: Buffer[];
  /** Directories that could not be read (permissions, vanished): reported, not fatal. */
  readonly errors: Array<{ path: string; error: NodeJS.ErrnoException }>;
}

/** `*` and `?` glob over a base name; anything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function makeMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (name) => res.some((re) => re.test(name));
}

export function isIgnoredName(name: Buffer, markerName: string): boolean {
  return name[0] === 0x2e /* '.' */ || name.equals(Buffer.from(markerName));
}

const SEP = Buffer.from(path.sep);

export async function scanDumps(root: string, patterns: readonly string[], markerName: string): Promise<ScanResult> {
  const matches = makeMatcher(patterns);
  const result: ScanResult = { files: [], dirs: [], errors: [] };
  const rootBuf = Buffer.from(root);
  await visit(rootBuf, []);
  return result;

  async function visit(dir: Buffer, segments: Buffer[]): Promise<void> {
    let names: Buffer[];
    try {
      names = await fsp.readdir(dir, { encoding: 'buffer' });
    } catch (error) {
      result.errors.push({ path: dir.toString(), error: error as NodeJS.ErrnoException });
      return;
    }
    result.dirs.push(dir);
    for (const name of names) {
      if (isIgnoredName(name, markerName)) continue;
      const full = Buffer.concat([dir, SEP, name]);
      let st;
      try {
        st = await fsp.lstat(full);
      } catch {
        continue; // vanished between readdir and lstat
      }
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) await visit(full, [...segments, name]);
      else if (st.isFile() && matches(name.toString('utf8'))) {
        result.files.push({ segments: [...segments, name], path: full, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, uid: st.uid });
      }
    }
  }
}
