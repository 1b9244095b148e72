import { backoffDelay, classifyFailure } from '../../../agent/src/uploader/retry';

describe('backoffDelay', () => {
  const p = { baseMs: 500, capMs: 60_000 };
  it('is full jitter under an exponential ceiling, capped', () => {
    expect(backoffDelay(0, p, () => 0.999)).toBe(499);
    expect(backoffDelay(3, p, () => 0.5)).toBe(2000);
    expect(backoffDelay(50, p, () => 0.999)).toBe(59_940);
    expect(backoffDelay(5, p, () => 0)).toBe(0);
  });
});

describe('classifyFailure', () => {
  const s3err = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  it('credentials, permissions and a missing bucket are permanent, by cause', () => {
    expect(classifyFailure(s3err('InvalidAccessKeyId', 403))).toMatchObject({ kind: 'permanent', cause: 'InvalidAccessKeyId' });
    expect(classifyFailure(s3err('NoSuchBucket', 404))).toMatchObject({ kind: 'permanent', cause: 'NoSuchBucket' });
    expect(classifyFailure(s3err('Forbidden', 403))).toMatchObject({ kind: 'permanent', cause: 'AccessDenied' });
    expect(classifyFailure(s3err('NotFound', 404))).toMatchObject({ kind: 'permanent', cause: 'NoSuchBucket' });
  });
  it('network errors, 5xx and throttling are transient', () => {
    expect(classifyFailure(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).kind).toBe('transient');
    expect(classifyFailure(s3err('InternalError', 500)).kind).toBe('transient');
    expect(classifyFailure(s3err('SlowDown', 503)).kind).toBe('transient');
    expect(classifyFailure(Object.assign(new Error('t'), { name: 'TimeoutError' })).kind).toBe('transient');
  });
  it('an unreadable local file is a local problem (not an S3 one)', () => {
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'EACCES' }))).toMatchObject({ kind: 'local', cause: 'local EACCES' });
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'EPERM' })).kind).toBe('local');
  });
  it('a vanished local file is gone (nothing to retry)', () => {
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'ENOENT' })).kind).toBe('gone');
  });
});
