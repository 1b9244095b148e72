import { resolveUploaderSettings, uploaderConfigData } from '../../lib/uploader-config';
import { PipelinePropsError } from '../../lib/validation';

describe('resolveUploaderSettings / uploaderConfigData', () => {
  test('path-style addressing defaults to on with a custom endpoint and off for AWS, and can be overridden', () => {
    expect(uploaderConfigData(resolveUploaderSettings({})).S3_FORCE_PATH_STYLE).toBe('false');
    expect(uploaderConfigData(resolveUploaderSettings({ endpoint: 'http://127.0.0.1:9000' })).S3_FORCE_PATH_STYLE).toBe('true');
    expect(uploaderConfigData(resolveUploaderSettings({ endpoint: 'https://s3.example.com', forcePathStyle: false })).S3_FORCE_PATH_STYLE).toBe('false');
  });

  test('no endpoint key at all for AWS (an empty value would mean something else to the agent)', () => {
    expect(Object.keys(uploaderConfigData(resolveUploaderSettings({})))).not.toContain('S3_ENDPOINT_URL');
  });

  test('an empty prefix is allowed, a leading slash is not', () => {
    expect(uploaderConfigData(resolveUploaderSettings({ prefix: '' })).S3_PREFIX).toBe('');
    expect(() => resolveUploaderSettings({ prefix: '/dumps/' })).toThrow('Invalid prefix: "/dumps/" (expected an S3 key prefix');
  });

  test('patterns must be a non-empty list of globs without separators', () => {
    expect(() => resolveUploaderSettings({ patterns: [] })).toThrow(PipelinePropsError);
    expect(() => resolveUploaderSettings({ patterns: ['*.hprof,*.phd'] })).toThrow('Invalid patterns: ["*.hprof,*.phd"]');
    expect(() => resolveUploaderSettings({ patterns: ['dumps/*.hprof'] })).toThrow('Invalid patterns');
  });

  test('credentials: workload identity and static keys do not mix', () => {
    expect(() => resolveUploaderSettings({ credentials: { source: 'workload-identity', secretName: 's3' } }))
      .toThrow('Invalid credentials.source: "workload-identity" (expected "secret" when secretName or secretValues is set)');
    expect(() => resolveUploaderSettings({ credentials: { roleArn: 'arn:aws:iam::123456789012:role/r' } }))
      .toThrow('Invalid credentials.source: "secret" (expected "workload-identity" when roleArn or serviceAccountAnnotations is set)');
    expect(resolveUploaderSettings({ credentials: { source: 'workload-identity', serviceAccountAnnotations: { 'iam.gke.io/gcp-service-account': 'x@y.iam.gserviceaccount.com' } } }).credentials)
      .toEqual({ source: 'workload-identity', serviceAccountAnnotations: { 'iam.gke.io/gcp-service-account': 'x@y.iam.gserviceaccount.com' } });
  });

  test('values are rendered as the agent parses them: whole seconds, booleans, comma-separated patterns', () => {
    const data = uploaderConfigData(resolveUploaderSettings({ watchIntervalSeconds: 15, gzip: true, patterns: ['*.hprof', '*.phd'], retentionMaxAgeSeconds: 86400 }));
    expect([data.WATCH_INTERVAL, data.UPLOAD_GZIP, data.DUMP_PATTERNS, data.RETENTION_MAX_AGE]).toEqual(['15', 'true', '*.hprof,*.phd', '86400']);
  });
});
