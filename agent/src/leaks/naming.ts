/**
 * Names for what the report shows, once the objects were read again (reread.ts) and the name records
 * resolved (names.ts): class names, the field through which one object references the next, GC root
 * kinds, thread names (Thread.name -> String -> its byte[]/char[]) and stack frames.
 */
import { javaClassName, PRIMITIVE_ARRAY_NAMES, SUB } from '../triage/hprof-format';
import { formatId } from '../triage/id-table';
import { CLASS_NODE, PRIMITIVE_ROWS } from './classes';
import type { Graph } from './graph';
import { nameKey } from './names';
import type { GraphRecorder } from './records';
import type { ReadObject } from './reread';
import { SeededIdMap } from './seeded-map';

export const ROOT_KINDS: Readonly<Record<number, string>> = {
  [SUB.rootUnknown]: 'unknown',
  [SUB.rootJniGlobal]: 'JNI global',
  [SUB.rootJniLocal]: 'JNI local',
  [SUB.rootJavaFrame]: 'Java frame',
  [SUB.rootNativeStack]: 'native stack',
  [SUB.rootStickyClass]: 'system class',
  [SUB.rootThreadBlock]: 'thread block',
  [SUB.rootMonitorUsed]: 'monitor used',
  [SUB.rootThreadObject]: 'thread object',
};

/** What naming needs to look up, by node index. */
export class Naming {
  names = new Map<string, string>();
  private readonly threadBySerial = new SeededIdMap(64);

  constructor(
    private readonly rec: GraphRecorder,
    private readonly graph: Graph,
    private readonly objects: ReadonlyMap<number, ReadObject>,
    private readonly threadValue: ReadonlyMap<number, number>,
  ) {
    const r = graph.roots;
    for (let k = 0; k < r.count; k++) if (r.kind[k] === SUB.rootThreadObject) this.threadBySerial.set(0, r.serial[k], k);
  }

  /** Name ids the report will ask for (class rows shown, fields, statics, frames), as (hi, lo). */
  static wantedNames(rec: GraphRecorder, rows: Iterable<number>, objects: ReadonlyMap<number, ReadObject>, frames: Iterable<{ methodHi: number; methodLo: number; sourceHi: number; sourceLo: number; classRow: number }>): Array<[number, number]> {
    const c = rec.classes;
    const out: Array<[number, number]> = [];
    const row = (r: number) => {
      if (r >= PRIMITIVE_ROWS && r < c.size) out.push([c.nameHi[r], c.nameLo[r]]);
    };
    for (const r of rows) row(r & ~CLASS_NODE);
    for (const o of objects.values()) {
      for (const s of o.statics ?? []) out.push([s.nameHi, s.nameLo]);
      if (o.tag === SUB.instanceDump || o.tag === SUB.objectArrayDump) {
        const r = c.find(o.classHi, o.classLo);
        if (r >= 0) {
          row(r);
          const refs = c.refsOf(r);
          for (let i = 0; refs && i < refs.offsets.length; i++) out.push([refs.nameHi[i], refs.nameLo[i]]);
        }
      }
    }
    for (const f of frames) {
      out.push([f.methodHi, f.methodLo], [f.sourceHi, f.sourceLo]);
      if (f.classRow >= 0) row(f.classRow);
    }
    return out;
  }

  name(hi: number, lo: number): string | null {
    return this.names.get(nameKey(hi, lo)) ?? null;
  }

  /** Java name of class row `row` (`<class 0x…>` when the dump has no name for it). */
  rowName(row: number): string {
    if (row < PRIMITIVE_ROWS) return PRIMITIVE_ARRAY_NAMES[row + 4];
    const c = this.rec.classes;
    const n = this.name(c.nameHi[row], c.nameLo[row]);
    return n !== null ? javaClassName(n) : `<class ${formatId(c.idHi[row], c.idLo[row], this.rec.idSize)}>`;
  }

  /** The class shown for node value `cls`: a class object shows as its own class. */
  clsName(cls: number): string {
    return this.rowName(cls & ~CLASS_NODE);
  }

  objectId(node: number): string | null {
    const o = this.objects.get(node);
    return o ? formatId(o.idHi, o.idLo, this.rec.idSize) : null;
  }

  /** The reference from node `a` to node `b`: `field`, `static NAME`, `[i]`, `<super>`, `<classloader>`; '?' when unknown. */
  fieldName(a: number, b: number): string {
    const A = this.objects.get(a);
    const B = this.objects.get(b);
    if (!A || !B) return '?';
    const is = (hi: number | undefined, lo: number | undefined) => hi === B.idHi && lo === B.idLo;
    if (A.tag === SUB.classDump) {
      const s = A.statics?.find((x) => is(x.valueHi, x.valueLo));
      if (s) return `static ${this.name(s.nameHi, s.nameLo) ?? '?'}`;
      if (is(A.superHi, A.superLo)) return '<super>';
      if (is(A.loaderHi, A.loaderLo)) return '<classloader>';
      return '?';
    }
    if (A.tag === SUB.objectArrayDump) {
      const e = A.elements ?? [];
      for (let i = 0; i + 1 < e.length; i += 2) if (e[i] === B.idHi && e[i + 1] === B.idLo) return `[${i / 2}]`;
      return '[?]';
    }
    if (A.tag === SUB.instanceDump && A.data) {
      const row = this.rec.classes.find(A.classHi, A.classLo);
      const refs = row >= 0 ? this.rec.classes.refsOf(row) : null;
      const id = this.rec.idSize;
      for (let i = 0; refs && i < refs.offsets.length; i++) {
        const o = refs.offsets[i];
        if (o + id > A.data.length) break;
        const hi = id === 8 ? A.data.readUInt32BE(o) : 0;
        const lo = A.data.readUInt32BE(o + id - 4);
        if (hi === B.idHi && lo === B.idLo) return this.name(refs.nameHi[i], refs.nameLo[i]) ?? '?';
      }
    }
    return '?';
  }

  /** The thread with serial `serial`: its object node and stack trace serial. */
  thread(serial: number): { node: number; trace: number } | undefined {
    const k = this.threadBySerial.get(0, serial);
    return k < 0 ? undefined : { node: this.graph.roots.node[k], trace: this.graph.roots.frame[k] };
  }

  /** Nodes to read again to name the thread object `node`: its name String and the String's array. */
  threadNameNodes(node: number): number[] {
    const s = this.graph.threadNames.get(node);
    if (s === undefined) return [];
    const v = this.threadValue.get(s);
    return v === undefined ? [s] : [s, v];
  }

  /** The name of thread object `node`, or null. */
  threadName(node: number): string | null {
    const s = this.graph.threadNames.get(node);
    const v = s === undefined ? undefined : this.threadValue.get(s);
    const value = v === undefined ? undefined : this.objects.get(v);
    const bytes = value?.content;
    if (!bytes) return null;
    if (value!.type === 5) return Buffer.from(bytes.subarray(0, bytes.length & ~1)).swap16().toString('utf16le');
    return this.coderOf(s!) === 1 ? bytes.toString('utf16le', 0, bytes.length & ~1) : bytes.toString('latin1');
  }

  /** java.lang.String's `coder` (0 Latin-1, 1 UTF-16) of the String node, -1 when it has none (JDK 8). */
  private coderOf(stringNode: number): number {
    const rec = this.rec;
    const o = this.objects.get(stringNode);
    const w = rec.top.threads.coderName;
    const row = rec.top.threads.stringRow;
    if (!o?.data || w === undefined || row < 0) return -1;
    const types = rec.classes.ownTypes[row];
    let at = 0;
    for (let i = 0; types && i < types.length; i++) {
      if (rec.classes.ownNameHi[row]![i] === w[0] && rec.classes.ownNameLo[row]![i] === w[1]) return at < o.data.length ? o.data[at] : -1;
      at += types[i] === 2 ? rec.idSize : ([0, 0, 0, 0, 1, 2, 4, 8, 1, 2, 4, 8][types[i]] ?? 0);
    }
    return -1;
  }

  /** `Worker.run(Worker.java:12)` for frame `depth` of trace `trace`, or undefined. */
  frame(trace: number, depth: number): string | undefined {
    const f = this.rec.top.stacks.frameOf(trace, depth);
    if (!f) return undefined;
    const cls = f.classRow >= 0 ? this.rowName(f.classRow) : '<unknown class>';
    const method = this.name(f.methodHi, f.methodLo) ?? '<unknown method>';
    const source = this.name(f.sourceHi, f.sourceLo);
    const where = f.line === -3 ? 'Native Method' : source ? (f.line > 0 ? `${source}:${f.line}` : source) : 'Unknown Source';
    return `${cls}.${method}(${where})`;
  }
}
