/** The pod tags (pure): valid Kubernetes names only, and the x-amz-tagging header's URL encoding. */
import { podTags, sameTags, taggingHeader } from '../../../agent/src/uploader/object-tags';

test('a namespace and a pod name become the two tags; the header is URL-encoded (the key\'s "/" as %2F)', () => {
  const tags = podTags('team-orders', 'orders-api-6f7c9d8b5-x7k2p');
  expect(tags).toEqual({ 'heapdump-pipeline.io/namespace': 'team-orders', 'heapdump-pipeline.io/pod': 'orders-api-6f7c9d8b5-x7k2p' });
  expect(taggingHeader(tags)).toBe('heapdump-pipeline.io%2Fnamespace=team-orders&heapdump-pipeline.io%2Fpod=orders-api-6f7c9d8b5-x7k2p');
});

test('a pod name with dots (a DNS subdomain) and the longest names still fit S3\'s 256-character values', () => {
  const ns = 'n'.repeat(63);
  const pod = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`; // 253 characters
  expect(pod).toHaveLength(253);
  expect(podTags(ns, pod)).toEqual({ 'heapdump-pipeline.io/namespace': ns, 'heapdump-pipeline.io/pod': pod });
  expect(podTags('web', 'a.b')).toEqual({ 'heapdump-pipeline.io/namespace': 'web', 'heapdump-pipeline.io/pod': 'a.b' });
});

test.each([
  ['a folder name that is no namespace', 'Team_A', 'pod-1', { 'heapdump-pipeline.io/pod': 'pod-1' }],
  ['a namespace with a dot', 'a.b', 'pod-1', { 'heapdump-pipeline.io/pod': 'pod-1' }],
  ['a crafted pod folder', 'shop', 'x&heapdump-pipeline.io/namespace=other', { 'heapdump-pipeline.io/namespace': 'shop' }],
  ['a pod name over 253 characters', 'shop', 'p'.repeat(254), { 'heapdump-pipeline.io/namespace': 'shop' }],
  ['percent-escaped bytes', '%FFns', 'p%0A', {}],
  ['a dump outside any pod folder', undefined, undefined, {}],
])('%s: only valid Kubernetes names become tags', (_what, ns, pod, want) => {
  expect(podTags(ns, pod)).toEqual(want);
});

test('no tags, no header', () => {
  expect(taggingHeader({})).toBeUndefined();
});

test('sameTags: exactly these keys and values, in any order', () => {
  const tags = { a: '1', b: '2' };
  expect(sameTags(tags, [{ Key: 'b', Value: '2' }, { Key: 'a', Value: '1' }])).toBe(true);
  expect(sameTags(tags, [{ Key: 'a', Value: '1' }])).toBe(false);
  expect(sameTags(tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '3' }])).toBe(false);
  expect(sameTags(tags, [])).toBe(false);
});
