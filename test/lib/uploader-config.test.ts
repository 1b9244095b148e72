import { resolveUploaderSettings } from '../../lib/uploader-config';
import { PipelinePropsError } from '../../lib/validation';

const data = (s: Parameters<typeof resolveUploaderSettings>[0]) => resolveUploaderSettings(s).configData;

describe('resolveUploaderSettings: the ConfigMap data', () => {
  test('path-style addressing defaults to on with a custom endpoint and off for AWS, and can be overridden', () => {
    expect(data({}).S3_FORCE_PATH_STYLE).toBe('false');
    expect(data({ endpoint: 'http://127.0.0.1:9000' }).S3_FORCE_PATH_STYLE).toBe('true');
    expect(data({ endpoint: 'https://s3.example.com', forcePathStyle: false }).S3_FORCE_PATH_STYLE).toBe('false');
  });

  test('no endpoint key at all for AWS (an empty value would mean something else to the agent)', () => {
    expect(Object.keys(data({}))).not.toContain('S3_ENDPOINT_URL');
    expect(data({ endpoint: 'https://s3.example.com/' }).S3_ENDPOINT_URL).toBe('https://s3.example.com');
  });

  test('an empty prefix is allowed, a leading slash is not, a missing trailing slash is added (as the agent does)', () => {
    expect(data({ prefix: '' }).S3_PREFIX).toBe('');
    expect(data({ prefix: 'team-a' }).S3_PREFIX).toBe('team-a/');
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

  test('values are rendered as the agent parses them: seconds, booleans, comma-separated patterns, bytes', () => {
    const d = data({ watchIntervalSeconds: 15, completeQuietTimeSeconds: 0.5, gzip: true, patterns: ['*.hprof', '*.phd'], retentionMaxAgeSeconds: 86400, retentionMaxBytes: '10Gi' });
    expect([d.WATCH_INTERVAL, d.COMPLETE_QUIET_TIME, d.UPLOAD_GZIP, d.DUMP_PATTERNS, d.RETENTION_MAX_AGE, d.RETENTION_MAX_BYTES])
      .toEqual(['15', '0.5', 'true', '*.hprof,*.phd', '86400', String(10 * 2 ** 30)]);
  });

  test('archiving (the default), deletion or a retention limit means the uploader writes in the dump tree; only keep without limits does not', () => {
    expect(resolveUploaderSettings({}).removesLocalDumps).toBe(true);
    expect(resolveUploaderSettings({ afterUpload: 'delete' }).removesLocalDumps).toBe(true);
    const keep = { afterUpload: 'keep', retentionMaxAgeSeconds: 0, retentionMaxBytes: 0 } as const;
    expect(resolveUploaderSettings(keep).removesLocalDumps).toBe(false);
    expect(resolveUploaderSettings({ ...keep, retentionMaxAgeSeconds: 60 }).removesLocalDumps).toBe(true);
    expect(resolveUploaderSettings({ ...keep, retentionMaxBytes: '1Gi' }).removesLocalDumps).toBe(true);
  });
});
