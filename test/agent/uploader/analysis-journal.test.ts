/**
 * The journal across a restart (a new AnalysisJournal on the same folder, as a restarted container
 * finds its emptyDir): which analyses were running, which summaries are owed, and nothing else.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { AnalysisJournal, versionKey } from '../../../agent/src/uploader/analysis-journal';
import type { VerifiedDump } from '../../../agent/src/uploader/upload-job';

const dump = (key: string): Omit<VerifiedDump, 'seconds'> => ({
  key, bucket: 'b', size: 10, storedSize: 10, sha256: 'ab'.repeat(32), complete: 'true', namespace: 'shop', pod: 'web-1',
  modifiedAt: '2026-12-07T00:00:00.000Z', uploadedAt: '2026-12-07T00:00:01.000Z', duplicate: false, summaryKeys: { json: `${key}.summary.json`, text: `${key}.summary.txt` },
});

describe('AnalysisJournal', () => {
  let dir: string;
  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'journal-')), 'state');
  });
  afterEach(() => rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('after a restart: a started analysis is "interrupted", a queued one is forgotten, an owed summary is handed back', async () => {
    const log = memoryLogger();
    const { journal, atStart } = await AnalysisJournal.open(dir, log);
    expect(atStart).toEqual({ interrupted: new Map(), owed: [] });
    await journal.add('v-running', 'evil/pod/collide.hprof');
    await journal.started('v-running');
    await journal.add('v-queued', 'shop/web-1/a.hprof');
    await journal.add('v-owed', 'shop/web-1/b.hprof');
    await journal.started('v-owed');
    await journal.owe('v-owed', dump('k/b'));
    await journal.add('v-done', 'shop/web-1/c.hprof');
    await journal.remove('v-done');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['analysis-journal.json']); // replaced atomically: no temp file left

    // the process dies here; a new one starts on the same folder
    const again = await AnalysisJournal.open(dir, log);
    expect([...again.atStart.interrupted.keys()]).toEqual(['v-running']);
    expect(again.atStart.owed).toEqual([{ dump: dump('k/b'), reason: 'the uploader restarted while analysing this dump' }]);
    expect(log.events.filter((e) => e.msg === 'analyses that were running when the uploader last stopped are not started again for the same files')).toHaveLength(1);

    // the interrupted version is remembered once more (a second restart before it is settled), then released
    const third = await AnalysisJournal.open(dir, log);
    expect([...third.atStart.interrupted.keys()]).toEqual(['v-running']);
    expect(third.atStart.owed).toEqual([]);
    await third.journal.release('v-running');
    expect((await AnalysisJournal.open(dir, log)).atStart.interrupted.size).toBe(0);
  });

  it('release keeps an entry whose summary is owed', async () => {
    const { journal } = await AnalysisJournal.open(dir, memoryLogger());
    await journal.add('v', 'ns/p/x.hprof');
    await journal.owe('v', dump('k/x'));
    await journal.release('v');
    expect(JSON.parse(readFileSync(path.join(dir, 'analysis-journal.json'), 'utf8')).entries).toHaveLength(1);
  });

  it('a damaged journal is replaced, with a warning; an unwritable folder is said once and analysis goes on in memory', async () => {
    const log = memoryLogger();
    (await AnalysisJournal.open(dir, log)).journal.add('v', 'x');
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(path.join(dir, 'analysis-journal.json'), '{ not json');
    const { atStart } = await AnalysisJournal.open(dir, log);
    expect(atStart.interrupted.size).toBe(0);
    expect(log.events.some((e) => e.msg === 'the analysis journal could not be read: starting a new one')).toBe(true);

    const ro = path.join(path.dirname(dir), 'ro');
    writeFileSync(ro, 'a file, not a folder');
    chmodSync(ro, 0o400);
    const log2 = memoryLogger();
    const { journal } = await AnalysisJournal.open(path.join(ro, 'state'), log2);
    await journal.add('a', 'x');
    await journal.add('b', 'y');
    expect(log2.events.filter((e) => e.msg.startsWith('the analysis journal cannot be written'))).toHaveLength(1);
  });

  it('keys a version by device, inode, size, mtime and ctime', () => {
    expect(versionKey({ dev: 1n, ino: 2n, size: 3, mtimeNs: 4n, ctimeNs: 5n })).toBe('1:2:3:4:5');
  });
});
