/**
 * "A dump was uploaded": the report the uploader hands to the notifier once a dump is verified in
 * S3, and the short texts made from it (pure).
 *
 * The report carries names as they are (class names from the dump, the object key from a tenant's file
 * name): every text made here passes them through escapeText (agent/src/text/escape.ts), so a name with a
 * newline, an escape sequence or a bidi override is shown as one visible line and cannot fake a paragraph.
 */
import { escapeText } from '../text/escape';

/** One class of the triage summary: instances and their total shallow size. */
export interface ClassSize {
  /** Class name as the summary shows it (e.g. `byte[]`, `java.lang.String`). */
  readonly name: string;
  /** Total shallow size of the class's instances, bytes. */
  readonly shallowBytes: number;
  readonly instances: number;
}

/** What the uploader knows about a dump once it is verified in S3. */
export interface DumpReport {
  /** Namespace of the pod that wrote the dump. */
  readonly namespace: string;
  /** Name of the pod that wrote the dump. */
  readonly pod: string;
  /** Node the dump was written on. */
  readonly node: string;
  /** `s3://<bucket>/<key>` of the dump object. */
  readonly objectUri: string;
  /** The object key (the end of `objectUri`). */
  readonly key: string;
  /** Size of the object in S3, bytes. */
  readonly size: number;
  /** sha256 of the object, hex. */
  readonly sha256: string;
  /** False when the dump is truncated (its summary is partial). */
  readonly complete: boolean;
  /** Keys of the summary objects (`<key>.summary.json`, `<key>.summary.txt`); empty when none was written. */
  readonly summaryKeys: readonly string[];
  /**
   * Classes by shallow size, any number, any order: the texts take the three largest. Empty when the
   * dump was not analysed (e.g. an OpenJ9 `.phd`).
   */
  readonly topClasses: readonly ClassSize[];
  /** When the object was verified, ms since the epoch (from the uploader's Clock). */
  readonly uploadedAt: number;
  /** How the team gets it (`oc heapdump get -n <ns> <name>`, the web page), when the heapdumps API is deployed. */
  readonly retrieval?: RetrievalHint;
}

import type { RetrievalHint } from './retrieval-hint';

/** Event kinds a webhook can subscribe to. */
export const NOTIFICATION_EVENTS = ['dump-uploaded', 'incomplete-dump-uploaded', 'dump-analyzed'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export function eventOf(report: DumpReport): NotificationEvent {
  return report.complete ? 'dump-uploaded' : 'incomplete-dump-uploaded';
}

/** The `n` largest classes by shallow size (ties: more instances first, then by name). */
export function largestClasses(classes: readonly ClassSize[], n = 3): ClassSize[] {
  return [...classes]
    .sort((a, b) => b.shallowBytes - a.shallowBytes || b.instances - a.instances || a.name.localeCompare(b.name))
    .slice(0, n);
}

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1.2 GiB`, `512 bytes`: binary units, one decimal. */
export function formatBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** `12,345` (fixed locale, so texts do not depend on the container's). */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `s3://bucket/` + summaryKey, when the object URI ends with its key; otherwise the key alone. */
export function summaryUris(report: DumpReport): string[] {
  const base = report.objectUri.endsWith(report.key) ? report.objectUri.slice(0, report.objectUri.length - report.key.length) : undefined;
  return report.summaryKeys.map((k) => (base !== undefined ? base + k : k));
}

/** The human-readable summary (`.summary.txt`) if there is one, else the first summary. */
export function preferredSummaryUri(report: DumpReport): string | undefined {
  const uris = summaryUris(report);
  return uris.find((u) => u.endsWith('.txt')) ?? uris[0];
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts `s` to at most `maxBytes` UTF-8 bytes (never inside a character), marking the cut with `…`. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  const ellipsis = '…';
  let out = '';
  for (const ch of s) {
    if (utf8Length(out + ch) + utf8Length(ellipsis) > maxBytes) break;
    out += ch;
  }
  return out + ellipsis;
}

/** Keeps the start and the end of a long name (class names differ at both ends). */
function shorten(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  const head = Math.ceil((max - 1) / 2);
  return chars.slice(0, head).join('') + '…' + chars.slice(chars.length - (max - 1 - head)).join('');
}

function classesText(classes: readonly ClassSize[], nameMax?: number): string {
  if (classes.length === 0) return 'Top classes by shallow size: not available (dump not analysed).';
  // Shortened before it is escaped: an escape sequence is never cut in half.
  const parts = classes.map((c) => `${escapeText(nameMax ? shorten(c.name, nameMax) : c.name)} ${formatBytes(c.shallowBytes)} in ${formatCount(c.instances)} instances`);
  return `Top classes by shallow size: ${parts.join('; ')}.`;
}

/**
 * The one-paragraph message of the Kubernetes Event (`note`, at most `maxBytes` UTF-8 bytes: the API
 * server rejects longer notes). The full URI is always in the Event's annotations too, so when the
 * text must shrink, the summary pointer goes first, then class names are shortened, then the end is cut.
 */
export function eventNote(report: DumpReport, maxBytes = 1024): string {
  const uploaded = `${report.complete ? 'Heap dump' : 'Incomplete heap dump (the file ends early; its summary is partial)'} uploaded to ${escapeText(report.objectUri, maxBytes)} (${formatBytes(report.size)}).`;
  // The command comes right after the first sentence: it is what the team acts on (issue 22).
  const head = report.retrieval !== undefined ? `${uploaded} ${report.retrieval.text}.` : uploaded;
  const top = largestClasses(report.topClasses);
  const summary = preferredSummaryUri(report);
  const candidates = [
    [head, classesText(top), summary ? `Summary: ${escapeText(summary, maxBytes)}` : ''],
    [head, classesText(top)],
    [head, classesText(top, 48)],
  ].map((parts) => parts.filter((p) => p !== '').join(' '));
  return candidates.find((c) => utf8Length(c) <= maxBytes) ?? truncateUtf8(candidates[candidates.length - 1], maxBytes);
}
