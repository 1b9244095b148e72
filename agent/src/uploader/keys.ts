/**
 * Object keys and metadata for a dump (pure).
 *
 * key = prefix + node + '/' + path below the dump root, '/'-separated.
 * Linux file names are bytes; S3 keys are UTF-8. Valid UTF-8 (spaces, unicode) is kept as is; control
 * characters, bytes that are not valid UTF-8 and '%' itself are written as %XX. Because '%' is always
 * escaped, the mapping is injective: two different paths never give the same key.
 */

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Escapes one path segment (raw bytes of a file or directory name) into a key segment. */
export function encodeSegment(raw: Buffer): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const len = utf8SequenceLength(raw, i);
    if (len === 0) {
      out += pct(raw[i]);
      i += 1;
      continue;
    }
    const ch = raw.subarray(i, i + len).toString('utf8');
    out += ch === '%' || CONTROL.test(ch) ? pct(raw[i]) : ch;
    i += len;
  }
  return out;
}

function pct(byte: number): string {
  return '%' + byte.toString(16).toUpperCase().padStart(2, '0');
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 if the bytes there are not valid UTF-8. */
function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  let len: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [len, min] = [2, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [len, min] = [3, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [len, min] = [4, 0x10000];
  else return 0;
  if (i + len > b.length) return 0;
  let cp = c & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    const cc = b[i + k];
    if ((cc & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0; // overlong, out of range, surrogate
  return len;
}

/** The key of a dump: `segments` are the raw names from the root down to the file. */
export function objectKey(prefix: string, node: string, segments: readonly Buffer[]): string {
  return prefix + node + '/' + segments.map(encodeSegment).join('/');
}

/** The key prefix under which all of this node's objects (and multipart uploads) live. */
export function nodePrefix(prefix: string, node: string): string {
  return prefix + node + '/';
}

/** Known dump extensions, longest first: tags go before them. */
const EXTENSIONS = ['.hprof.gz', '.hprof', '.phd', '.gz'];

/** `dir/stem.ext` -> `dir/stem.<tag>.ext` (before the dump extension, or the last extension, or at the end). */
export function insertTag(key: string, tag: string): string {
  const slash = key.lastIndexOf('/');
  const dir = key.slice(0, slash + 1);
  const base = key.slice(slash + 1);
  const ext = EXTENSIONS.find((e) => base.length > e.length && base.endsWith(e));
  if (ext) return dir + base.slice(0, -ext.length) + '.' + tag + ext;
  const dot = base.lastIndexOf('.');
  if (dot > 0) return dir + base.slice(0, dot) + '.' + tag + base.slice(dot);
  return dir + base + '.' + tag;
}

/** Dates JavaScript can format (an mtime planted far outside is clamped, never a crash). */
const MAX_TIME_MS = 8.64e15;

/**
 * Which occurrence a dump is: its last modification time in UTC, as `2026-11-30T01-02-03.456Z`
 * (no colons: the name is also a local file name). A container that runs out of memory again
 * writes `java_pid1.hprof` again; its mtime differs, so every OOM gets its own key, and the same
 * file gives the same key after an uploader restart and after it was moved into the archive
 * (rename keeps the mtime).
 */
export function occurrenceStamp(mtimeMs: number): string {
  const ms = Number.isFinite(mtimeMs) ? Math.min(MAX_TIME_MS, Math.max(0, Math.floor(mtimeMs))) : 0;
  return new Date(ms).toISOString().replace(/:/g, '-');
}

/** The key of one occurrence of a dump: `<prefix><node>/<path below the root>` with the occurrence stamp before the extension. */
export function dumpKey(prefix: string, node: string, segments: readonly Buffer[], mtimeMs: number): string {
  return insertTag(objectKey(prefix, node, segments), occurrenceStamp(mtimeMs));
}

/**
 * The key used when the dump's key already holds *different* content (e.g. a file rewritten in place
 * with its mtime restored): the first 12 hex of the sha256 as a further tag. Derived from the content,
 * so a restart finds the same key again (idempotent) and another dump is never overwritten.
 */
export function contentSuffixedKey(key: string, sha256: string): string {
  return insertTag(key, sha256.slice(0, 12));
}

/**
 * Namespace and pod from the layout `<root>/<namespace>/<pod>/<file>` (the app mounts
 * `/mnt/dump/<namespace>` with subPathExpr `$(POD_NAME)`). Files higher up get what is known.
 */
export function podOf(segments: readonly Buffer[]): { namespace?: string; pod?: string } {
  const dirs = segments.slice(0, -1).map(encodeSegment);
  return { namespace: dirs[0], pod: dirs[1] };
}

/** HTTP header values (S3 user metadata) must be printable ASCII: anything else is percent-encoded. */
export function metadataValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
