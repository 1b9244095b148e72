/**
 * An independent reference for the leak analysis tests: a small, slow, whole-file HPROF reader and the
 * iterative dominator algorithm of Cooper, Harvey and Kennedy ("A Simple, Fast Dominance Algorithm"),
 * written here from the format's definition and the papers, sharing no code with agent/src/leaks or
 * agent/src/triage. For test dumps of a few hundred thousand objects.
 *
 * Graph: every CLASS DUMP (the class object), instance, object array and primitive array is a node;
 * edges are an instance's reference fields (its class's fields, then its super class's, ...), an object
 * array's elements, a class's super class, loader and static references (null ones and ids not in the
 * dump left out); the roots are every GC root sub-record. Shallow sizes (the summary's model, as
 * docs/summary.md defines it): instance = declared instance size + 2 x id size; array = length x element
 * size (id size for objects) + 2 x id size + 4; class object = 0.
 */
import { readFileSync } from 'fs';
import { gunzipSync } from 'zlib';

const TYPE_SIZE: Record<number, number> = { 4: 1, 5: 2, 6: 4, 7: 8, 8: 1, 9: 2, 10: 4, 11: 8 };
const ROOT_EXTRA: Record<number, number> = { 0xff: 0, 0x01: -1, 0x02: 8, 0x03: 8, 0x04: 4, 0x05: 0, 0x06: 4, 0x07: 0, 0x08: 8 };

export interface CheckClass {
  id: bigint;
  name: string;
  superId: bigint;
  instanceSize: number;
  /** Own instance fields: name and type. */
  fields: Array<{ name: string; type: number }>;
  /** Static reference fields: name -> value id. */
  statics: Map<string, bigint>;
}

export interface CheckObject {
  id: bigint;
  kind: 'class' | 'instance' | 'object-array' | 'primitive-array';
  /** Class id (instances, object arrays); the class's own id for class objects; the type for primitive arrays. */
  classId: bigint;
  type?: number;
  length?: number;
  shallow: number;
  /** Outgoing references (ids). */
  refs: bigint[];
  /** Instances: field name -> value id of each reference field. */
  fieldRefs?: Map<string, bigint>;
}

export class HeapCheck {
  readonly idSize: number;
  readonly names = new Map<bigint, string>();
  readonly classes = new Map<bigint, CheckClass>();
  readonly objects = new Map<bigint, CheckObject>();
  readonly roots = new Set<bigint>();
  readonly rootKinds = new Map<bigint, number[]>();
  /** Filled by dominators(). */
  idom = new Map<bigint, bigint | null>();
  retained = new Map<bigint, number>();
  children = new Map<bigint | null, bigint[]>();

  constructor(file: string) {
    let b = readFileSync(file);
    if (file.endsWith('.gz')) b = gunzipSync(b);
    const nul = b.indexOf(0);
    this.idSize = b.readUInt32BE(nul + 1);
    const id = this.idSize;
    const rid = (at: number): bigint => (id === 8 ? b.readBigUInt64BE(at) : BigInt(b.readUInt32BE(at)));
    const loadNames = new Map<bigint, bigint>();
    const pendingClasses: Array<{ id: bigint; superId: bigint; size: number; fields: Array<{ nameId: bigint; type: number }>; statics: Array<{ nameId: bigint; value: bigint }> }> = [];
    const rawInstances: Array<{ id: bigint; classId: bigint; data: Buffer }> = [];
    let p = nul + 13;
    while (p + 9 <= b.length) {
      const tag = b[p];
      const len = b.readUInt32BE(p + 5);
      const body = p + 9;
      const end = body + len;
      if (tag === 0x01) this.names.set(rid(body), b.toString('utf8', body + id, end));
      else if (tag === 0x02) loadNames.set(rid(body + 4), rid(body + 8 + id));
      else if (tag === 0x0c || tag === 0x1c) {
        let q = body;
        while (q < end) {
          const sub = b[q];
          if (sub in ROOT_EXTRA) {
            const obj = rid(q + 1);
            this.roots.add(obj);
            this.rootKinds.set(obj, [...(this.rootKinds.get(obj) ?? []), sub]);
            q += 1 + id + (ROOT_EXTRA[sub] === -1 ? id : ROOT_EXTRA[sub]);
          } else if (sub === 0x20) {
            const cid = rid(q + 1);
            const superId = rid(q + 1 + id + 4);
            const loader = rid(q + 1 + 2 * id + 4);
            let r = q + 1 + 7 * id + 4;
            const size = b.readUInt32BE(r);
            r += 4;
            const cp = b.readUInt16BE(r);
            r += 2;
            for (let i = 0; i < cp; i++) r += 3 + (b[r + 2] === 2 ? id : TYPE_SIZE[b[r + 2]]);
            const ns = b.readUInt16BE(r);
            r += 2;
            const statics: Array<{ nameId: bigint; value: bigint }> = [];
            const refs: bigint[] = [];
            for (let i = 0; i < ns; i++) {
              const t = b[r + id];
              if (t === 2) {
                const v = rid(r + id + 1);
                statics.push({ nameId: rid(r), value: v });
                if (v !== 0n) refs.push(v);
              }
              r += id + 1 + (t === 2 ? id : TYPE_SIZE[t]);
            }
            const nf = b.readUInt16BE(r);
            r += 2;
            const fields: Array<{ nameId: bigint; type: number }> = [];
            for (let i = 0; i < nf; i++) {
              fields.push({ nameId: rid(r), type: b[r + id] });
              r += id + 1;
            }
            if (superId !== 0n) refs.push(superId);
            if (loader !== 0n) refs.push(loader);
            pendingClasses.push({ id: cid, superId, size, fields, statics });
            this.objects.set(cid, { id: cid, kind: 'class', classId: cid, shallow: 0, refs });
            q = r;
          } else if (sub === 0x21) {
            const oid = rid(q + 1);
            const cid = rid(q + 1 + id + 4);
            const n = b.readUInt32BE(q + 1 + 2 * id + 4);
            const dataAt = q + 1 + 2 * id + 8;
            rawInstances.push({ id: oid, classId: cid, data: b.subarray(dataAt, dataAt + n) });
            q = dataAt + n;
          } else if (sub === 0x22) {
            const oid = rid(q + 1);
            const n = b.readUInt32BE(q + 1 + id + 4);
            const cid = rid(q + 1 + id + 8);
            const refs: bigint[] = [];
            for (let i = 0; i < n; i++) {
              const v = rid(q + 1 + 2 * id + 8 + i * id);
              if (v !== 0n) refs.push(v);
            }
            this.objects.set(oid, { id: oid, kind: 'object-array', classId: cid, length: n, shallow: n * id + 2 * id + 4, refs });
            q += 1 + 2 * id + 8 + n * id;
          } else if (sub === 0x23) {
            const oid = rid(q + 1);
            const n = b.readUInt32BE(q + 1 + id + 4);
            const t = b[q + 1 + id + 8];
            this.objects.set(oid, { id: oid, kind: 'primitive-array', classId: 0n, type: t, length: n, shallow: n * TYPE_SIZE[t] + 2 * id + 4, refs: [] });
            q += 1 + id + 9 + n * TYPE_SIZE[t];
          } else throw new Error(`heap-check: unknown sub-record 0x${sub.toString(16)} at ${q}`);
        }
      }
      p = end;
    }
    for (const c of pendingClasses) {
      this.classes.set(c.id, {
        id: c.id,
        name: this.names.get(loadNames.get(c.id) ?? 0n) ?? `?${c.id}`,
        superId: c.superId,
        instanceSize: c.size,
        fields: c.fields.map((f) => ({ name: this.names.get(f.nameId) ?? '?', type: f.type })),
        statics: new Map(c.statics.map((s) => [this.names.get(s.nameId) ?? '?', s.value])),
      });
    }
    for (const inst of rawInstances) {
      const fieldRefs = new Map<string, bigint>();
      const refs: bigint[] = [];
      let off = 0;
      for (let c = this.classes.get(inst.classId); c; c = this.classes.get(c.superId)) {
        for (const f of c.fields) {
          if (f.type === 2) {
            const v = id === 8 ? inst.data.readBigUInt64BE(off) : BigInt(inst.data.readUInt32BE(off));
            if (!fieldRefs.has(f.name)) fieldRefs.set(f.name, v);
            if (v !== 0n) refs.push(v);
            off += id;
          } else off += TYPE_SIZE[f.type];
        }
      }
      const size = this.classes.get(inst.classId)?.instanceSize ?? inst.data.length;
      this.objects.set(inst.id, { id: inst.id, kind: 'instance', classId: inst.classId, shallow: size + 2 * id, refs, fieldRefs });
    }
  }

  /** Java name of an object's class (`byte[]`, `java.util.HashMap`, `java.lang.Object[]`). */
  className(o: CheckObject): string {
    if (o.kind === 'primitive-array') return `${{ 4: 'boolean', 5: 'char', 6: 'float', 7: 'double', 8: 'byte', 9: 'short', 10: 'int', 11: 'long' }[o.type!]}[]`;
    const n = this.classes.get(o.classId)?.name ?? '?';
    const m = /^(\[+)L(.*);$/.exec(n);
    return (m ? m[2] + '[]'.repeat(m[1].length) : n).replace(/\//g, '.');
  }

  /** Cooper-Harvey-Kennedy over the graph from a virtual root (null) to every GC root; then retained sizes. */
  dominators(): void {
    // reverse postorder by an explicit-stack DFS
    const order: Array<bigint | null> = [];
    const seen = new Set<bigint>();
    const post: Array<bigint | null> = [];
    const stack: Array<{ v: bigint | null; succ: bigint[]; i: number }> = [{ v: null, succ: [...this.roots].filter((r) => this.objects.has(r)), i: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.i < top.succ.length) {
        const t = top.succ[top.i++];
        if (seen.has(t) || !this.objects.has(t)) continue;
        seen.add(t);
        stack.push({ v: t, succ: this.objects.get(t)!.refs.filter((r) => this.objects.has(r)), i: 0 });
      } else {
        post.push(top.v);
        stack.pop();
      }
    }
    for (let i = post.length - 1; i >= 0; i--) order.push(post[i]);
    const num = new Map<bigint | null, number>(order.map((v, i) => [v, i]));
    const preds = new Map<bigint, Array<bigint | null>>();
    // Appended in place: a class object has as many predecessors as it has instances.
    const addPred = (t: bigint, v: bigint | null) => {
      const list = preds.get(t);
      if (list) list.push(v);
      else preds.set(t, [v]);
    };
    for (const r of this.roots) if (seen.has(r)) addPred(r, null);
    for (const v of seen) for (const t of this.objects.get(v)!.refs) if (seen.has(t)) addPred(t, v);
    const idom = new Map<bigint | null, bigint | null>([[null, null]]);
    const intersect = (a: bigint | null, c: bigint | null): bigint | null => {
      let x = a;
      let y = c;
      while (x !== y) {
        while (num.get(x)! > num.get(y)!) x = idom.get(x)!;
        while (num.get(y)! > num.get(x)!) y = idom.get(y)!;
      }
      return x;
    };
    for (let changed = true; changed;) {
      changed = false;
      for (const v of order) {
        if (v === null) continue;
        let d: bigint | null | undefined;
        for (const p of preds.get(v) ?? []) if (idom.has(p)) d = d === undefined ? p : intersect(p, d);
        if (d !== undefined && idom.get(v) !== d) {
          idom.set(v, d);
          changed = true;
        }
      }
    }
    this.idom = new Map([...idom].filter(([k]) => k !== null)) as Map<bigint, bigint | null>;
    this.children = new Map();
    for (const [v, d] of this.idom) {
      const list = this.children.get(d);
      if (list) list.push(v);
      else this.children.set(d, [v]);
    }
    this.retained = new Map();
    for (let i = order.length - 1; i >= 0; i--) {
      const v = order[i];
      if (v === null) continue;
      const r = (this.retained.get(v) ?? 0) + this.objects.get(v)!.shallow;
      this.retained.set(v, r);
      const d = this.idom.get(v);
      if (d !== null && d !== undefined) this.retained.set(d, (this.retained.get(d) ?? 0) + r);
    }
  }

  /** Sum of the shallow sizes of the reachable objects. */
  reachableBytes(): number {
    let s = 0;
    for (const v of this.idom.keys()) s += this.objects.get(v)!.shallow;
    return s;
  }

  /** Objects dominated (transitively) by `v`, including v. */
  dominated(v: bigint): bigint[] {
    const out: bigint[] = [];
    const todo = [v];
    while (todo.length) {
      const x = todo.pop()!;
      out.push(x);
      todo.push(...(this.children.get(x) ?? []));
    }
    return out;
  }

  /** The class object with this Java name. */
  classNamed(name: string): CheckClass {
    const internal = name.replace(/\./g, '/');
    for (const c of this.classes.values()) if (c.name === internal) return c;
    throw new Error(`heap-check: no class ${name}`);
  }
}

/** `0x` + 16 hex digits (8-byte ids) or 8. */
export const hexId = (id: bigint, idSize: number): string => `0x${id.toString(16).padStart(2 * idSize, '0')}`;
