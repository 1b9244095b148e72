/**
 * The triage summary: what the analysis of one heap dump found (`HeapSummary`), the versioned
 * document stored next to the dump (`SummaryDocument`, `<dump key>.summary.json`), its short text
 * rendering (`<dump key>.summary.txt`) and the one-line top classes for a Kubernetes Event.
 *
 * Sizes are the dump's shallow sizes (see `headerSizes` in hprof-format.ts for the rule).
 *
 * Names (classes, methods, source files, threads; the key, which holds a tenant's file name) are whatever the
 * dump's writer chose. The JSON document keeps them as they are (JSON-encoded data; a consumer that shows
 * them escapes them, docs/summary.md); every text rendering passes them through escapeText, so a name cannot
 * add a line, a terminal escape sequence or a bidi override to the summary.
 */
import { escapeText } from '../text/escape';

export const SUMMARY_SCHEMA = 'heapdump-pipeline.io/summary/v1';

/** One class (or array type) and what its objects take. */
export interface ClassSummary {
  /** Java-readable name (`java.lang.String`, `byte[]`, `com.example.Foo[]`); `<class 0x…>` if the dump has none. */
  readonly name: string;
  readonly instances: number;
  /** Sum of the shallow sizes of its instances, bytes. */
  readonly shallowBytes: number;
}

/** One of the largest single objects. */
export interface ObjectSummary {
  /** The object's identifier in the dump (its address at dump time), hex. */
  readonly id: string;
  readonly className: string;
  readonly shallowBytes: number;
  /** Number of elements, for arrays. */
  readonly arrayLength?: number;
}

export interface FrameSummary {
  readonly className: string;
  readonly method: string;
  readonly sourceFile: string | null;
  /** Line number; null when unknown (compiled frame without line information, or none in the dump). */
  readonly line: number | null;
  /** A native method. */
  readonly native?: true;
}

export interface ThreadSummary {
  /** Thread name from the java.lang.Thread object; null when the dump walk could not find it. */
  readonly name: string | null;
  /** HPROF thread serial number. */
  readonly serial: number;
  /** Identifier of the java.lang.Thread object, when the dump has its GC root. */
  readonly objectId: string | null;
  /** Frames in the stack (all of them, even if fewer are listed). */
  readonly depth: number;
  /** Innermost first, up to the `maxFramesPerThread` option. */
  readonly frames: readonly FrameSummary[];
}

/** Whether the stream is a structurally whole dump (the uploader's completeness check). */
export interface StructureSummary {
  readonly complete: boolean;
  readonly reason?: string;
  readonly bytes: number;
}

export interface HeapSummary {
  /**
   * True iff the dump is structurally complete (ends exactly after HEAP DUMP END) and every heap
   * sub-record was analysed. False for a truncated dump (what is listed is what was read) or when
   * unreadable heap data was skipped (see `issues`).
   */
  readonly complete: boolean;
  readonly structure: StructureSummary;
  /** Why the summary is partial, and state caps that were reached (then the lists may miss entries). */
  readonly issues: readonly string[];
  /** Null when the stream has no valid HPROF header. */
  readonly format: {
    readonly version: string;
    readonly idSize: number;
    /** The dump's header timestamp (when the JVM started writing it), ISO 8601. */
    readonly timestamp: string | null;
  } | null;
  /** Header sizes used for shallow sizes (derived from idSize). */
  readonly headerBytes: { readonly instance: number; readonly array: number } | null;
  readonly totals: {
    /** Objects (instances + arrays) in the dump. */
    readonly objects: number;
    /** Sum of all shallow sizes, bytes. */
    readonly shallowBytes: number;
    readonly instances: number;
    readonly arrays: number;
    /** Classes (and array types) with at least one object. */
    readonly classes: number;
  };
  /** Classes by shallow bytes, largest first, up to the `topClasses` option. */
  readonly classes: readonly ClassSummary[];
  /** Largest single objects, largest first, up to the `topObjects` option. */
  readonly largestObjects: readonly ObjectSummary[];
  /** Threads with their stacks, by serial number, up to the `maxThreads` option. */
  readonly threads: readonly ThreadSummary[];
}

/** The dump the summary is about (filled by the uploader). */
export interface DumpEnvelope {
  readonly key: string;
  readonly bucket: string;
  /** `s3://bucket/key`. */
  readonly uri: string;
  /** Bytes of the object as stored (compressed size for a `.hprof.gz`). */
  readonly size: number;
  /** SHA-256 of the stored object, hex. */
  readonly sha256: string;
  readonly node: string;
  readonly namespace?: string;
  readonly pod?: string;
  /** ISO 8601. */
  readonly modifiedAt: string;
  readonly uploadedAt: string;
  /** Whether the dump is structurally complete. */
  readonly complete: boolean;
  readonly compression?: 'gzip';
  /** Bytes of the HPROF stream, when compressed. */
  readonly uncompressedSize?: number;
}

export interface SummaryDocument {
  readonly schema: typeof SUMMARY_SCHEMA;
  readonly dump: DumpEnvelope;
  readonly heap: HeapSummary;
}

export function summaryDocument(dump: DumpEnvelope, heap: HeapSummary): SummaryDocument {
  return { schema: SUMMARY_SCHEMA, dump, heap };
}

// ---- rendering ------------------------------------------------------------------------------------

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` -> `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

const grouped = (n: number): string => Math.round(n).toLocaleString('en-US');

/** A frame as Java prints it: `com.example.Foo.bar(Foo.java:42)`. */
export function formatFrame(f: FrameSummary): string {
  const file = f.sourceFile ? escapeText(f.sourceFile) : null;
  const where = f.native ? 'Native Method' : file ? (f.line !== null ? `${file}:${f.line}` : file) : 'Unknown Source';
  return `${escapeText(f.className)}.${escapeText(f.method)}(${where})`;
}

/** The largest classes by shallow size, for a one-line message: `byte[] 230.1 MiB (23 objects), ...`. */
export function topClassesLine(heap: HeapSummary, count = 3): string {
  const top = heap.classes.slice(0, count);
  if (top.length === 0) return 'no objects found';
  return top.map((c) => `${escapeText(c.name)} ${formatBytes(c.shallowBytes)} (${grouped(c.instances)} objects)`).join(', ');
}

export interface RenderOptions {
  /** Classes in the table. @default 20 */
  readonly classes?: number;
  /** Frames per thread. @default 8 */
  readonly frames?: number;
  /** Largest objects listed. @default 10 */
  readonly objects?: number;
  /** Where the analyzer writes this dump's leak report (`s3://…/<key>.leaks.txt`). @default no such line */
  readonly leakReport?: string;
}

/** The short human-readable summary (`<dump key>.summary.txt`). */
export function renderSummaryText(doc: SummaryDocument, options: RenderOptions = {}): string {
  const { dump, heap } = doc;
  const maxClasses = options.classes ?? 20;
  const maxFrames = options.frames ?? 8;
  const maxObjects = options.objects ?? 10;
  const out: string[] = [];
  const where = [dump.namespace && dump.pod ? `pod ${escapeText(dump.namespace)}/${escapeText(dump.pod)}` : undefined, `node ${escapeText(dump.node)}`].filter(Boolean).join(', ');
  out.push(`Heap dump ${escapeText(dump.uri, 2048)}`);
  out.push(
    `  ${formatBytes(dump.size)}${dump.compression ? ` ${dump.compression}` : ''}` +
      `${dump.uncompressedSize !== undefined ? ` (${formatBytes(dump.uncompressedSize)} uncompressed)` : ''}` +
      `, ${dump.complete ? 'complete' : 'INCOMPLETE'}, sha256 ${dump.sha256}`,
  );
  out.push(`  ${where}; written ${dump.modifiedAt}, uploaded ${dump.uploadedAt}`);
  if (options.leakReport) out.push(`  leak suspects, retained sizes and who holds them: ${options.leakReport} (the analyzer writes it within minutes)`);
  out.push('');
  const t = heap.totals;
  out.push(
    `Heap: ${grouped(t.objects)} objects, ${formatBytes(t.shallowBytes)} shallow, ${grouped(t.classes)} classes` +
      (heap.format ? ` (${heap.format.version}, ${heap.format.idSize}-byte ids)` : ''),
  );
  if (!heap.complete) out.push('PARTIAL SUMMARY: the dump could not be read to its end.');
  for (const issue of heap.issues) out.push(`  note: ${escapeText(issue)}`);
  out.push('');

  const classes = heap.classes.slice(0, maxClasses);
  out.push(`Top ${classes.length} classes by shallow size`);
  const rows = classes.map((c, i) => [String(i + 1), grouped(c.instances), grouped(c.shallowBytes), formatBytes(c.shallowBytes), escapeText(c.name)]);
  out.push(...table(['#', 'Instances', 'Shallow bytes', '', 'Class'], rows, [true, true, true, true, false]));
  out.push('');

  const objects = heap.largestObjects.slice(0, maxObjects);
  if (objects.length > 0) {
    out.push('Largest objects');
    out.push(
      ...table(
        ['Shallow bytes', '', 'Class', 'Id'],
        objects.map((o) => [grouped(o.shallowBytes), formatBytes(o.shallowBytes), `${escapeText(o.className)}${o.arrayLength !== undefined ? ` (length ${grouped(o.arrayLength)})` : ''}`, escapeText(o.id)]),
        [true, true, false, false],
      ),
    );
    out.push('');
  }

  out.push(`Threads (${heap.threads.length})`);
  for (const th of heap.threads) {
    out.push(`"${th.name !== null ? escapeText(th.name) : `thread #${th.serial}`}"${th.name === null ? ' (name not found)' : ''}, ${th.depth} frame${th.depth === 1 ? '' : 's'}`);
    for (const f of th.frames.slice(0, maxFrames)) out.push(`    at ${formatFrame(f)}`);
    const more = th.depth - Math.min(th.frames.length, maxFrames);
    if (more > 0) out.push(`    ... ${more} more`);
  }
  return out.join('\n') + '\n';
}

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`);
}
