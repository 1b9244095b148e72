/**
 * What the uploader must remember across a container restart (a liveness kill, an OOM kill): which
 * dumps' analyses had begun and not finished, and which verified dumps still owe their summary.
 *
 * Without it a dump whose analysis brings the uploader down would be analysed again after every
 * restart, and first (a crash loop on one file). With it:
 *  - an analysis that had started when the process ended is not started again for that version of
 *    the file: the dump is uploaded with a summary that says why it was not analysed;
 *  - a verified dump whose summary was not written yet gets one at the next start ("not analysed:
 *    the uploader restarted"), so its team still learns about it.
 *
 * Where: UPLOADER_STATE_DIR, by default a folder on the pod's own `emptyDir` (/tmp): it survives
 * container restarts (exactly the case above), no tenant can reach it (unlike anything under the
 * tenant-writable dump root), and it needs no write access to the dump volume (read-only with
 * AFTER_UPLOAD=keep). A new pod starts with a clean journal: at most one attempt per pod.
 * The file is small (bounded entries) and replaced atomically (write + rename) at every change.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { FileIdentity } from '../fs/pinned-dir';
import type { Logger } from '../runtime/logger';
import type { VerifiedDump } from './upload-job';

const FILE = 'analysis-journal.json';
const VERSION = 1;
/** Entries kept at most (the oldest go first). */
const MAX_ENTRIES = 256;

interface Entry {
  /** The file version (see versionKey). */
  readonly version: string;
  /** The file's id below the root (for logs; escaped when logged). */
  readonly path: string;
  readonly since: string;
  /** The analysis process was started for it. */
  started?: boolean;
  /** The dump verified in S3, whose summary is still to be written. */
  dump?: Omit<VerifiedDump, 'seconds'>;
}

export function versionKey(s: FileIdentity): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

export interface JournalAtStart {
  /** Versions whose analysis was running when the last process ended: not analysed again. */
  readonly interrupted: ReadonlyMap<string, string>;
  /** Verified dumps whose summary was never written, with why. */
  readonly owed: ReadonlyArray<{ readonly dump: Omit<VerifiedDump, 'seconds'>; readonly reason: string }>;
}

export class AnalysisJournal {
  private readonly entries = new Map<string, Entry>();
  private writing: Promise<void> = Promise.resolve();
  private broken = false;

  private constructor(
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {}

  /** Reads what the previous process left and starts a fresh journal. `dir` undefined: in memory only. */
  static async open(dir: string | undefined, log: Logger): Promise<{ journal: AnalysisJournal; atStart: JournalAtStart }> {
    const journal = new AnalysisJournal(dir, log);
    const interrupted = new Map<string, string>();
    const owed: Array<{ dump: Omit<VerifiedDump, 'seconds'>; reason: string }> = [];
    for (const e of await journal.readPrevious()) {
      if (e.dump) {
        owed.push({ dump: e.dump, reason: e.started ? 'the uploader restarted while analysing this dump' : 'the uploader restarted before analysing this dump' });
      } else if (e.started) {
        interrupted.set(e.version, e.since);
        journal.entries.set(e.version, e); // remembered until that version is uploaded or gone
      }
    }
    if (interrupted.size > 0) log.warn('analyses that were running when the uploader last stopped are not started again for the same files', { count: interrupted.size });
    await journal.save();
    return { journal, atStart: { interrupted, owed } };
  }

  /** An analysis of `version` is about to begin (queued or started). */
  add(version: string, filePath: string): Promise<void> {
    if (!this.entries.has(version)) {
      this.entries.set(version, { version, path: filePath, since: new Date().toISOString() });
      while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    }
    return this.save();
  }

  started(version: string): Promise<void> {
    const e = this.entries.get(version);
    if (!e || e.started) return this.writing;
    e.started = true;
    return this.save();
  }

  /** The dump is in S3; its summary is still owed. */
  owe(version: string, dump: Omit<VerifiedDump, 'seconds'>): Promise<void> {
    const e = this.entries.get(version);
    if (!e) return this.writing;
    e.dump = dump;
    return this.save();
  }

  /** Finished: the summary is written (or nothing is owed any more). */
  remove(version: string): Promise<void> {
    if (!this.entries.delete(version)) return this.writing;
    return this.save();
  }

  /** The file version is settled or gone: forgotten unless a summary is still owed for it. */
  release(version: string): Promise<void> {
    if (this.entries.get(version)?.dump) return this.writing;
    return this.remove(version);
  }

  private file(): string | undefined {
    return this.dir === undefined ? undefined : path.join(this.dir, FILE);
  }

  private async readPrevious(): Promise<Entry[]> {
    const file = this.file();
    if (!file) return [];
    try {
      const doc = JSON.parse(await fsp.readFile(file, 'utf8')) as { version?: number; entries?: Entry[] };
      return doc.version === VERSION && Array.isArray(doc.entries) ? doc.entries.filter((e) => typeof e?.version === 'string') : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn('the analysis journal could not be read: starting a new one', { file, error: error as Error });
      return [];
    }
  }

  /** Writes the journal (one write at a time, the last state wins). */
  private save(): Promise<void> {
    const file = this.file();
    if (!file || this.broken) return this.writing;
    const body = JSON.stringify({ version: VERSION, entries: [...this.entries.values()] });
    this.writing = this.writing.then(async () => {
      try {
        await fsp.mkdir(this.dir as string, { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        await fsp.writeFile(tmp, body, { mode: 0o600 });
        await fsp.rename(tmp, file);
      } catch (error) {
        this.broken = true;
        this.log.error('the analysis journal cannot be written: a dump whose analysis brings the uploader down would be analysed again after a restart', {
          file, error: error as Error, hint: 'UPLOADER_STATE_DIR must be a writable folder of the pod (the emptyDir at /tmp)',
        });
      }
    });
    return this.writing;
  }
}
