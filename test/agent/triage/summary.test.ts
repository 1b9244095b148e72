/**
 * The summary document (versioned schema id, envelope) and its renderings: the text table of the top
 * 20 classes (aligned columns), the threads' top frames, and the one-line top three for an Event.
 */
import {
  formatBytes,
  HeapSummary,
  renderSummaryText,
  SUMMARY_SCHEMA,
  summaryDocument,
  topClassesLine,
  DumpEnvelope,
} from '../../../agent/src/triage';

const dump: DumpEnvelope = {
  key: 'dumps/node-a/shop/web-1/java_pid1.2026-11-30T01-02-03.456Z.hprof',
  bucket: 'heaps',
  uri: 's3://heaps/dumps/node-a/shop/web-1/java_pid1.2026-11-30T01-02-03.456Z.hprof',
  size: 3 * 1024 ** 3,
  sha256: 'ab'.repeat(32),
  node: 'node-a',
  namespace: 'shop',
  pod: 'web-1',
  modifiedAt: '2026-11-30T01:02:03.456Z',
  uploadedAt: '2026-11-30T01:02:09.000Z',
  complete: true,
};

function heap(classCount: number, overrides: Partial<HeapSummary> = {}): HeapSummary {
  const classes = Array.from({ length: classCount }, (_, i) => ({
    name: i === 0 ? 'byte[]' : `com.example.Class${i}`,
    instances: (i + 1) * 1_000,
    shallowBytes: (classCount - i) * 1_048_576 + 7,
  }));
  return {
    complete: true,
    structure: { complete: true, bytes: 3 * 1024 ** 3 },
    issues: [],
    format: { version: 'JAVA PROFILE 1.0.2', idSize: 8, timestamp: '2026-11-30T01:02:00.000Z' },
    headerBytes: { instance: 16, array: 20 },
    totals: {
      objects: classes.reduce((s, c) => s + c.instances, 0),
      shallowBytes: classes.reduce((s, c) => s + c.shallowBytes, 0),
      instances: 1,
      arrays: 1,
      classes: classCount,
    },
    classes,
    largestObjects: [{ id: '0x00000000fe000000', className: 'byte[]', shallowBytes: 10_485_780, arrayLength: 10_485_760 }],
    threads: [
      {
        name: 'main',
        serial: 1,
        objectId: '0x00000000fe39ef18',
        depth: 12,
        frames: Array.from({ length: 12 }, (_, i) => ({ className: 'com.example.Leak', method: `m${i}`, sourceFile: 'Leak.java', line: 10 + i })),
      },
      { name: null, serial: 2, objectId: null, depth: 1, frames: [{ className: 'java.lang.Object', method: 'wait', sourceFile: 'Object.java', line: null, native: true }] },
    ],
    ...overrides,
  };
}

describe('summary document', () => {
  it('carries the schema id, the envelope and the heap part', () => {
    const h = heap(3);
    expect(summaryDocument(dump, h)).toEqual({ schema: 'heapdump-pipeline.io/summary/v1', dump, heap: h });
    expect(SUMMARY_SCHEMA).toBe('heapdump-pipeline.io/summary/v1');
  });
});

describe('renderSummaryText', () => {
  const text = renderSummaryText(summaryDocument(dump, heap(25)));
  const lines = text.split('\n');

  it('starts with the dump: where it is, size, completeness, pod and node', () => {
    expect(lines[0]).toBe(`Heap dump ${dump.uri}`);
    expect(lines[1]).toContain('3.0 GiB, complete');
    expect(lines[2]).toContain('pod shop/web-1, node node-a');
  });

  it('has a table of the top 20 classes with instances and shallow bytes, columns aligned', () => {
    const head = lines.findIndex((l) => l.startsWith('Top 20 classes'));
    expect(head).toBeGreaterThan(0);
    const table = lines.slice(head + 1, head + 22);
    expect(table[0]).toMatch(/#\s+Instances\s+Shallow bytes\s+Class/);
    const rows = table.slice(1);
    expect(rows).toHaveLength(20);
    expect(rows[0]).toMatch(/^\s+1\s+1,000\s+26,214,407\s+25\.0 MiB\s+byte\[\]$/);
    expect(rows[19]).toMatch(/\s20\s+20,000\s+.*com\.example\.Class19$/);
    expect(text).not.toContain('com.example.Class20');
    // right-aligned numbers end in the same column; class names start in the same column
    const instancesEnd = rows.map((r) => {
      const m = /^ +\d+ +[\d,]+/.exec(r);
      return m ? m[0].length : -1;
    });
    expect(new Set(instancesEnd)).toEqual(new Set([instancesEnd[0]]));
    expect(instancesEnd[0]).toBeGreaterThan(0);
    const classStart = rows.map((r) => r.search(/(byte\[\]|com\.example)/));
    expect(new Set(classStart)).toEqual(new Set([classStart[0]]));
  });

  it("lists each thread's top frames as Java prints them", () => {
    expect(text).toContain('"main", 12 frames\n    at com.example.Leak.m0(Leak.java:10)\n');
    expect(text).toContain('    at com.example.Leak.m7(Leak.java:17)\n    ... 4 more\n');
    expect(text).toContain('"thread #2" (name not found), 1 frame\n    at java.lang.Object.wait(Native Method)\n');
  });

  it('says when the summary is partial, and why', () => {
    const partial = renderSummaryText(summaryDocument({ ...dump, complete: false }, heap(2, { complete: false, issues: ['record at offset 9 cut'] })));
    expect(partial).toContain('INCOMPLETE');
    expect(partial).toContain('PARTIAL SUMMARY');
    expect(partial).toContain('note: record at offset 9 cut');
  });
});

describe('topClassesLine (Event message)', () => {
  it('names the three largest classes by shallow size', () => {
    expect(topClassesLine(heap(5))).toBe('byte[] 5.0 MiB (1,000 objects), com.example.Class1 4.0 MiB (2,000 objects), com.example.Class2 3.0 MiB (3,000 objects)');
    expect(topClassesLine(heap(0))).toBe('no objects found');
  });

  it('formats sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
