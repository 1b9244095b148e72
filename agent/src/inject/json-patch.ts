/**
 * (original, mutated) -> RFC 6902 operations the API server applies to the object it sent.
 *
 * Objects (maps) are compared key by key, so a new label or annotation is one `add` on its own key
 * (escaped per RFC 6901: `~` -> `~0`, `/` -> `~1`, e.g. `/metadata/labels/heapdump-pipeline.io~1collected`);
 * arrays are never diffed element-wise: a changed array (containers, initContainers, volumes, env) is
 * one `replace` of the whole array, which is valid whatever happened inside it and cannot address a
 * wrong index. Pure, no dependencies: it runs inside the webhook and in the constructs.
 */

export type JsonPatchOp =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 6901 reference token. */
export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Structural equality of JSON values; `undefined` members count as absent (as in JSON). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The operations that turn `original` into `mutated` ([] when they are equal). */
export function createPatch(original: unknown, mutated: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  diff(original, mutated, '', ops);
  return ops;
}

function diff(a: unknown, b: unknown, path: string, ops: JsonPatchOp[]): void {
  if (jsonEqual(a, b)) return;
  if (!isObject(a) || !isObject(b)) {
    ops.push({ op: 'replace', path, value: b });
    return;
  }
  for (const key of Object.keys(a)) {
    if (a[key] !== undefined && b[key] === undefined) ops.push({ op: 'remove', path: `${path}/${escapePointer(key)}` });
  }
  for (const key of Object.keys(b)) {
    if (b[key] === undefined) continue;
    const p = `${path}/${escapePointer(key)}`;
    if (a[key] === undefined) ops.push({ op: 'add', path: p, value: b[key] });
    else diff(a[key], b[key], p, ops);
  }
}
