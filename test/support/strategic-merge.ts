/**
 * A small strategic-merge-patch applier for the tests (what `kubectl patch --type strategic` does to the fields a
 * collected pod template touches), written apart from the code that makes the patch. Merge keys are the
 * `patchMergeKey` tags of the Kubernetes API types (k8s.io/api/core/v1/types.go): containers, initContainers,
 * ephemeralContainers, volumes and env by `name`, volumeMounts by `mountPath`. Maps merge recursively; a list
 * with a merge key merges element by element (new elements are appended in patch order); other lists and
 * scalars are replaced; `null` deletes. Directives ($patch, $retainKeys, $setElementOrder) are not supported.
 */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
};

type Json = Record<string, unknown>;

function isMap(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeList(original: unknown[], patch: unknown[], key: string): unknown[] {
  const out = [...original];
  for (const item of patch) {
    if (!isMap(item) || typeof item[key] !== 'string') throw new Error(`strategic-merge: element without merge key ${key}: ${JSON.stringify(item)}`);
    const i = out.findIndex((o) => isMap(o) && o[key] === item[key]);
    if (i < 0) out.push(merge({}, item));
    else out[i] = merge(out[i] as Json, item);
  }
  return out;
}

/** `original` with `patch` applied (a new object; the arguments are not changed). */
export function strategicMerge<T>(original: T, patch: Json): T {
  return merge(original as unknown as Json, patch) as unknown as T;
}

function merge(original: Json, patch: Json): Json {
  if (Object.keys(patch).some((k) => k.startsWith('$'))) throw new Error('strategic-merge: directives are not supported');
  const out: Json = { ...original };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (Array.isArray(v) && MERGE_KEYS[k] !== undefined) out[k] = mergeList(Array.isArray(out[k]) ? (out[k] as unknown[]) : [], v, MERGE_KEYS[k]);
    else if (isMap(v) && isMap(out[k])) out[k] = merge(out[k] as Json, v);
    else if (isMap(v)) out[k] = merge({}, v);
    else out[k] = structuredClone(v);
  }
  return out;
}
