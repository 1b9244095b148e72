/**
 * A small, strict RFC 6902 applier for the tests, written apart from the webhook's patch generator so
 * that a patch is checked by code that did not make it. Strict like the API server's (evanphx/json-patch):
 * `replace` and `remove` need an existing target, `add` needs an existing parent; pointers per RFC 6901.
 */
export interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

type Container = Record<string, unknown> | unknown[];

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`json-patch: pointer "${pointer}" does not start with /`);
  return pointer.slice(1).split('/').map((t) => {
    if (/~[^01]|~$/.test(t)) throw new Error(`json-patch: bad escape in "${pointer}"`);
    return t.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

function isContainer(v: unknown): v is Container {
  return v !== null && typeof v === 'object';
}

function parentOf(doc: unknown, pointer: string): { parent: Container; key: string } {
  const path = tokens(pointer);
  if (path.length === 0) throw new Error('json-patch: the root has no parent');
  let node: unknown = doc;
  for (const t of path.slice(0, -1)) {
    if (!isContainer(node)) throw new Error(`json-patch: ${pointer}: "${t}" is below a scalar`);
    node = Array.isArray(node) ? node[index(node, t, false)] : (node as Record<string, unknown>)[t];
    if (node === undefined) throw new Error(`json-patch: ${pointer}: parent does not exist`);
  }
  if (!isContainer(node)) throw new Error(`json-patch: ${pointer}: parent is a scalar`);
  return { parent: node, key: path[path.length - 1] };
}

function index(arr: unknown[], token: string, forAdd: boolean): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`json-patch: "${token}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`json-patch: index ${i} out of bounds`);
  return i;
}

function has(parent: Container, key: string): boolean {
  return Array.isArray(parent) ? /^(0|[1-9]\d*)$/.test(key) && Number(key) < parent.length : Object.prototype.hasOwnProperty.call(parent, key);
}

/** Applies `ops` to a deep copy of `doc` and returns it; throws on the first invalid operation. */
export function applyPatch<T>(doc: T, ops: readonly Operation[]): T {
  let root: unknown = structuredClone(doc);
  for (const o of ops) {
    if (o.op === 'test' || o.op === 'move' || o.op === 'copy') throw new Error(`json-patch: op ${o.op} not expected from the webhook`);
    if (o.path === '') {
      if (o.op === 'remove') throw new Error('json-patch: cannot remove the root');
      root = structuredClone(o.value);
      continue;
    }
    const { parent, key } = parentOf(root, o.path);
    switch (o.op) {
      case 'add':
        if (!('value' in o)) throw new Error(`json-patch: add ${o.path} without value`);
        if (Array.isArray(parent)) parent.splice(index(parent, key, true), 0, structuredClone(o.value));
        else (parent as Record<string, unknown>)[key] = structuredClone(o.value);
        break;
      case 'replace':
        if (!('value' in o)) throw new Error(`json-patch: replace ${o.path} without value`);
        if (!has(parent, key)) throw new Error(`json-patch: replace ${o.path}: target does not exist`);
        if (Array.isArray(parent)) parent[Number(key)] = structuredClone(o.value);
        else (parent as Record<string, unknown>)[key] = structuredClone(o.value);
        break;
      case 'remove':
        if (!has(parent, key)) throw new Error(`json-patch: remove ${o.path}: target does not exist`);
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete (parent as Record<string, unknown>)[key];
        break;
      default:
        throw new Error(`json-patch: unknown op "${o.op}"`);
    }
  }
  return root as T;
}
