/**
 * The N largest objects seen: a bounded min-heap in typed arrays. `threshold` is the size an object
 * must exceed to enter, so the common case costs one comparison per object.
 */
export interface LargestObject {
  readonly size: number;
  readonly row: number;
  readonly idHi: number;
  readonly idLo: number;
  /** Array length, -1 for an instance. */
  readonly length: number;
  /** Order of arrival (ties keep the earlier object). */
  readonly seq: number;
}

export class LargestObjects {
  private readonly size: Float64Array;
  private readonly row: Int32Array;
  private readonly idHi: Uint32Array;
  private readonly idLo: Uint32Array;
  private readonly length: Float64Array;
  private readonly seq: Float64Array;
  private n = 0;
  private arrivals = 0;
  /** An object must be larger than this to be kept (-1 while not full). */
  threshold = -1;

  constructor(private readonly capacity: number) {
    this.size = new Float64Array(capacity);
    this.row = new Int32Array(capacity);
    this.idHi = new Uint32Array(capacity);
    this.idLo = new Uint32Array(capacity);
    this.length = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    if (capacity === 0) this.threshold = Infinity;
  }

  /** Offers an object larger than `threshold`. */
  offer(size: number, row: number, idHi: number, idLo: number, length: number): void {
    const seq = this.arrivals++;
    let i: number;
    if (this.n < this.capacity) {
      i = this.n++;
      // sift up
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (this.size[parent] <= size) break;
        this.move(parent, i);
        i = parent;
      }
    } else {
      // replace the root (the smallest) and sift down
      i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.n) break;
        const r = l + 1;
        const c = r < this.n && this.size[r] < this.size[l] ? r : l;
        if (this.size[c] >= size) break;
        this.move(c, i);
        i = c;
      }
    }
    this.size[i] = size;
    this.row[i] = row;
    this.idHi[i] = idHi;
    this.idLo[i] = idLo;
    this.length[i] = length;
    this.seq[i] = seq;
    if (this.n === this.capacity) this.threshold = this.size[0];
  }

  private move(from: number, to: number): void {
    this.size[to] = this.size[from];
    this.row[to] = this.row[from];
    this.idHi[to] = this.idHi[from];
    this.idLo[to] = this.idLo[from];
    this.length[to] = this.length[from];
    this.seq[to] = this.seq[from];
  }

  /** Largest first (equal sizes: earlier first). */
  sorted(): LargestObject[] {
    const out: LargestObject[] = [];
    for (let i = 0; i < this.n; i++) {
      out.push({ size: this.size[i], row: this.row[i], idHi: this.idHi[i], idLo: this.idLo[i], length: this.length[i], seq: this.seq[i] });
    }
    return out.sort((a, b) => b.size - a.size || a.seq - b.seq);
  }
}
