/**
 * HeapDump objects (`heapdump-pipeline.io/v1alpha1`, namespaced, read-only), as `oc get heapdump NAME -o yaml`
 * and `oc describe heapdump NAME` show them. `spec` is what the uploader recorded about the dump, `status`
 * what the analysis found. The object key is shown to whoever may read the dump (it names the node).
 */
import { createHash } from 'node:crypto';
import type { DumpMeta, DumpRecord } from './dump-index';
import { GROUP_VERSION, KIND, LIST_KIND, resourcePath, SUBRESOURCES, webDumpUrl } from './paths';

export interface HeapDumpObject {
  readonly apiVersion: typeof GROUP_VERSION;
  readonly kind: typeof KIND;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly creationTimestamp: string;
    readonly labels: Record<string, string>;
  };
  readonly spec: {
    readonly pod: string;
    readonly node: string;
    readonly fileName: string;
    readonly size: number;
    readonly sha256?: string;
    readonly complete?: boolean;
    readonly originalSize?: number;
    readonly modifiedAt?: string;
    readonly compression?: string;
    readonly bucket: string;
    readonly key: string;
  };
  readonly status: {
    readonly summary: { readonly available: boolean; readonly path?: string };
    readonly leaks: { readonly available: boolean; readonly status?: string; readonly headline?: string | null; readonly reason?: string; readonly path?: string };
    readonly download: { readonly path: string };
    readonly webUrl?: string;
  };
}

/** A stable UID from the key (RFC 4122 layout, version 8: hash-based). */
export function uidOf(key: string): string {
  const h = createHash('sha256').update(`heapdump:${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ObjectOptions {
  readonly bucket: string;
  readonly webUrl?: string;
}

export function heapDumpObject(r: DumpRecord, o: ObjectOptions, meta: DumpMeta | undefined = r.meta): HeapDumpObject {
  const ns = r.namespace;
  return {
    apiVersion: GROUP_VERSION,
    kind: KIND,
    metadata: {
      name: r.name,
      namespace: ns,
      uid: uidOf(r.key),
      creationTimestamp: rfc3339(r.uploadedAt),
      // Selectable with -l: pod and node (label values are at most 63 characters).
      labels: Object.fromEntries(([['heapdump-pipeline.io/pod', r.pod], ['heapdump-pipeline.io/node', r.node]] as const)
        .filter(([, v]) => /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v))),
    },
    spec: {
      pod: r.pod,
      node: r.node,
      fileName: r.fileName,
      size: r.size,
      ...(meta?.sha256 !== undefined ? { sha256: meta.sha256 } : {}),
      ...(meta?.complete !== undefined ? { complete: meta.complete } : {}),
      ...(meta?.originalSize !== undefined ? { originalSize: meta.originalSize } : {}),
      ...(meta?.modifiedAt !== undefined ? { modifiedAt: meta.modifiedAt } : {}),
      ...(meta?.encodingApplied !== undefined ? { compression: meta.encodingApplied } : {}),
      bucket: o.bucket,
      key: r.key,
    },
    status: {
      summary: { available: r.summary, ...(r.summary ? { path: resourcePath(ns, r.name, SUBRESOURCES.summary) } : {}) },
      leaks: r.leaksEtag === undefined ? { available: false } : {
        available: true,
        ...(r.leaks !== undefined ? { status: r.leaks.status, headline: r.leaks.headline, ...(r.leaks.reason !== undefined ? { reason: r.leaks.reason } : {}) } : {}),
        path: resourcePath(ns, r.name, SUBRESOURCES.leaks),
      },
      download: { path: resourcePath(ns, r.name, SUBRESOURCES.download) },
      ...(o.webUrl !== undefined ? { webUrl: webDumpUrl(o.webUrl, ns, r.name) } : {}),
    },
  };
}

export function heapDumpList(items: readonly HeapDumpObject[]): { apiVersion: string; kind: string; metadata: { resourceVersion: string }; items: readonly HeapDumpObject[] } {
  return { apiVersion: GROUP_VERSION, kind: LIST_KIND, metadata: { resourceVersion: '' }, items };
}
