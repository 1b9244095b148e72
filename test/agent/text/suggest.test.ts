/** The one "did you mean" rule for agent variables and config-file keys. */
import { editDistance, suggest } from '../../../agent/src/text/suggest';

test('edit distance: insertions, deletions, substitutions', () => {
  expect(editDistance('WATCH_INTERVALL', 'WATCH_INTERVAL')).toBe(1);
  expect(editDistance('bukcet', 'bucket')).toBe(2);
  expect(editDistance('', 'abc')).toBe(3);
  expect(editDistance('abc', 'abc')).toBe(0);
});

test.each([
  ['bukcet', ['bucket', 'prefix'], 'bucket'],
  ['agentimage', ['agentImage', 'platform'], 'agentImage'],
  ['AGENTIMAGE', ['agentImage'], 'agentImage'],
  ['uploaderr', ['uploader', 'app'], 'uploader'],
  ['S3_BUCKET_NAME', ['S3_BUCKET', 'S3_PREFIX'], 'S3_BUCKET'],
  ['tls', ['host', 'tlsSecretName'], 'tlsSecretName'],
  // the nearest wins; ties go to the first known name
  ['prefx', ['prefix', 'prefax'], 'prefix'],
  ['replica', ['replicas', 'resources'], 'replicas'],
])('%s -> %s', (name, known, expected) => {
  expect(suggest(name, known)).toBe(expected);
});

test.each([
  ['url', ['format', 'events', 'secretName', 'secretKey']],
  ['tolerances', ['nodeSelector', 'tolerations', 'affinity']],
  ['ab', ['abcdef']],
  ['bucket', ['bucket']],
])('%s: no suggestion', (name, known) => {
  expect(suggest(name, known)).toBeUndefined();
});
