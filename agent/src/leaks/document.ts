/**
 * The leak report document, `<dump key>.leaks.json` (schema heapdump-pipeline.io/leaks/v1). Other
 * components (the API, the web page, notifications) read `schema`, `status`, `reason`, `headline`,
 * `dump`, `heap.reachableBytes`, `heap.reachableObjects`, `suspects[].kind|className|retainedBytes|
 * retainedPercent|headline` and `topDominators[]`: those fields keep their meaning within v1.
 *
 * Names in data fields (class, field and thread names) are as the dump has them, unescaped: whoever
 * shows them escapes them (`headline` and the text rendering are escaped already).
 * Sizes use the summary's shallow-size model (../triage/hprof-format.ts `headerSizes`): an instance is
 * its class's declared field bytes plus a 2-identifier header, an array its elements plus a header of 2
 * identifiers and 4 bytes, a class object 0 bytes (the summary does not count class objects).
 */

export const LEAKS_SCHEMA = 'heapdump-pipeline.io/leaks/v1';

/** The dump the report is about. */
export interface LeakDumpRef {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
  readonly node?: string;
  readonly namespace?: string;
  readonly pod?: string;
  /** Bytes of the object as stored (compressed size for a `.hprof.gz`). */
  readonly size: number;
  readonly sha256?: string;
  readonly compression?: 'gzip';
  readonly uncompressedSize?: number;
}

export interface LeakHeap {
  /** Bytes of the reachable objects, the sum of their shallow sizes: what the percentages are of. */
  readonly reachableBytes: number;
  readonly reachableObjects: number;
  /** Every object in the dump (instances, arrays, class objects). */
  readonly objects: number;
  readonly shallowBytes: number;
  /** Unreachable objects (garbage the JVM had not collected), left out of every figure but these. */
  readonly unreachableObjects: number;
  readonly unreachableBytes: number;
  /** References between objects (null ones not counted), and those into objects not in the dump (left out). */
  readonly references: number;
  readonly danglingReferences: number;
  readonly gcRoots: number;
  readonly classes: number;
  readonly format: { readonly version: string; readonly idSize: number; readonly timestamp: string | null };
  /** The dump was read to its end, whole (HEAP DUMP END last) and without malformed records. */
  readonly complete: boolean;
  /** What made the analysis partial (capped list). */
  readonly issues: readonly string[];
}

/** Who keeps the suspect alive. */
export interface HeldBy {
  readonly kind: 'static-field' | 'thread' | 'jni-global' | 'other';
  /** One line, e.g. `static field com.acme.Cache.ENTRIES`, `thread "worker-1" (local variable in Worker.run(Worker.java:12))`. Unescaped. */
  readonly text: string;
  /** static-field: the class and the field, and the fields from its value to the suspect when it holds it through other objects. */
  readonly className?: string;
  readonly field?: string;
  readonly via?: readonly string[];
  /** thread: its name (null when the dump does not have it), the root kind and the frame. */
  readonly thread?: string | null;
  readonly root?: string;
  readonly frame?: string;
}

/** One step of the path: an object and the reference it follows to the next one. */
export interface PathStep {
  readonly className: string;
  readonly objectId: string | null;
  /** `class` for a class object (className is then the class itself). */
  readonly objectKind?: 'class';
  /** Field (`name`, `static NAME`, `[index]`, `<super>`, `<classloader>`) through which the next step is referenced; null for the last step. */
  readonly field: string | null;
  /** First step only: the kinds of GC root it is. */
  readonly gcRoot?: readonly string[];
}

export interface AccumulationPoint {
  readonly className: string;
  readonly objectId: string | null;
  readonly retainedBytes: number;
  /**
   * The objects it accumulates: their class, exact count (dominated by the point) and retained bytes.
   * `chain`: they form a chain starting at the point, each dominating the next (a linked list), and
   * `instances` is its length.
   */
  readonly accumulated: { readonly className: string; readonly instances: number; readonly retainedBytes: number; readonly chain?: true };
  /** When the accumulated objects sit in entries (e.g. a map's nodes): the entries' class, count and bytes. */
  readonly via?: { readonly className: string; readonly instances: number; readonly retainedBytes: number };
}

export interface LeakSuspect {
  readonly kind: 'object' | 'class-group';
  readonly className: string;
  /** `class` when the suspect is a class object (its static fields hold what it retains). */
  readonly objectKind?: 'class';
  /** The object; for a class group its biggest member. */
  readonly objectId: string | null;
  /** Class group: how many top-level dominators of the class there are (1 for an object). */
  readonly instances: number;
  readonly retainedBytes: number;
  readonly retainedPercent: number;
  readonly heldBy: HeldBy;
  readonly pathFromGcRoot: readonly PathStep[];
  readonly accumulation: AccumulationPoint;
  /** The one line for this suspect (escaped). */
  readonly headline: string;
}

export interface TopDominator {
  readonly className: string;
  /** `class` for a class object. */
  readonly objectKind?: 'class';
  readonly objectId: string | null;
  readonly retainedBytes: number;
  readonly retainedPercent: number;
  readonly shallowBytes: number;
}

export interface LeakAnalysisStats {
  readonly thresholdPercent: number;
  readonly durationMs: number;
  /** Peak bytes of the analysis' own arrays (the memory budget's measure). */
  readonly peakAnalysisBytes: number;
  readonly memoryBudgetBytes: number | null;
}

export interface LeaksDocument {
  readonly schema: typeof LEAKS_SCHEMA;
  readonly status: 'analyzed' | 'not-analyzed';
  readonly reason?: string;
  /** The one line for Events, notifications and tables (escaped); null when there is no suspect or no analysis. */
  readonly headline: string | null;
  readonly dump: LeakDumpRef;
  readonly generatedAt: string;
  readonly heap?: LeakHeap;
  readonly suspects: readonly LeakSuspect[];
  readonly topDominators: readonly TopDominator[];
  readonly analysis?: LeakAnalysisStats;
}

/** A report for a dump that was not analysed, saying why. */
export function notAnalyzed(dump: LeakDumpRef, reason: string, now = new Date()): LeaksDocument {
  return { schema: LEAKS_SCHEMA, status: 'not-analyzed', reason, headline: null, dump, generatedAt: now.toISOString(), suspects: [], topDominators: [] };
}
