/**
 * Pure parsing of synthetic HPROF streams (test/support/hprof-writer.ts writes them from the format's
 * definition): 4- and 8-byte identifiers, unsigned 32-bit lengths, unknown records and sub-records,
 * structural completeness, chunk boundaries anywhere, caps, and thread names found in one pass or
 * recovered at the end. Expected sizes are computed here from the header-size rule (instance header =
 * 2 x id size, array header = 2 x id size + 4), not taken from the implementation.
 */
import { bufferNameReader, HeapSummary, HprofAnalyzer, AnalyzerOptions, NameReader } from '../../../agent/src/triage';
import { HprofRecordParser, HprofVisitor } from '../../../agent/src/triage/hprof-records';
import { HprofWriter, T } from '../../support/hprof-writer';

const N = {
  thread: 1n,
  string: 2n,
  name: 3n,
  value: 4n,
  coder: 5n,
  hash: 6n,
  widget: 7n,
  run: 8n,
  widgetJava: 9n,
  sigV: 10n,
  object: 11n,
  widgetArray: 12n,
  worker: 14n,
  extra: 15n,
  sleep: 16n,
  threadJava: 17n,
  a: 18n,
  b: 19n,
  c: 20n,
  counter: 21n,
} as const;

const C = { object: 0x100n, thread: 0x200n, string: 0x300n, widget: 0x400n, widgetArray: 0x500n, worker: 0x600n } as const;

interface Fixture {
  readonly bytes: Buffer;
  readonly widgets: number;
  readonly widgetArrays: number;
  readonly arrayLength: number;
}

/**
 * A small "JVM": Object, Thread (hash:int, name:String), Worker extends Thread (extra:long), String
 * (value, coder, hash), Widget (a:long, b:int, c:Object, 2 statics), Widget[]; `widgets` Widget
 * instances, `widgetArrays` Widget[arrayLength]; thread 1 "worker-1" (a Worker; Thread -> String ->
 * byte[] in that order) with a 2-frame stack; thread 2 "main" (a Thread) written AFTER its name String
 * and value array (found again at the end); the dummy trace HotSpot writes; heap split in 2 segments.
 */
function fixture(idSize: 4 | 8, widgets = 5, widgetArrays = 2, arrayLength = 3): Fixture {
  const w = new HprofWriter(idSize);
  const names: Array<[bigint, string]> = [
    [N.thread, 'java/lang/Thread'],
    [N.string, 'java/lang/String'],
    [N.name, 'name'],
    [N.value, 'value'],
    [N.coder, 'coder'],
    [N.hash, 'hash'],
    [N.widget, 'com/example/Widget'],
    [N.run, 'run'],
    [N.widgetJava, 'Widget.java'],
    [N.sigV, '()V'],
    [N.object, 'java/lang/Object'],
    [N.widgetArray, '[Lcom/example/Widget;'],
    [N.worker, 'com/example/Worker'],
    [N.extra, 'extra'],
    [N.sleep, 'sleep'],
    [N.threadJava, 'Thread.java'],
    [N.a, 'a'],
    [N.b, 'b'],
    [N.c, 'c'],
    [N.counter, 'counter'],
  ];
  for (const [id, text] of names) w.utf8(id, text);
  w.loadClass(1, C.object, N.object)
    .loadClass(2, C.thread, N.thread)
    .loadClass(3, C.string, N.string)
    .loadClass(4, C.widget, N.widget)
    .loadClass(5, C.widgetArray, N.widgetArray)
    .loadClass(6, C.worker, N.worker);
  w.stackTrace(1, 0, []); // HotSpot's placeholder trace
  w.stackFrame(0x1001n, N.sleep, N.sigV, N.threadJava, 2, -3) // native
    .stackFrame(0x1000n, N.run, N.sigV, N.widgetJava, 4, 42)
    .stackTrace(2, 1, [0x1001n, 0x1000n])
    .stackFrame(0x1002n, N.run, N.sigV, N.widgetJava, 4, 7)
    .stackTrace(3, 2, [0x1002n]);

  const id = idSize;
  const idBuf = (v: bigint) => w.id(v);
  w.heapSegment()
    .classDump(C.object, 0n, 0, [])
    .classDump(C.thread, C.object, 4 + id, [
      { name: N.hash, type: T.int },
      { name: N.name, type: T.object },
    ])
    .classDump(C.worker, C.thread, 8 + 4 + id, [{ name: N.extra, type: T.long }])
    .classDump(C.string, C.object, id + 1 + 4, [
      { name: N.value, type: T.object },
      { name: N.coder, type: T.byte },
      { name: N.hash, type: T.int },
    ])
    .classDump(C.widget, C.object, 8 + 4 + id, [
      { name: N.a, type: T.long },
      { name: N.b, type: T.int },
      { name: N.c, type: T.object },
    ], [
      { name: N.counter, type: T.int, value: HprofWriter.u4(7) },
      { name: N.c, type: T.object, value: idBuf(0n) },
    ])
    .classDump(C.widgetArray, C.object, 0, [])
    .rootStickyClass(C.object);
  // "main": value array and String before the Thread (address order = stream order here)
  const mainChars = Buffer.from('main', 'latin1');
  w.primitiveArray(0x5000n, T.byte, mainChars.length, mainChars);
  w.instance(0x5100n, C.string, Buffer.concat([idBuf(0x5000n), Buffer.from([0]), HprofWriter.u4(0)]));
  for (let i = 0; i < widgets; i++) w.instance(0x6000n + BigInt(i) * 0x20n, C.widget, Buffer.alloc(8 + 4 + id));
  w.heapSegment();
  for (let j = 0; j < widgetArrays; j++) w.objectArray(0x6800n + BigInt(j) * 0x40n, C.widgetArray, Array.from({ length: arrayLength }, () => 0x6000n));
  w.instance(0x7000n, C.worker, Buffer.concat([Buffer.alloc(8), HprofWriter.u4(0), idBuf(0x7100n)])); // Worker: extra, then Thread's hash, name
  w.instance(0x7100n, C.string, Buffer.concat([idBuf(0x7200n), Buffer.from([0]), HprofWriter.u4(0)]));
  const chars = Buffer.from('worker-1', 'latin1');
  w.primitiveArray(0x7200n, T.byte, chars.length, chars);
  w.instance(0x7500n, C.thread, Buffer.concat([HprofWriter.u4(0), idBuf(0x5100n)]));
  w.primitiveArray(0x7600n, T.long, 1000);
  w.rootThreadObject(0x7000n, 1, 2).rootThreadObject(0x7500n, 2, 3);
  w.end();
  return { bytes: w.toBuffer(), widgets, widgetArrays, arrayLength };
}

async function analyse(bytes: Buffer, opts: { chunks?: number[]; options?: AnalyzerOptions; reader?: NameReader } = {}): Promise<{ heap: HeapSummary; a: HprofAnalyzer }> {
  const a = new HprofAnalyzer({ checkpointBytes: 64, ...opts.options });
  const sizes = opts.chunks ?? [bytes.length];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]);
    a.update(bytes.subarray(i, i + n));
    i += n;
  }
  return { heap: await a.finish(opts.reader ?? bufferNameReader(bytes)), a };
}

const cls = (heap: HeapSummary, name: string) => heap.classes.find((c) => c.name === name);

/** The bytes of the sub-records `add` writes (without file header and segment record header). */
function subRecords(idSize: 4 | 8, add: (w: HprofWriter) => void): Buffer {
  const w = new HprofWriter(idSize);
  const header = w.toBuffer().length;
  w.heapSegment();
  add(w);
  return w.toBuffer().subarray(header + 9);
}

describe.each([4, 8] as const)('synthetic dump with %i-byte identifiers', (idSize) => {
  const f = fixture(idSize);
  const instanceHeader = 2 * idSize;
  const arrayHeader = 2 * idSize + 4;

  it('counts instances and shallow sizes by the header rule, arrays by length x element size', async () => {
    const { heap } = await analyse(f.bytes);
    expect(heap.complete).toBe(true);
    expect(heap.issues).toEqual([]);
    expect(heap.format).toMatchObject({ version: 'JAVA PROFILE 1.0.2', idSize, timestamp: '2026-11-30T01:02:03.000Z' });
    expect(heap.headerBytes).toEqual({ instance: instanceHeader, array: arrayHeader });
    expect(cls(heap, 'com.example.Widget')).toEqual({ name: 'com.example.Widget', instances: f.widgets, shallowBytes: f.widgets * (8 + 4 + idSize + instanceHeader) });
    expect(cls(heap, 'com.example.Widget[]')).toEqual({
      name: 'com.example.Widget[]',
      instances: f.widgetArrays,
      shallowBytes: f.widgetArrays * (f.arrayLength * idSize + arrayHeader),
    });
    expect(cls(heap, 'long[]')).toEqual({ name: 'long[]', instances: 1, shallowBytes: 8000 + arrayHeader });
    expect(cls(heap, 'byte[]')).toEqual({ name: 'byte[]', instances: 2, shallowBytes: 4 + 8 + 2 * arrayHeader });
    expect(cls(heap, 'com.example.Worker')).toEqual({ name: 'com.example.Worker', instances: 1, shallowBytes: 8 + 4 + idSize + instanceHeader });
    expect(heap.totals.objects).toBe(f.widgets + f.widgetArrays + 2 /* strings */ + 2 /* threads */ + 3 /* primitive arrays */);
    expect(heap.totals.shallowBytes).toBe(heap.classes.reduce((s, c) => s + c.shallowBytes, 0));
    expect(heap.classes[0].name).toBe('long[]'); // largest first
    expect(heap.largestObjects[0]).toEqual({ id: idSize === 8 ? '0x0000000000007600' : '0x00007600', className: 'long[]', shallowBytes: 8000 + arrayHeader, arrayLength: 1000 });
  });

  it('gives every thread its stack (class, method, source, line; native frames) and its name', async () => {
    const { heap } = await analyse(f.bytes);
    expect(heap.threads).toEqual([
      {
        name: 'worker-1',
        serial: 1,
        objectId: idSize === 8 ? '0x0000000000007000' : '0x00007000',
        depth: 2,
        frames: [
          { className: 'java.lang.Thread', method: 'sleep', sourceFile: 'Thread.java', line: null, native: true },
          { className: 'com.example.Widget', method: 'run', sourceFile: 'Widget.java', line: 42 },
        ],
      },
      {
        // its String and value array come before the Thread: found again at the end (buffer reader: random access)
        name: 'main',
        serial: 2,
        objectId: idSize === 8 ? '0x0000000000007500' : '0x00007500',
        depth: 1,
        frames: [{ className: 'com.example.Widget', method: 'run', sourceFile: 'Widget.java', line: 7 }],
      },
    ]);
  });

  it('does not re-read the heap for names with a reader without random access (gzip)', async () => {
    const plain = bufferNameReader(f.bytes);
    const sequential: NameReader = (ranges) => plain(ranges);
    const { heap } = await analyse(f.bytes, { reader: sequential });
    expect(heap.threads.map((t) => t.name)).toEqual(['worker-1', null]);
  });

  it('gives the same summary whatever the chunk sizes (1 byte, odd sizes, all at once)', async () => {
    const whole = JSON.stringify((await analyse(f.bytes)).heap);
    for (const chunks of [[1], [2], [3], [7, 1, 13], [idSize + 1], [61], [9, 9, 1, 100]]) {
      expect(JSON.stringify((await analyse(f.bytes, { chunks })).heap)).toBe(whole);
    }
  });

  it('reads record and segment lengths as unsigned 32-bit (a segment longer than 2 GiB)', async () => {
    // header, a HEAP DUMP SEGMENT of 2^31 + 100 bytes: one Widget, a byte[] of 2^31 + 50 - ... bytes, one Widget
    const w = new HprofWriter(idSize);
    w.utf8(N.widget, 'com/example/Widget').loadClass(1, C.widget, N.widget).heapSegment().classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }]);
    const prologue = w.toBuffer();
    const widget = subRecords(idSize, (x) => x.instance(0x9000n, C.widget, Buffer.alloc(4)));
    const arrayLength = 2 ** 31;
    const arrayHead = Buffer.concat([HprofWriter.u1(0x23), w.id(0x9100n), HprofWriter.u4(0), HprofWriter.u4(arrayLength), HprofWriter.u1(T.byte)]);
    const segmentLength = widget.length + arrayHead.length + arrayLength + widget.length;
    expect(segmentLength).toBeGreaterThan(2 ** 31);
    const head = Buffer.concat([prologue, HprofWriter.recordHeader(0x1c, segmentLength), widget, arrayHead]);
    const tail = Buffer.concat([widget, HprofWriter.recordHeader(0x2c, 0)]);

    const a = new HprofAnalyzer();
    a.update(head);
    const cut = a.structure();
    expect(cut.complete).toBe(false);
    expect(cut.reason).toContain(`${segmentLength} bytes`); // not a negative length
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    for (let left = arrayLength; left > 0; left -= zeros.length) a.update(zeros.subarray(0, Math.min(left, zeros.length)));
    a.update(tail);
    expect(a.structure()).toEqual({ complete: true, bytes: head.length + arrayLength + tail.length, format: 'hprof' });
    const heap = await a.finish(async (ranges) => ranges.map((r) => Buffer.concat([head, Buffer.alloc(Math.max(0, r.offset + r.length - head.length))]).subarray(r.offset, r.offset + r.length)));
    expect(heap.complete).toBe(true);
    expect(cls(heap, 'com.example.Widget')?.instances).toBe(2);
    expect(cls(heap, 'byte[]')).toEqual({ name: 'byte[]', instances: 1, shallowBytes: arrayLength + arrayHeader });
  });

  it('reads a HEAP DUMP record (0x0C) like a HEAP DUMP SEGMENT', async () => {
    const w = new HprofWriter(idSize);
    w.utf8(N.widget, 'com/example/Widget').loadClass(1, C.widget, N.widget).heapSegment(0x0c).classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }]);
    for (let i = 0; i < 3; i++) w.instance(0x9000n + BigInt(i) * 0x10n, C.widget, Buffer.alloc(4));
    const { heap } = await analyse(w.end().toBuffer());
    expect(heap.complete).toBe(true);
    expect(cls(heap, 'com.example.Widget')).toEqual({ name: 'com.example.Widget', instances: 3, shallowBytes: 3 * (4 + instanceHeader) });
  });

  it('keeps per-class sums exact past 2^31 bytes (40 arrays of 64 MiB in one segment)', async () => {
    const w = new HprofWriter(idSize);
    const prologue = w.toBuffer();
    const length = 64 * 1024 * 1024;
    const array = Buffer.alloc(10 + idSize + length); // one whole PRIMITIVE ARRAY DUMP per chunk
    array.set(subRecords(idSize, (x) => x.primitiveArray(0x9000n, T.byte, 0, Buffer.alloc(0))));
    array.writeUInt32BE(length, 5 + idSize);
    const a = new HprofAnalyzer();
    a.update(Buffer.concat([prologue, HprofWriter.recordHeader(0x1c, 40 * array.length)]));
    for (let i = 0; i < 40; i++) a.update(array);
    a.update(HprofWriter.recordHeader(0x2c, 0));
    const heap = await a.finish(async (ranges) => ranges.map(() => Buffer.alloc(0)));
    expect(heap.complete).toBe(true);
    expect(cls(heap, 'byte[]')).toEqual({ name: 'byte[]', instances: 40, shallowBytes: 40 * (length + arrayHeader) });
    expect(heap.totals.shallowBytes).toBe(40 * (length + arrayHeader));
  });

  it('skips unknown record types by their length', async () => {
    const w = new HprofWriter(idSize);
    w.record(0x7f, Buffer.alloc(1000, 0x21)) // unknown, full of bytes that look like sub-records
      .utf8(N.widget, 'com/example/Widget')
      .record(0x0d, Buffer.alloc(20, 0xff)) // CPU SAMPLES: known, not analysed
      .loadClass(1, C.widget, N.widget)
      .record(0xee, Buffer.alloc(0))
      .heapSegment()
      .classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }])
      .instance(0x9000n, C.widget, Buffer.alloc(4))
      .record(0x99, Buffer.alloc(77))
      .end();
    const { heap } = await analyse(w.toBuffer());
    expect(heap.complete).toBe(true);
    expect(heap.issues).toEqual([]);
    expect(heap.totals.objects).toBe(1);
    expect(cls(heap, 'com.example.Widget')?.instances).toBe(1);
  });

  it('ends the analysis of a segment at an unknown sub-record tag, notes it, and goes on with the next segment', async () => {
    const w = new HprofWriter(idSize);
    w.utf8(N.widget, 'com/example/Widget')
      .loadClass(1, C.widget, N.widget)
      .heapSegment()
      .classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }])
      .instance(0x9000n, C.widget, Buffer.alloc(4))
      .sub(Buffer.from([0x99, 1, 2, 3]))
      .instance(0x9100n, C.widget, Buffer.alloc(4)) // not analysed: after the unknown tag
      .heapSegment()
      .instance(0x9200n, C.widget, Buffer.alloc(4))
      .end();
    const { heap } = await analyse(w.toBuffer());
    expect(heap.structure.complete).toBe(true);
    expect(heap.complete).toBe(false);
    expect(heap.issues).toHaveLength(1);
    expect(heap.issues[0]).toMatch(/unknown heap sub-record tag 0x99 at offset \d+: the rest of its heap dump segment/);
    expect(cls(heap, 'com.example.Widget')?.instances).toBe(2);
  });

  it('notes a sub-record that claims to run past its segment, and resumes at the next record', async () => {
    const w = new HprofWriter(idSize);
    w.utf8(N.widget, 'com/example/Widget').loadClass(1, C.widget, N.widget).heapSegment().classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }]);
    const inst = subRecords(idSize, (x) => x.instance(0x9000n, C.widget, Buffer.alloc(4)));
    inst.writeUInt32BE(0xfffffff0, 1 + idSize + 4 + idSize); // data length: 4 GiB
    w.sub(inst).heapSegment().instance(0x9100n, C.widget, Buffer.alloc(4)).end();
    for (const chunks of [[1 << 20], [5]]) {
      const { heap } = await analyse(w.toBuffer(), { chunks });
      expect(heap.structure.complete).toBe(true);
      expect(heap.complete).toBe(false);
      expect(heap.issues.join('\n')).toMatch(/runs past the end of its segment/);
      expect(cls(heap, 'com.example.Widget')?.instances).toBe(2);
    }
  });

  it('reads a class dump cut by chunk boundaries anywhere (thousands of statics and fields)', async () => {
    const w = new HprofWriter(idSize);
    const fields = Array.from({ length: 3000 }, (_, i) => ({ name: 1000n + BigInt(i), type: i % 2 ? T.int : T.object }));
    const statics = Array.from({ length: 3000 }, (_, i) => ({ name: 5000n + BigInt(i), type: T.long, value: Buffer.alloc(8, i) }));
    const size = fields.reduce((s, x) => s + (x.type === T.int ? 4 : idSize), 0);
    w.utf8(N.widget, 'com/example/Widget').loadClass(1, C.widget, N.widget).heapSegment().classDump(C.widget, 0n, size, fields, statics);
    for (let i = 0; i < 3; i++) w.instance(0x9000n + BigInt(i) * 0x10n, C.widget, Buffer.alloc(size));
    w.end();
    const bytes = w.toBuffer();
    const whole = (await analyse(bytes)).heap;
    expect(cls(whole, 'com.example.Widget')).toEqual({ name: 'com.example.Widget', instances: 3, shallowBytes: 3 * (size + instanceHeader) });
    for (const chunks of [[1], [1000, 3]]) expect((await analyse(bytes, { chunks })).heap).toEqual(whole);
  });

  it('stays within its caps: further classes are counted as <other classes>, totals stay exact', async () => {
    const { heap } = await analyse(f.bytes, { options: { maxClasses: 3, maxThreads: 1, topClasses: 2, topObjects: 1 } });
    const { heap: full } = await analyse(f.bytes);
    expect(heap.totals.objects).toBe(full.totals.objects);
    expect(heap.totals.shallowBytes).toBe(full.totals.shallowBytes);
    expect(heap.classes).toHaveLength(2);
    expect(heap.largestObjects).toHaveLength(1);
    expect(heap.threads).toHaveLength(1);
    expect(heap.issues.join('\n')).toMatch(/class table full \(maxClasses 3\)/);
    expect(heap.issues.join('\n')).toMatch(/thread table full \(maxThreads 1\)/);
    const other = (await analyse(f.bytes, { options: { maxClasses: 3, topClasses: 100 } })).heap.classes.find((c) => c.name === '<other classes>');
    expect(other?.instances).toBeGreaterThan(0);
  });
});

/**
 * `classes` classes (a name, LOAD CLASS, CLASS DUMP and one instance each) and `threads` threads with
 * `frames` frames each and a name (Thread -> String -> byte[]).
 */
function crowd(classes: number, threads: number, frames: number): Buffer {
  const w = new HprofWriter(8);
  w.utf8(N.thread, 'java/lang/Thread').utf8(N.string, 'java/lang/String').utf8(N.name, 'name').utf8(N.value, 'value').utf8(N.run, 'run');
  w.loadClass(1, C.thread, N.thread).loadClass(2, C.string, N.string);
  for (let i = 0; i < classes; i++) w.utf8(0x10000n + BigInt(i), `com/example/C${i}`).loadClass(10 + i, 0x100000n + BigInt(i) * 8n, 0x10000n + BigInt(i));
  for (let t = 0; t < threads; t++) {
    const ids = Array.from({ length: frames }, (_, k) => 0x200000n + BigInt(t * frames + k));
    for (const f of ids) w.stackFrame(f, N.run, N.run, N.run, 10, 1);
    w.stackTrace(100 + t, 1 + t, ids);
  }
  w.heapSegment().classDump(C.thread, 0n, 8, [{ name: N.name, type: T.object }]).classDump(C.string, 0n, 8, [{ name: N.value, type: T.object }]);
  for (let i = 0; i < classes; i++) w.classDump(0x100000n + BigInt(i) * 8n, 0n, 4, [{ name: N.value, type: T.int }]);
  for (let i = 0; i < classes; i++) w.instance(0x1000000n + BigInt(i) * 16n, 0x100000n + BigInt(i) * 8n, Buffer.alloc(4));
  for (let t = 0; t < threads; t++) {
    const base = 0x2000000n + BigInt(t) * 0x100n;
    w.instance(base, C.thread, w.id(base + 0x10n))
      .instance(base + 0x10n, C.string, w.id(base + 0x20n))
      .primitiveArray(base + 0x20n, T.byte, 6, Buffer.from(`t${String(t).padStart(5, '0')}`, 'latin1'))
      .rootThreadObject(base, 1 + t, 100 + t);
  }
  return w.end().toBuffer();
}

describe('bounded state', () => {
  const caps: AnalyzerOptions = {
    maxClasses: 300,
    maxNames: 1000,
    maxThreads: 40,
    maxFramesPerThread: 8,
    maxFrameRecords: 256,
    maxThreadObjects: 60,
    maxCheckpoints: 32,
    checkpointBytes: 64,
  };

  it('does not grow when the dump has twice as much of everything beyond the caps', async () => {
    const small = await analyse(crowd(2000, 200, 40), { options: caps });
    const big = await analyse(crowd(4000, 400, 80), { options: caps });
    expect(big.a.stateBytes()).toBe(small.a.stateBytes());
    expect(big.a.stateBytes()).toBeLessThan(1024 * 1024);
    // totals stay exact; what does not fit is said
    expect(big.heap.totals.objects).toBe(4000 + 3 * 400);
    expect(big.heap.threads).toHaveLength(40);
    expect(big.heap.threads.every((t) => t.frames.length === 8 && t.depth === 80)).toBe(true);
    expect(big.heap.issues.join('\n')).toMatch(/name index full .*class table full .*thread table full .*thread object table full/s);
  });

  it('grows with the dump below the caps (the caps are what bound it)', async () => {
    const small = await analyse(crowd(200, 10, 4), { options: caps });
    const big = await analyse(crowd(2000, 200, 40), { options: caps });
    expect(big.a.stateBytes()).toBeGreaterThan(small.a.stateBytes());
    expect(small.heap.threads.map((t) => t.name)).toEqual(Array.from({ length: 10 }, (_, t) => `t${String(t).padStart(5, '0')}`));
  });

  it('walks a maximal class dump (65,535 statics) fed one byte at a time in linear time', async () => {
    const w = new HprofWriter(8);
    const statics = Array.from({ length: 65_535 }, (_, i) => ({ name: BigInt(i + 1), type: T.long, value: Buffer.alloc(8) }));
    w.utf8(N.widget, 'com/example/Widget').loadClass(1, C.widget, N.widget).heapSegment().classDump(C.widget, 0n, 4, [{ name: N.b, type: T.int }], statics);
    w.instance(0x9000n, C.widget, Buffer.alloc(4)).end();
    const bytes = w.toBuffer();
    expect(bytes.length).toBeGreaterThan(1_000_000);
    const started = Date.now();
    const { heap } = await analyse(bytes, { chunks: [1] });
    expect(cls(heap, 'com.example.Widget')?.instances).toBe(1);
    expect(heap.complete).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000); // a rescan per byte would take hours
  }, 30_000);
});

describe('structure(): is the stream a whole dump', () => {
  const whole = fixture(8).bytes;
  const structure = (bytes: Buffer) => {
    const a = new HprofAnalyzer();
    a.update(bytes);
    return a.structure();
  };

  it('is complete exactly when the stream ends right after HEAP DUMP END', () => {
    expect(structure(whole)).toEqual({ complete: true, bytes: whole.length, format: 'hprof' });
  });

  it('is not complete with bytes after HEAP DUMP END', () => {
    expect(structure(Buffer.concat([whole, Buffer.from([0])]))).toMatchObject({ complete: false, reason: `record header cut at offset ${whole.length}` });
    const more = Buffer.concat([whole, new HprofWriter(8).utf8(99n, 'x').toBuffer().subarray(31)]);
    expect(structure(more)).toMatchObject({ complete: false, reason: `${more.length - whole.length} bytes after HEAP DUMP END` });
  });

  it('is not complete when cut anywhere before the end, and says where', () => {
    for (let cut = 0; cut < whole.length; cut += 7) {
      const s = structure(whole.subarray(0, cut));
      expect(s.complete).toBe(false);
      expect(s.reason).toBeTruthy();
    }
    expect(structure(whole.subarray(0, whole.length - 1)).reason).toBe(`record header cut at offset ${whole.length - 9}`);
    expect(structure(Buffer.alloc(0)).reason).toBe('empty stream');
  });

  it('reads JAVA PROFILE 1.0.1, and says not-hprof for anything else', () => {
    const old = new HprofWriter(8, { version: 'JAVA PROFILE 1.0.1' }).utf8(1n, 'x').end().toBuffer();
    expect(structure(old)).toEqual({ complete: true, bytes: old.length, format: 'hprof' });
    expect(structure(Buffer.from('PK\u0003\u0004 a zip file, not a dump\0\0\0\0\0\0\0\0\0\0\0\0\0'))).toMatchObject({ complete: false, format: 'not-hprof' });
    expect(structure(Buffer.alloc(200, 0x41))).toMatchObject({ complete: false, format: 'not-hprof', reason: 'not an HPROF stream: no header' });
    const odd = new HprofWriter(8).end().toBuffer();
    odd.writeUInt32BE(2, 19); // identifier size 2
    expect(structure(odd)).toMatchObject({ complete: false, format: 'hprof', reason: 'unsupported identifier size 2 (expected 4 or 8)' });
  });

  it('gives a partial summary, never a throw, for every prefix of a dump', async () => {
    for (let cut = 0; cut < whole.length; cut += 3) {
      const { heap } = await analyse(whole.subarray(0, cut));
      expect(heap.complete).toBe(false);
      expect(heap.structure.complete).toBe(false);
    }
  });

  it('survives random garbage after a valid header', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 50; i++) {
      const garbage = Buffer.from(Array.from({ length: 2000 }, () => Math.floor(random() * 256)));
      const bytes = Buffer.concat([whole.subarray(0, 31), garbage]);
      const { heap } = await analyse(bytes, { chunks: [1 + (i % 17)] });
      expect(heap.complete).toBe(false);
    }
  });
});

describe('an internal error while analysing', () => {
  /** A visitor whose instance() throws on the 3rd instance (a stand-in for a bug in the analysis). */
  function failing(): HprofVisitor & { instances: number } {
    return {
      instances: 0,
      header: () => undefined,
      recordPrefix: () => 0,
      record: () => undefined,
      instance() {
        if (++this.instances === 3) throw new Error('boom');
        return 0;
      },
      objectArray: () => undefined,
      primitiveArray: () => 0,
      body: () => undefined,
      classDump: () => undefined,
      root: () => undefined,
      heapRun: (_b, _v, p) => p,
    };
  }

  it('stops the analysis but still tells whether the dump is complete, however it is chunked', () => {
    const whole = fixture(8).bytes;
    for (const chunk of [whole.length, 1, 5, 100]) {
      const visitor = failing();
      const parser = new HprofRecordParser(visitor);
      for (let i = 0; i < whole.length; i += chunk) parser.update(whole.subarray(i, i + chunk));
      expect(parser.issues).toHaveLength(1);
      expect(parser.issues[0]).toMatch(/^analysis stopped at offset \d+: boom; the rest was only checked for completeness$/);
      expect(visitor.instances).toBe(3);
      expect(parser.structure()).toEqual({ complete: true, bytes: whole.length, format: 'hprof' });
      const cut = new HprofRecordParser(failing());
      cut.update(whole.subarray(0, whole.length - 3));
      expect(cut.structure().complete).toBe(false);
    }
  });
});

describe('thread names', () => {
  it('decodes UTF-16 compact strings (coder 1) and JDK 8 char[] values', async () => {
    for (const variant of ['utf16', 'char[]'] as const) {
      const w = new HprofWriter(8);
      w.utf8(N.thread, 'java/lang/Thread').utf8(N.string, 'java/lang/String').utf8(N.name, 'name').utf8(N.value, 'value').utf8(N.coder, 'coder');
      w.loadClass(1, C.thread, N.thread).loadClass(2, C.string, N.string).stackTrace(1, 1, []);
      const stringFields = variant === 'utf16' ? [{ name: N.value, type: T.object }, { name: N.coder, type: T.byte }] : [{ name: N.value, type: T.object }];
      w.heapSegment()
        .classDump(C.thread, 0n, 8, [{ name: N.name, type: T.object }])
        .classDump(C.string, 0n, variant === 'utf16' ? 9 : 8, stringFields)
        .instance(0x100n, C.thread, w.id(0x200n))
        .instance(0x200n, C.string, variant === 'utf16' ? Buffer.concat([w.id(0x300n), Buffer.from([1])]) : w.id(0x300n));
      const text = 'Wörker-✓';
      if (variant === 'utf16') w.primitiveArray(0x300n, T.byte, text.length * 2, Buffer.from(text, 'utf16le'));
      else w.primitiveArray(0x300n, T.char, text.length, Buffer.from(text, 'utf16le').swap16());
      w.rootThreadObject(0x100n, 1, 1).end();
      const { heap } = await analyse(w.toBuffer());
      expect(heap.threads.map((t) => t.name)).toEqual([text]);
    }
  });
});
