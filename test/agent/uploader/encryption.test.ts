/**
 * The encryption rule (pure): which request fields each mode sends, and which stored encryption (as a HEAD
 * reports it) satisfies it. Expected values are written out by hand from S3's documented header values.
 */
import { encryptionMismatch, etagIsMd5Form, kmsKeyCheckable, sseRequestFields } from '../../../agent/src/uploader/encryption';

const ARN = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('request fields', () => {
  test.each([
    [{ mode: 'none' } as const, {}],
    [{ mode: 'SSE-S3' } as const, { ServerSideEncryption: 'AES256' }],
    [{ mode: 'SSE-KMS' } as const, { ServerSideEncryption: 'aws:kms' }],
    [{ mode: 'SSE-KMS', kmsKeyId: 'testkey-1' } as const, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'testkey-1' }],
  ])('%j -> %j', (enc, fields) => {
    expect(sseRequestFields(enc)).toEqual(fields);
  });
});

describe('stored encryption against the required one', () => {
  const ok: Array<[string, object, object]> = [
    ['none accepts a plain object', {}, { mode: 'none' }],
    ['none accepts an encrypted one', { algorithm: 'aws:kms', kmsKeyId: 'k' }, { mode: 'none' }],
    ['SSE-S3', { algorithm: 'AES256' }, { mode: 'SSE-S3' }],
    ['SSE-KMS without a key: any KMS key', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS' }],
    ['the same key name (Ceph RGW)', { algorithm: 'aws:kms', kmsKeyId: 'testkey-1' }, { mode: 'SSE-KMS', kmsKeyId: 'testkey-1' }],
    ['a key id against the ARN AWS answers with', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS', kmsKeyId: '1234abcd-12ab-34cd-56ef-1234567890ab' }],
    ['the ARN itself', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS', kmsKeyId: ARN }],
    ['an alias: only the mode can be checked', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS', kmsKeyId: 'alias/heap-dumps' }],
    ['an alias ARN likewise', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS', kmsKeyId: 'arn:aws:kms:eu-central-1:123456789012:alias/heap-dumps' }],
  ];
  test.each(ok)('%s', (_what, stored, enc) => {
    expect(encryptionMismatch(stored, enc as never)).toBeUndefined();
  });

  const refused: Array<[string, object, object, string]> = [
    ['SSE-S3 asked, plain stored (Ceph RGW 16 ignores AES256)', {}, { mode: 'SSE-S3' }, 'stored as none, not SSE-S3 (AES256)'],
    ['SSE-S3 asked, KMS stored', { algorithm: 'aws:kms', kmsKeyId: 'k' }, { mode: 'SSE-S3' }, 'stored as aws:kms (key k), not SSE-S3 (AES256)'],
    ['SSE-KMS asked, plain stored', {}, { mode: 'SSE-KMS', kmsKeyId: 'testkey-1' }, 'stored as none, not SSE-KMS (key testkey-1)'],
    ['SSE-KMS asked, SSE-S3 stored', { algorithm: 'AES256' }, { mode: 'SSE-KMS' }, 'stored as AES256, not SSE-KMS'],
    ['another KMS key', { algorithm: 'aws:kms', kmsKeyId: 'testkey-2' }, { mode: 'SSE-KMS', kmsKeyId: 'testkey-1' }, 'stored as aws:kms (key testkey-2), not SSE-KMS (key testkey-1)'],
    ['a key id that is only a suffix of the ARN\'s', { algorithm: 'aws:kms', kmsKeyId: ARN }, { mode: 'SSE-KMS', kmsKeyId: '1234567890ab' }, `stored as aws:kms (key ${ARN}), not SSE-KMS (key 1234567890ab)`],
    ['KMS without the key named', { algorithm: 'aws:kms' }, { mode: 'SSE-KMS', kmsKeyId: 'testkey-1' }, 'stored as aws:kms, not SSE-KMS (key testkey-1)'],
    ['dual-layer KMS is not what was asked', { algorithm: 'aws:kms:dsse', kmsKeyId: ARN }, { mode: 'SSE-KMS' }, `stored as aws:kms:dsse (key ${ARN}), not SSE-KMS`],
  ];
  test.each(refused)('%s', (_what, stored, enc, why) => {
    expect(encryptionMismatch(stored, enc as never)).toBe(why);
  });
});

test('aliases are not comparable with a HEAD\'s key; ids and ARNs are', () => {
  expect(kmsKeyCheckable('alias/x')).toBe(false);
  expect(kmsKeyCheckable('arn:aws:kms:us-east-1:123456789012:alias/x')).toBe(false);
  expect(kmsKeyCheckable('testkey-1')).toBe(true);
  expect(kmsKeyCheckable(ARN)).toBe(true);
});

test('an SSE-KMS object\'s ETag is no MD5 of its bytes; plain and SSE-S3 ones are', () => {
  expect(etagIsMd5Form({})).toBe(true);
  expect(etagIsMd5Form({ algorithm: 'AES256' })).toBe(true);
  expect(etagIsMd5Form({ algorithm: 'aws:kms', kmsKeyId: 'k' })).toBe(false);
});
