/** The webhook's JSONPatch: RFC 6902 operations, checked by an applier written apart from the generator. */
import { createPatch, escapePointer, jsonEqual } from '../../../agent/src/inject/json-patch';
import { applyPatch } from '../../support/json-patch';

describe('createPatch', () => {
  test('keys with ~ and / are escaped as ~0 and ~1', () => {
    expect(escapePointer('heapdump-pipeline.io/collected')).toBe('heapdump-pipeline.io~1collected');
    expect(escapePointer('a~b/c~1')).toBe('a~0b~1c~01');
    const before = { metadata: { labels: { app: 'x' } } };
    const after = { metadata: { labels: { app: 'x', 'heapdump-pipeline.io/collected': 'true', 'odd~key': '1' } } };
    const ops = createPatch(before, after);
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/labels/heapdump-pipeline.io~1collected', value: 'true' },
      { op: 'add', path: '/metadata/labels/odd~0key', value: '1' },
    ]);
    expect(applyPatch(before, ops)).toEqual(after);
  });

  test('a missing map is added whole; a changed array is replaced whole; a removed key is removed', () => {
    const before = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }], volumes: [{ name: 'v' }] }, status: {} };
    const after = { metadata: { name: 'p', annotations: { 'x/y': 'z' } }, spec: { containers: [{ name: 'a', env: [{ name: 'E', value: '1' }] }], volumes: [{ name: 'v' }], initContainers: [{ name: 'i' }] } };
    const ops = createPatch(before, after);
    expect(ops).toEqual([
      { op: 'remove', path: '/status' },
      { op: 'add', path: '/metadata/annotations', value: { 'x/y': 'z' } },
      { op: 'replace', path: '/spec/containers', value: [{ name: 'a', env: [{ name: 'E', value: '1' }] }] },
      { op: 'add', path: '/spec/initContainers', value: [{ name: 'i' }] },
    ]);
    expect(applyPatch(before, ops)).toEqual(after);
  });

  test('equal documents give no operations; undefined members count as absent', () => {
    expect(createPatch({ a: [1, { b: 2 }], c: undefined }, { a: [1, { b: 2 }] })).toEqual([]);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
  });

  test('property: applying createPatch(a, b) to a gives b, for random JSON documents', () => {
    let seed = 42;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const keys = ['a', 'b/c', 'd~e', 'metadata', 'spec', '0', ''];
    const gen = (depth: number): unknown => {
      const k = r();
      if (depth > 3 || k < 0.3) return [null, true, 1, 'x', 'y'][Math.floor(r() * 5)];
      if (k < 0.55) return Array.from({ length: Math.floor(r() * 3) }, () => gen(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [keys[Math.floor(r() * keys.length)], gen(depth + 1)]));
    };
    for (let i = 0; i < 500; i++) {
      const a = gen(0);
      const b = r() < 0.2 ? structuredClone(a) : gen(0);
      expect({ i, result: applyPatch(a, createPatch(a, b)) }).toEqual({ i, result: b });
    }
  });
});
