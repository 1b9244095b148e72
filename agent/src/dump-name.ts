/**
 * The name of a dump as a Kubernetes object (`oc get heapdumps`, `oc heapdump get NAME`, the web page, the
 * Event's hint): derived from the object key alone, so the uploader, the API server, the Event and the docs
 * all compute the same name, it never changes, and it needs no state.
 *
 *   <prefix><node>/<namespace>/<pod>/java_pid1.2026-11-30T01-02-03.456Z.hprof
 *   -> orders-api-6f7c9d8b5-x7k2p.20261130-010203.3f9a1c0b5e2d
 *
 * - `<label>`: the folder that holds the file (in the pipeline's layout the pod), lower-cased, every character
 *   outside [a-z0-9-] (dots too, and whatever a key holds as %XX) made a `-`, runs of `-` collapsed, at most
 *   200 characters; `dump` when nothing is left. Readable only: uniqueness comes from the hash.
 * - `<stamp>`: the occurrence time the uploader put into the file name (the dump's mtime, UTC), when there is one.
 * - `<hash>`: the first 12 hex digits (48 bits) of the sha256 of the whole key (prefix included).
 *
 * The result is a DNS-1123 subdomain of at most 229 characters (a valid object name, safe in a URL path
 * segment, a shell word and a file name). Names are looked up per namespace, so two dumps of one namespace
 * would have to share a 48-bit prefix of their keys' hashes to collide (the index reports it if they do).
 */
import { createHash } from 'node:crypto';

const LABEL_MAX = 200;
const HASH_HEX = 12;
const STAMP = /(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.\d{3}Z/g;

/** What `dumpName` produces: label, optional stamp, hash (used to reject malformed names before any lookup). */
export const DUMP_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,198}[a-z0-9])?(\.\d{8}-\d{6})?\.[0-9a-f]{12}$/;

function label(raw: string): string {
  const cleaned = raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
  const cut = cleaned.slice(0, LABEL_MAX).replace(/-+$/, '');
  return cut === '' ? 'dump' : cut;
}

/** The last occurrence stamp in a file name, as `YYYYMMDD-hhmmss`. */
function stamp(fileName: string): string | undefined {
  const all = [...fileName.matchAll(STAMP)];
  const m = all[all.length - 1];
  return m === undefined ? undefined : `${m[1]}${m[2]}${m[3]}-${m[4]}${m[5]}${m[6]}`;
}

/** The stable object name of the dump stored under `key`. */
export function dumpName(key: string): string {
  const segments = key.split('/');
  const file = segments[segments.length - 1] ?? '';
  const folder = segments.length >= 2 ? segments[segments.length - 2] : '';
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, HASH_HEX);
  const when = stamp(file);
  return `${label(folder)}${when !== undefined ? `.${when}` : ''}.${hash}`;
}

/** True when `name` has the shape `dumpName` gives (anything else cannot name a dump: a 400, not a lookup). */
export function isDumpName(name: string): boolean {
  return DUMP_NAME_PATTERN.test(name);
}
