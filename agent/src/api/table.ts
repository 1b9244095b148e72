/**
 * Server-side printing: the `meta.k8s.io` Table kubectl and oc ask for (`Accept: application/json;as=Table;
 * v=v1;g=meta.k8s.io`), so `oc get heapdumps` shows pod, node, size, age, completeness and the top leak
 * suspect without any client-side knowledge of the type. Cells that come from a dump go through escapeText.
 */
import { formatBytes } from '../report/report';
import { escapeText } from '../text/escape';
import type { DumpRecord } from './dump-index';
import { rfc3339, uidOf } from './resources';

export const TABLE_COLUMNS = [
  { name: 'Name', type: 'string', format: 'name', description: 'The dump\'s name: its pod, its time and a hash of its object key.', priority: 0 },
  { name: 'Pod', type: 'string', format: '', description: 'The pod that wrote the dump.', priority: 0 },
  { name: 'Node', type: 'string', format: '', description: 'The node the dump was written on.', priority: 0 },
  { name: 'Size', type: 'string', format: '', description: 'Bytes stored (binary units).', priority: 0 },
  { name: 'Age', type: 'string', format: '', description: 'Time since the upload finished.', priority: 0 },
  { name: 'Complete', type: 'string', format: '', description: 'Whether the dump file ends where an HPROF must (false: truncated).', priority: 0 },
  { name: 'Top Suspect', type: 'string', format: '', description: 'The leak report\'s top suspect (class and share of the heap), when there is a report.', priority: 0 },
  { name: 'Leak Report', type: 'string', format: '', description: 'analyzed, not-analyzed (with the reason in the object), or none yet.', priority: 1 },
  { name: 'Uploaded', type: 'string', format: 'date-time', description: 'When the upload finished (UTC).', priority: 1 },
] as const;

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration, as `kubectl get` prints ages. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** `com.acme.Cache (84 %)`, escaped and at most 60 characters of class name. */
export function topSuspectCell(r: DumpRecord): string {
  const t = r.leaks?.topSuspect;
  if (t !== undefined) return `${escapeText(t.className, 60)}${t.retainedPercent !== undefined ? ` (${Math.round(t.retainedPercent)} %)` : ''}`;
  if (r.leaks !== undefined) return r.leaks.status === 'analyzed' ? '<none>' : `<${escapeText(r.leaks.status, 20)}>`;
  return r.leaksEtag !== undefined ? '<pending>' : '<none>';
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function tableOf(records: readonly DumpRecord[], o: { now: number; tableVersion: 'v1' | 'v1beta1'; includeObject: IncludeObject; fullObject: (r: DumpRecord) => unknown }): unknown {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${o.tableVersion}`,
    metadata: { resourceVersion: '' },
    columnDefinitions: TABLE_COLUMNS,
    rows: records.map((r) => ({
      cells: [
        r.name, r.pod, r.node, formatBytes(r.size), humanDuration(o.now - r.uploadedAt),
        r.meta?.complete === undefined ? '<unknown>' : String(r.meta.complete),
        topSuspectCell(r),
        r.leaks?.status ?? (r.leaksEtag !== undefined ? 'pending' : 'none'),
        rfc3339(r.uploadedAt),
      ],
      ...(o.includeObject === 'None' ? {} : {
        object: o.includeObject === 'Object' ? o.fullObject(r) : {
          kind: 'PartialObjectMetadata',
          apiVersion: `meta.k8s.io/${o.tableVersion}`,
          metadata: { name: r.name, namespace: r.namespace, uid: uidOf(r.key), creationTimestamp: rfc3339(r.uploadedAt) },
        },
      }),
    })),
  };
}
