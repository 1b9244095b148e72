/**
 * A small cache of decisions (authorization, token reviews) that expire after a fixed time, bounded in size.
 * Loads of the same key that overlap share one call. Entries are never refreshed in place: once `ttlMs` has
 * passed, the next request asks again, which is what makes a revoked permission effective within `ttlMs`.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly expires: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  public constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  public get size(): number {
    return this.entries.size;
  }

  /** The cached value, or the loader's (cached when it resolves; a rejection is not cached). */
  public async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expires > this.now()) return hit.value;
    if (hit !== undefined) this.entries.delete(key);
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const p = load().then((value) => {
      if (this.ttlMs > 0) this.put(key, value);
      return value;
    }).finally(() => this.loading.delete(key));
    this.loading.set(key, p);
    return p;
  }

  private put(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries) {
      // Expired ones first; if none, the oldest (Map keeps insertion order).
      const t = this.now();
      for (const [k, e] of this.entries) if (e.expires <= t) this.entries.delete(k);
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
  }
}
