/**
 * The in-memory index of the bucket: every dump below the prefix, by namespace and name, with what sits next
 * to it (summary, leak report). Refreshed by listing the bucket every API_INDEX_INTERVAL and, at most every
 * INDEX_MISS_REFRESH_MS, when someone asks for a name it does not know (the dump of an Event a minute old).
 * Lists and tables are answered from memory; S3 is asked again only to stream a dump or read a report.
 *
 * After each listing, dumps not seen before get one HEAD (their sha256, completeness, sizes) and changed leak
 * reports one GET (their headline), in the background, a few at a time; dumps are immutable, so that is once.
 */
import { LEAK_REPORT_SUFFIXES } from '../contract';
import { dumpName } from '../dump-name';
import type { Logger } from '../runtime/logger';
import type { DumpStore, ListedObject } from './dump-store';

export const SIDECARS = { summaryJson: '.summary.json', summaryText: '.summary.txt', leaksJson: '.leaks.json', leaksText: '.leaks.txt' } as const;
/** Objects next to a dump that are not dumps: its reports, and the leak analyzer's attempts marker. */
const SIDECAR_SUFFIXES = [...Object.values(SIDECARS), LEAK_REPORT_SUFFIXES.attempts];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Largest leak report read for its headline. */
export const MAX_REPORT_BYTES = 8 * 1024 * 1024;
const ENRICH_CONCURRENCY = 4;
/** A lookup of an unknown name lists the bucket again, at most this often. */
export const INDEX_MISS_REFRESH_MS = 2_000;

export interface DumpMeta {
  readonly sha256?: string;
  readonly complete?: boolean;
  readonly originalSize?: number;
  readonly modifiedAt?: string;
  /** `gzip` when the uploader compressed the dump (the stored bytes are gzip; sha256 is of the original). */
  readonly encodingApplied?: string;
}

export interface LeakInfo {
  readonly status: string;
  readonly headline: string | null;
  readonly reason?: string;
  /** Top suspect's class name and share, for the table and the web page. */
  readonly topSuspect?: { readonly className: string; readonly retainedPercent?: number };
}

export interface DumpRecord {
  readonly name: string;
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
  readonly key: string;
  readonly fileName: string;
  /** Stored bytes. */
  readonly size: number;
  /** When the upload finished (S3 LastModified), ms. */
  readonly uploadedAt: number;
  readonly etag: string;
  readonly summary: boolean;
  readonly leaksEtag?: string;
  meta?: DumpMeta;
  leaks?: LeakInfo & { readonly etag: string };
}

/** `<prefix><node>/<namespace>/<pod>/.../<file>` -> its parts, or undefined for anything else. */
export function parseDumpKey(prefix: string, key: string): { node: string; namespace: string; pod: string; fileName: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const s = key.slice(prefix.length).split('/');
  if (s.length < 4 || s.some((x) => x === '') || !DNS_LABEL.test(s[1])) return undefined;
  return { node: s[0], namespace: s[1], pod: s[2], fileName: s[s.length - 1] };
}

export function metaOf(metadata: Readonly<Record<string, string>>): DumpMeta {
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const originalSize = num(metadata['original-size']);
  return {
    ...(metadata.sha256 !== undefined && /^[0-9a-f]{64}$/.test(metadata.sha256) ? { sha256: metadata.sha256 } : {}),
    ...(metadata.complete !== undefined ? { complete: metadata.complete === 'true' } : {}),
    ...(originalSize !== undefined ? { originalSize } : {}),
    ...(metadata['modified-time'] !== undefined ? { modifiedAt: metadata['modified-time'] } : {}),
    ...(metadata['content-encoding-applied'] !== undefined ? { encodingApplied: metadata['content-encoding-applied'] } : {}),
  };
}

/** The fields of a leak report (schema heapdump-pipeline.io/leaks/v1) the API shows; tolerant of missing ones. */
export function leakInfoOf(report: unknown): LeakInfo {
  const r = (report ?? {}) as { status?: unknown; headline?: unknown; reason?: unknown; suspects?: unknown };
  const suspects = Array.isArray(r.suspects) ? r.suspects as Array<{ className?: unknown; retainedPercent?: unknown }> : [];
  const top = suspects[0];
  return {
    status: typeof r.status === 'string' ? r.status : 'unknown',
    headline: typeof r.headline === 'string' ? r.headline : null,
    ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
    ...(top !== undefined && typeof top.className === 'string'
      ? { topSuspect: { className: top.className, ...(typeof top.retainedPercent === 'number' ? { retainedPercent: top.retainedPercent } : {}) } }
      : {}),
  };
}

export class DumpIndex {
  private byNs = new Map<string, Map<string, DumpRecord>>();
  private lastRefresh = 0;
  private refreshing: Promise<void> | undefined;
  private enriching = false;
  /** Set after the first complete listing. */
  public ready = false;
  public lastError: string | undefined;
  public collisions = 0;

  public constructor(
    private readonly store: DumpStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  public namespaces(): string[] {
    return [...this.byNs.keys()].sort();
  }

  /** A namespace's dumps, newest first. */
  public list(namespace: string): DumpRecord[] {
    return [...(this.byNs.get(namespace)?.values() ?? [])].sort((a, b) => b.uploadedAt - a.uploadedAt || a.name.localeCompare(b.name));
  }

  public get(namespace: string, name: string): DumpRecord | undefined {
    return this.byNs.get(namespace)?.get(name);
  }

  public get size(): number {
    let n = 0;
    for (const m of this.byNs.values()) n += m.size;
    return n;
  }

  /** The record, listing the bucket again first when it is unknown and the last listing is old enough. */
  public async lookup(namespace: string, name: string, signal?: AbortSignal): Promise<DumpRecord | undefined> {
    const hit = this.get(namespace, name);
    if (hit !== undefined || this.now() - this.lastRefresh < INDEX_MISS_REFRESH_MS) return hit;
    await this.refresh(signal);
    return this.get(namespace, name);
  }

  /** Lists the bucket once (concurrent callers share the listing); throws the store's error. */
  public refresh(signal?: AbortSignal): Promise<void> {
    this.refreshing ??= this.doRefresh(signal).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(signal?: AbortSignal): Promise<void> {
    const started = this.now();
    const objects: ListedObject[] = [];
    try {
      for await (const page of this.store.list(signal)) objects.push(...page);
    } catch (error) {
      this.lastError = (error as Error).message;
      throw error;
    }
    const keys = new Map(objects.map((o) => [o.key, o]));
    const next = new Map<string, Map<string, DumpRecord>>();
    let collisions = 0;
    for (const o of objects) {
      if (SIDECAR_SUFFIXES.some((s) => o.key.endsWith(s))) continue;
      const parts = parseDumpKey(this.store.prefix, o.key);
      if (parts === undefined) continue;
      const name = dumpName(o.key);
      const old = this.get(parts.namespace, name);
      const leaks = keys.get(o.key + SIDECARS.leaksJson);
      const record: DumpRecord = {
        name, ...parts, key: o.key, size: o.size, uploadedAt: o.lastModified, etag: o.etag,
        summary: keys.has(o.key + SIDECARS.summaryJson),
        ...(leaks !== undefined ? { leaksEtag: leaks.etag } : {}),
      };
      if (old !== undefined && old.key === o.key && old.etag === o.etag) {
        record.meta = old.meta;
        if (old.leaks !== undefined && old.leaks.etag === record.leaksEtag) record.leaks = old.leaks;
      }
      let ns = next.get(parts.namespace);
      if (ns === undefined) next.set(parts.namespace, (ns = new Map()));
      const taken = ns.get(name);
      if (taken !== undefined) {
        // Two keys of one namespace whose hashes share 48 bits: keep the first (by key), say so.
        collisions++;
        this.logger.warn('two dumps have the same name: the second is not served', { namespace: parts.namespace, name, served: taken.key < o.key ? taken.key : o.key });
        if (taken.key < o.key) continue;
      }
      ns.set(name, record);
    }
    this.byNs = next;
    this.collisions = collisions;
    this.lastRefresh = this.now();
    this.lastError = undefined;
    this.ready = true;
    this.logger.debug('index refreshed', { objects: objects.length, dumps: this.size, ms: this.now() - started });
    void this.enrich(signal);
  }

  /** HEADs of new dumps and reads of changed leak reports, a few at a time; failures are retried next time. */
  private async enrich(signal?: AbortSignal): Promise<void> {
    if (this.enriching) return;
    this.enriching = true;
    try {
      const todo: Array<() => Promise<void>> = [];
      for (const ns of this.byNs.values()) {
        for (const r of ns.values()) {
          if (r.meta === undefined) todo.push(async () => void (r.meta = metaOf((await this.store.head(r.key, signal)).metadata)));
          if (r.leaksEtag !== undefined && r.leaks?.etag !== r.leaksEtag) {
            const etag = r.leaksEtag;
            todo.push(async () => {
              const text = (await this.store.small(r.key + SIDECARS.leaksJson, MAX_REPORT_BYTES, signal)).toString('utf8');
              let info: LeakInfo;
              try {
                info = leakInfoOf(JSON.parse(text));
              } catch {
                info = { status: 'unreadable', headline: null, reason: 'the leak report is not JSON' };
              }
              r.leaks = { ...info, etag };
            });
          }
        }
      }
      let next = 0;
      const worker = async () => {
        while (next < todo.length && signal?.aborted !== true) {
          const job = todo[next++];
          try {
            await job();
          } catch (error) {
            this.logger.debug('index detail not read', { error: error as Error });
          }
        }
      };
      await Promise.all(Array.from({ length: ENRICH_CONCURRENCY }, worker));
    } finally {
      this.enriching = false;
    }
  }

  /** Fills in a record's metadata now (a GET of one dump does not wait for the background pass). */
  public async ensureMeta(r: DumpRecord, signal?: AbortSignal): Promise<DumpMeta> {
    r.meta ??= metaOf((await this.store.head(r.key, signal)).metadata);
    return r.meta;
  }
}
