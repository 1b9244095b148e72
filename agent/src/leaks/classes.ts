/**
 * Classes of a dump as the graph needs them: one row per class id (from LOAD CLASS and CLASS DUMP
 * records), its name id, super class, loader, declared instance size, and the byte offsets of its
 * reference fields within an instance's field data, own and inherited: HPROF writes an instance's
 * fields as the class's own fields, then its super class's, and so on up the hierarchy. Rows 0-7 are
 * the primitive array types (boolean[] .. long[]).
 *
 * Rows are found by class id through a small direct-mapped cache in front of a seeded hash map
 * (seeded-map.ts), so a crafted dump cannot make the lookup slow.
 */
import { basicTypeSize } from '../triage/hprof-format';
import { SeededIdMap } from './seeded-map';

/** Rows 0..7: primitive arrays by basic type 4..11. */
export const PRIMITIVE_ROWS = 8;
/** A node whose `cls` has this bit is the Class object of row `cls & ~CLASS_NODE`. */
export const CLASS_NODE = 0x80000000;
/** Deepest class hierarchy walked (a crafted super chain may loop). */
const MAX_DEPTH = 256;

const CACHE = 4096;

export interface ClassRefs {
  /** Byte offsets of the reference fields in an instance's field data, own fields first. */
  readonly offsets: Int32Array;
  /** For each offset: the field's name id (hi, lo). */
  readonly nameHi: Uint32Array;
  readonly nameLo: Uint32Array;
  /** Field bytes needed to read every reference (last offset + id size). */
  readonly span: number;
}

export class ClassTable {
  readonly idHi: number[] = [];
  readonly idLo: number[] = [];
  readonly nameHi: number[] = [];
  readonly nameLo: number[] = [];
  readonly superHi: number[] = [];
  readonly superLo: number[] = [];
  readonly loaderHi: number[] = [];
  readonly loaderLo: number[] = [];
  /** Instance size from the CLASS DUMP, -1 before it. */
  readonly instanceSize: number[] = [];
  /** Node of the class object (its CLASS DUMP), -1 before it. */
  readonly node: number[] = [];
  /** Own instance fields: their types, and name ids. */
  readonly ownTypes: (Uint8Array | null)[] = [];
  readonly ownNameHi: (Uint32Array | null)[] = [];
  readonly ownNameLo: (Uint32Array | null)[] = [];
  private readonly refs: (ClassRefs | null | undefined)[] = [];
  private readonly index = new SeededIdMap(1024);
  private readonly cacheHi = new Int32Array(CACHE);
  private readonly cacheLo = new Int32Array(CACHE);
  private readonly cacheRow = new Int32Array(CACHE).fill(-1);

  constructor(private readonly idSize: number) {
    for (let t = 4; t <= 11; t++) this.add(0, 0);
  }

  get size(): number {
    return this.idHi.length;
  }

  private add(hi: number, lo: number): number {
    const row = this.idHi.length;
    this.idHi.push(hi);
    this.idLo.push(lo);
    this.nameHi.push(0);
    this.nameLo.push(0);
    this.superHi.push(0);
    this.superLo.push(0);
    this.loaderHi.push(0);
    this.loaderLo.push(0);
    this.instanceSize.push(-1);
    this.node.push(-1);
    this.ownTypes.push(null);
    this.ownNameHi.push(null);
    this.ownNameLo.push(null);
    this.refs.push(undefined);
    return row;
  }

  /** The row of class (hi, lo), made if new. */
  row(hi: number, lo: number): number {
    const slot = ((lo >>> 3) ^ (lo >>> 15) ^ hi) & (CACHE - 1);
    if (this.cacheLo[slot] === (lo | 0) && this.cacheHi[slot] === (hi | 0) && this.cacheRow[slot] >= 0) return this.cacheRow[slot];
    let row = this.index.get(hi, lo);
    if (row < 0) {
      row = this.add(hi >>> 0, lo >>> 0);
      this.index.set(hi, lo, row);
    }
    this.cacheHi[slot] = hi | 0;
    this.cacheLo[slot] = lo | 0;
    this.cacheRow[slot] = row;
    return row;
  }

  /** The row of class (hi, lo), or -1 (no new row). */
  find(hi: number, lo: number): number {
    return this.index.get(hi, lo);
  }

  /**
   * A CLASS DUMP at buf[p] (`total` bytes): the row's super, loader, instance size and own fields.
   * Calls `ref(hi, lo)` for the class's outgoing references: super class, loader, static references.
   * Returns the row.
   */
  classDump(buf: Buffer, p: number, total: number, ref: (hi: number, lo: number) => void): number {
    const id = this.idSize;
    const rd = (at: number) => (id === 8 ? [buf.readUInt32BE(at), buf.readUInt32BE(at + 4)] : [0, buf.readUInt32BE(at)]);
    const [hi, lo] = rd(p + 1);
    const row = this.row(hi, lo);
    let q = p + 1 + id + 4;
    const [sHi, sLo] = rd(q);
    const [lHi, lLo] = rd(q + id);
    q += 6 * id;
    this.superHi[row] = sHi;
    this.superLo[row] = sLo;
    this.loaderHi[row] = lHi;
    this.loaderLo[row] = lLo;
    this.instanceSize[row] = buf.readUInt32BE(q);
    this.refs[row] = undefined; // a second dump of the same class replaces the first
    q += 4;
    if (sHi !== 0 || sLo !== 0) ref(sHi, sLo);
    if (lHi !== 0 || lLo !== 0) ref(lHi, lLo);
    const cp = buf.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < cp; i++) q += 3 + basicTypeSize(buf[q + 2], id);
    const statics = buf.readUInt16BE(q);
    q += 2;
    for (let i = 0; i < statics; i++) {
      const type = buf[q + id];
      if (type === 2) {
        const [vHi, vLo] = rd(q + id + 1);
        if (vHi !== 0 || vLo !== 0) ref(vHi, vLo);
      }
      q += id + 1 + basicTypeSize(type, id);
    }
    const fields = Math.min(buf.readUInt16BE(q), Math.floor((p + total - q - 2) / (id + 1)));
    q += 2;
    const types = new Uint8Array(fields);
    const nHi = new Uint32Array(fields);
    const nLo = new Uint32Array(fields);
    for (let i = 0; i < fields; i++, q += id + 1) {
      [nHi[i], nLo[i]] = rd(q);
      types[i] = buf[q + id];
    }
    this.ownTypes[row] = types;
    this.ownNameHi[row] = nHi;
    this.ownNameLo[row] = nLo;
    return row;
  }

  /**
   * Where an instance of `row` holds references: null while the class or one of its super classes has
   * not been dumped yet (the dump's order; HotSpot dumps every class before any instance).
   */
  refsOf(row: number): ClassRefs | null {
    const known = this.refs[row];
    if (known !== undefined) return known;
    const offsets: number[] = [];
    const names: number[] = [];
    let base = 0;
    let r = row;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const types = this.ownTypes[r];
      if (types === null) return null; // not dumped (yet): do not cache
      const nHi = this.ownNameHi[r]!;
      const nLo = this.ownNameLo[r]!;
      for (let i = 0; i < types.length; i++) {
        if (types[i] === 2) {
          offsets.push(base);
          names.push(nHi[i], nLo[i]);
        }
        base += basicTypeSize(types[i], this.idSize);
      }
      if (this.superHi[r] === 0 && this.superLo[r] === 0) break;
      const s = this.find(this.superHi[r], this.superLo[r]);
      if (s < 0) return null;
      r = s;
    }
    const out: ClassRefs = {
      offsets: Int32Array.from(offsets),
      nameHi: Uint32Array.from(names.filter((_, i) => i % 2 === 0)),
      nameLo: Uint32Array.from(names.filter((_, i) => i % 2 === 1)),
      span: offsets.length === 0 ? 0 : offsets[offsets.length - 1] + this.idSize,
    };
    this.refs[row] = out;
    return out;
  }

  /** Whether `row` is `ancestor` or inherits from it (bounded walk). */
  extends(row: number, ancestor: number): boolean {
    let r = row;
    for (let depth = 0; depth < MAX_DEPTH && r >= 0; depth++) {
      if (r === ancestor) return true;
      if (this.superHi[r] === 0 && this.superLo[r] === 0) return false;
      r = this.find(this.superHi[r], this.superLo[r]);
    }
    return false;
  }
}
