/**
 * Thread names, found in one pass: java.lang.Thread instance -> its `name` String -> the String's
 * value array. HotSpot writes the ROOT THREAD OBJECT records after all objects, so every Thread
 * instance's name reference is noted (bounded); a String is read only if a Thread seen earlier points
 * at it, and an array only if such a String points at it. Objects are usually written in address
 * order and a thread's name is usually allocated after the Thread (the constructor runs after `new`),
 * so this finds most names; a name written before its Thread is missed (best effort: the summary then
 * shows the thread's serial number instead).
 */
import { IdTable } from './id-table';

/** Size of the filters the fast loop checks before a hash lookup. */
const FILTER_SIZE = 65536;
export const FILTER_MASK = FILTER_SIZE - 1;
/** Filter slot of an identifier (its low half; identifiers are 8-byte aligned addresses). */
const filterSlot = (lo: number): number => (lo >>> 3) & FILTER_MASK;
const EMPTY = new Uint8Array(0);

export class ThreadNames {
  private readonly objects = new IdTable(16);
  private readonly strings = new IdTable(16);
  private readonly arrays = new IdTable(16);
  private readonly stringSeen: boolean[] = [];
  private readonly stringIds: Array<readonly [number, number]> = [];
  private readonly arrayIds: Array<readonly [number, number] | null> = [];
  private readonly coder: number[] = [];
  private readonly text: (string | null)[] = [];
  /** Strings wanted and not seen yet (String instances are only looked up while > 0). */
  pendingStrings = 0;
  /** Value arrays wanted and not seen yet. */
  pendingArrays = 0;
  /** Thread objects not tracked (cap reached). */
  dropped = 0;
  /**
   * Non-zero where a wanted String's id may fall (false positives possible, no false negatives);
   * allocated when the first name is wanted (the fast loop reads it only while names are pending).
   */
  stringFilter = EMPTY;
  /** Likewise for wanted value arrays. */
  arrayFilter = EMPTY;

  /**
   * @param maxThreadObjects Thread instances tracked
   * @param maxNameChars characters kept of a name
   */
  constructor(
    private readonly maxThreadObjects: number,
    private readonly maxNameChars: number,
  ) {}

  /** A Thread instance `(objHi, objLo)` whose `name` field is `(strHi, strLo)`. */
  threadObject(objHi: number, objLo: number, strHi: number, strLo: number): void {
    if (strHi === 0 && strLo === 0) return; // null name
    if (this.objects.size >= this.maxThreadObjects) {
      this.dropped++;
      return;
    }
    let slot = this.strings.get(strHi, strLo);
    if (slot < 0) {
      slot = this.text.length;
      this.strings.set(strHi, strLo, slot);
      this.stringSeen.push(false);
      this.stringIds.push([strHi, strLo]);
      this.arrayIds.push(null);
      this.coder.push(0);
      this.text.push(null);
      this.pendingStrings++;
      if (this.stringFilter === EMPTY) this.stringFilter = new Uint8Array(FILTER_SIZE);
      this.stringFilter[filterSlot(strLo)] = 1;
    }
    this.objects.set(objHi, objLo, slot);
  }

  /** Slot of String `(hi, lo)` if it is a wanted name not seen yet, else -1. */
  wantedString(hi: number, lo: number): number {
    const slot = this.strings.get(hi, lo);
    return slot >= 0 && !this.stringSeen[slot] ? slot : -1;
  }

  /** The String in `slot` has value array `(hi, lo)` and coder (0 Latin-1, 1 UTF-16; -1 none: JDK 8). */
  stringValue(slot: number, hi: number, lo: number, coder: number): void {
    this.stringSeen[slot] = true;
    this.pendingStrings--;
    this.coder[slot] = coder;
    this.arrayIds[slot] = [hi, lo];
    if ((hi !== 0 || lo !== 0) && this.arrays.get(hi, lo) < 0) {
      this.arrays.set(hi, lo, slot);
      this.pendingArrays++;
      if (this.arrayFilter === EMPTY) this.arrayFilter = new Uint8Array(FILTER_SIZE);
      this.arrayFilter[filterSlot(lo)] = 1;
    }
  }

  /** Slot whose value array is `(hi, lo)` and not read yet, else -1. */
  wantedArray(hi: number, lo: number): number {
    const slot = this.arrays.get(hi, lo);
    return slot >= 0 && this.text[slot] === null ? slot : -1;
  }

  /** Bytes to read of a wanted array of `length` elements of `elementSize` bytes. */
  arrayBytes(length: number, elementSize: number): number {
    // byte[] may hold UTF-16 (2 bytes a character)
    return elementSize === 1 ? Math.min(length, 2 * this.maxNameChars) : Math.min(length, this.maxNameChars) * elementSize;
  }

  /** The first bytes of the wanted value array of `slot` (type 8 byte[] or 5 char[]). */
  arrayContent(slot: number, buf: Buffer, pos: number, length: number, type: number): void {
    const bytes = Buffer.from(buf.subarray(pos, pos + length));
    let s: string;
    if (type === 5) {
      // char[] (JDK 8 strings): the dump writes chars big-endian
      s = bytes.subarray(0, bytes.length & ~1).swap16().toString('utf16le');
    } else if (this.coder[slot] === 1) {
      // compact strings, UTF-16 coder: the JVM's byte order (little-endian on x86-64 and aarch64)
      s = bytes.toString('utf16le', 0, bytes.length & ~1);
    } else {
      s = bytes.toString('latin1');
    }
    this.text[slot] = s.slice(0, this.maxNameChars);
    this.pendingArrays--;
  }

  /**
   * What is missing for the name of Thread object `(hi, lo)`: the Thread itself (never seen), its
   * name String, or the String's value array; null when the name is known (or cannot be had).
   */
  missing(hi: number, lo: number): { readonly object: 'thread' | 'string' | 'array'; readonly id: readonly [number, number]; readonly slot: number } | null {
    const slot = this.objects.get(hi, lo);
    if (slot < 0) return this.objects.size < this.maxThreadObjects ? { object: 'thread', id: [hi, lo], slot: -1 } : null;
    if (this.text[slot] !== null) return null;
    if (!this.stringSeen[slot]) return { object: 'string', id: this.stringIds[slot], slot };
    const array = this.arrayIds[slot];
    return array && (array[0] !== 0 || array[1] !== 0) ? { object: 'array', id: array, slot } : null;
  }

  /** Bytes held (approximately: names counted at 2 bytes a character). */
  get bytes(): number {
    let text = 0;
    for (const t of this.text) text += t === null ? 0 : 2 * t.length;
    return this.objects.bytes + this.strings.bytes + this.arrays.bytes + this.stringFilter.length + this.arrayFilter.length + this.text.length * 48 + text;
  }

  /** Name of Thread object `(hi, lo)`, or null. */
  nameOf(hi: number, lo: number): string | null {
    const slot = this.objects.get(hi, lo);
    return slot >= 0 ? this.text[slot] : null;
  }
}
