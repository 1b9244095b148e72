/**
 * Server-side encryption: what the uploader asks S3 for on every object it writes, and whether a stored
 * object is encrypted that way (the verifying HEAD and the "already there" check use the same rule).
 *
 * A server may accept the request headers and store the object in clear anyway: Ceph RGW 16 answers
 * 200 to `x-amz-server-side-encryption: AES256` and stores plain bytes (SSE-S3 came in Ceph 18), and a
 * proxy may drop headers. Only the HEAD tells, so only the HEAD decides.
 */
import type { ENCRYPTION_MODES } from '../settings/table';

export type EncryptionMode = (typeof ENCRYPTION_MODES)[number];

export type ObjectEncryption =
  | { readonly mode: 'none' }
  | { readonly mode: 'SSE-S3' }
  /** `kmsKeyId` absent: the service's default key (AWS: aws/s3), any KMS key is accepted. */
  | { readonly mode: 'SSE-KMS'; readonly kmsKeyId?: string };

export const NO_ENCRYPTION: ObjectEncryption = { mode: 'none' };

/** What a HEAD says about an object's encryption (the SDK's fields, absent when the server sent none). */
export interface StoredEncryption {
  /** x-amz-server-side-encryption: `AES256`, `aws:kms`, `aws:kms:dsse`. */
  readonly algorithm?: string;
  /** x-amz-server-side-encryption-aws-kms-key-id: AWS answers with the key's ARN. */
  readonly kmsKeyId?: string;
}

/** The request fields (PutObject, CreateMultipartUpload) that ask for `enc`. */
export function sseRequestFields(enc: ObjectEncryption): { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string } {
  switch (enc.mode) {
    case 'none':
      return {};
    case 'SSE-S3':
      return { ServerSideEncryption: 'AES256' };
    case 'SSE-KMS':
      return { ServerSideEncryption: 'aws:kms', ...(enc.kmsKeyId !== undefined ? { SSEKMSKeyId: enc.kmsKeyId } : {}) };
  }
}

/** Whether the configured key can be compared with what a HEAD names: an alias cannot (S3 answers with the key ARN). */
export function kmsKeyCheckable(kmsKeyId: string): boolean {
  return !/^alias\//.test(kmsKeyId) && !/^arn:[^:]+:kms:[^:]*:[^:]*:alias\//.test(kmsKeyId);
}

/**
 * Whether the key a HEAD names is the configured one: the same string, or the configured key id is the
 * last part of the key ARN the HEAD gives (`arn:aws:kms:<region>:<account>:key/<id>`).
 */
function sameKmsKey(wanted: string, stored: string): boolean {
  if (wanted === stored) return true;
  const m = /^arn:[^:]+:kms:[^:]*:[^:]*:key\/(.+)$/.exec(stored);
  return m !== null && m[1] === wanted;
}

/** How a HEAD's encryption reads in a message, e.g. `aws:kms (key testkey-2)` or `none`. */
export function describeStored(s: StoredEncryption): string {
  if (s.algorithm === undefined) return 'none';
  return s.kmsKeyId !== undefined ? `${s.algorithm} (key ${s.kmsKeyId})` : s.algorithm;
}

export function describeWanted(enc: ObjectEncryption): string {
  if (enc.mode === 'SSE-KMS' && enc.kmsKeyId !== undefined) return `SSE-KMS (key ${enc.kmsKeyId})`;
  return enc.mode;
}

/**
 * Why a stored object is not encrypted as `enc` asks, or undefined when it is. `none` accepts anything
 * (the bucket's default applies). SSE-S3 wants exactly AES256 (an explicit request wins over a bucket's
 * KMS default, so anything else means the request was not honoured); SSE-KMS wants aws:kms and, when a
 * checkable key is configured, that key.
 */
export function encryptionMismatch(stored: StoredEncryption, enc: ObjectEncryption): string | undefined {
  switch (enc.mode) {
    case 'none':
      return undefined;
    case 'SSE-S3':
      return stored.algorithm === 'AES256' ? undefined : `stored as ${describeStored(stored)}, not SSE-S3 (AES256)`;
    case 'SSE-KMS': {
      if (stored.algorithm !== 'aws:kms') return `stored as ${describeStored(stored)}, not ${describeWanted(enc)}`;
      if (enc.kmsKeyId === undefined || !kmsKeyCheckable(enc.kmsKeyId)) return undefined;
      if (stored.kmsKeyId !== undefined && sameKmsKey(enc.kmsKeyId, stored.kmsKeyId)) return undefined;
      return `stored as ${describeStored(stored)}, not ${describeWanted(enc)}`;
    }
  }
}

/**
 * Whether the object's ETag can be an MD5 of its bytes: not with SSE-KMS (AWS documents that the ETag of
 * an SSE-KMS or SSE-C object is not an MD5 of the data), so ETag checks are skipped for such objects.
 */
export function etagIsMd5Form(stored: StoredEncryption): boolean {
  return stored.algorithm === undefined || stored.algorithm === 'AES256';
}
