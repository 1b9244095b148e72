import { ENV } from '../../agent/src/contract';
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';
import { configHash } from '../../lib/uploader';
import { container, envVar, find, ofKind, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

describe('Uploader', () => {
  const { objects } = synthPipeline({ agentImage: IMAGE });
  const ds = find(objects, 'DaemonSet', 'heap-dump-s3-uploader');
  const spec = podSpec(ds);
  const up = container(ds, 'uploader');
  const init = container(ds, 'heapdump-wait-ready');

  test('ConfigMap keeps the prototype keys and defaults and adds the new ones', () => {
    const cm = find(objects, 'ConfigMap', 's3-uploader-config');
    expect(cm.data).toEqual({
      S3_BUCKET: 'heap-dumps',
      S3_PREFIX: 'memory-leak-demo/',
      WATCH_INTERVAL: '60',
      FILE_STABLE_TIME: '120',
      COMPLETE_QUIET_TIME: '1',
      DUMP_PATTERNS: '*.hprof,*.hprof.gz,*.phd',
      AWS_DEFAULT_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'false',
      S3_STORAGE_CLASS: 'STANDARD',
      S3_CHECKSUM_MODE: 'WHEN_REQUIRED',
      UPLOAD_PART_SIZE_MB: '8',
      UPLOAD_CONCURRENCY: '4',
      UPLOAD_GZIP: 'false',
      UPLOAD_MULTIPART_THRESHOLD_MB: '1024',
      AFTER_UPLOAD: 'archive',
      UPLOAD_CHECKSUM: 'auto',
      DUMP_ANALYSIS: 'true',
      RETENTION_MAX_AGE: '604800',
      RETENTION_MAX_BYTES: '2147483648',
      S3_RETENTION_DAYS: '30',
      S3_OBJECT_TAGS: 'true',
      S3_SERVER_SIDE_ENCRYPTION: 'none',
      LOG_LEVEL: 'info',
      NOTIFY_KUBE_EVENTS: 'false',
      NOTIFY_MAX_ATTEMPTS: '5',
      NOTIFY_TIMEOUT: '10',
    });
  });

  test('the container gets the ConfigMap, the node name, and the keys from the Secret by reference', () => {
    expect(up.args).toEqual(['uploader']);
    expect(up.envFrom).toEqual([{ configMapRef: { name: 's3-uploader-config' } }]);
    expect(envVar(up, 'NODE_NAME').valueFrom).toEqual({ fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } });
    expect(envVar(up, 'DUMP_ROOT').value).toBe('/mnt/dump');
    expect(envVar(up, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef).toEqual({ name: 's3-credentials', key: 'AWS_ACCESS_KEY_ID', optional: false });
    expect(envVar(up, 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 's3-credentials', key: 'AWS_SECRET_ACCESS_KEY', optional: false });
    expect(envVar(up, 'AWS_DEFAULT_REGION').valueFrom.secretKeyRef.optional).toBe(true);
    expect(envVar(up, 'S3_ENDPOINT_URL').valueFrom.secretKeyRef.optional).toBe(true);
    // No Secret object: the user creates it, so applying dist/ can never overwrite it with placeholders.
    expect(ofKind(objects, 'Secret')).toEqual([]);
  });

  test('by default mounts /mnt/dump writable (verified dumps are archived) with HostToContainer propagation; DAC_READ_SEARCH + DAC_OVERRIDE only', () => {
    const mount = up.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/mnt/dump');
    expect(mount).toEqual({ name: 'host-dump', mountPath: '/mnt/dump', mountPropagation: 'HostToContainer', readOnly: false });
    expect(spec.volumes.find((v: { name: string }) => v.name === 'host-dump').hostPath).toEqual({ path: '/mnt/dump', type: 'Directory' });
    expect(up.securityContext).toEqual({
      runAsUser: 0, runAsNonRoot: false, privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['DAC_READ_SEARCH', 'DAC_OVERRIDE'] },
    });
    expect(spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  test('keep without retention: the mount is read-only and reading other UIDs\' dumps is all it may do', () => {
    const ro = synthPipeline({ agentImage: IMAGE, uploader: { afterUpload: 'keep', retentionMaxAgeSeconds: 0, retentionMaxBytes: 0 } }).objects;
    const c = container(find(ro, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    expect(c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/mnt/dump').readOnly).toBe(true);
    expect(c.securityContext.capabilities.add).toEqual(['DAC_READ_SEARCH']);
    expect(find(ro, 'SecurityContextConstraints', 'heap-dump-uploader').allowedCapabilities).toEqual(['DAC_READ_SEARCH']);
    expect(find(ro, 'ConfigMap', 's3-uploader-config').data.AFTER_UPLOAD).toBe('keep');
  });

  test.each([
    ['a retention age', { afterUpload: 'keep' as const, retentionMaxAgeSeconds: 86_400, retentionMaxBytes: 0 }],
    ['a retention size', { afterUpload: 'keep' as const, retentionMaxAgeSeconds: 0, retentionMaxBytes: 10 * 1024 ** 3 }],
    ['deletion', { afterUpload: 'delete' as const }],
  ])('%s also makes the mount writable and adds exactly DAC_OVERRIDE', (_n, uploader) => {
    const objs = synthPipeline({ agentImage: IMAGE, uploader }).objects;
    const c = container(find(objs, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    expect(c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/mnt/dump').readOnly).toBe(false);
    expect(c.securityContext.capabilities.add).toEqual(['DAC_READ_SEARCH', 'DAC_OVERRIDE']);
    expect(find(objs, 'SecurityContextConstraints', 'heap-dump-uploader').allowedCapabilities).toEqual(['DAC_READ_SEARCH', 'DAC_OVERRIDE']);
  });

  test('the init container waits for the marker and verifies the mount before the uploader starts', () => {
    expect(init.image).toBe(IMAGE);
    expect(init.args).toEqual(['wait-ready']);
    expect(Object.fromEntries(init.env.filter((e: { value?: string }) => e.value !== undefined).map((e: { name: string; value: string }) => [e.name, e.value])))
      .toEqual({ WAIT_TIMEOUT: '600', LOG_LEVEL: 'info' }); // no pod folder for the agent's own pod: a read-only mount
    expect(envVar(init, 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    expect(init.volumeMounts).toEqual([{ name: 'host-dump', mountPath: '/mnt/dump', mountPropagation: 'HostToContainer', readOnly: true }]);
  });

  test('probes, priority, tolerations and the prototype resources', () => {
    expect(up.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(up.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(spec.priorityClassName).toBe('dump-volume-critical');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(up.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
    expect(ds.spec.selector.matchLabels).toEqual({ app: 's3-uploader' });
  });

  test('a ConfigMap change changes the pod template hash annotation (so the pods roll)', () => {
    const hashOf = (objs: typeof objects) => find(objs, 'DaemonSet', 'heap-dump-s3-uploader').spec.template.metadata.annotations['checksum/config'];
    const base = hashOf(objects);
    expect(base).toBe(configHash(find(objects, 'ConfigMap', 's3-uploader-config').data));
    expect(hashOf(synthPipeline({ agentImage: IMAGE, uploader: { watchIntervalSeconds: 30 } }).objects)).not.toBe(base);
    expect(hashOf(synthPipeline({ agentImage: IMAGE, uploader: { bucket: 'other-bucket' } }).objects)).not.toBe(base);
    expect(hashOf(synthPipeline({ agentImage: IMAGE }).objects)).toBe(base);
  });

  test('S3-compatible settings reach the ConfigMap', () => {
    const objs = synthPipeline({
      agentImage: IMAGE,
      uploader: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, storageClass: 'REDUCED_REDUNDANCY', checksumMode: 'WHEN_SUPPORTED', patterns: ['*.hprof'], gzip: true, retentionMaxBytes: 1073741824 },
    }).objects;
    const data = find(objs, 'ConfigMap', 's3-uploader-config').data;
    expect(data).toMatchObject({
      S3_ENDPOINT_URL: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: 'true', S3_STORAGE_CLASS: 'REDUCED_REDUNDANCY',
      S3_CHECKSUM_MODE: 'WHEN_SUPPORTED', DUMP_PATTERNS: '*.hprof', UPLOAD_GZIP: 'true', RETENTION_MAX_BYTES: '1073741824',
    });
  });

  test('workload identity: ServiceAccount annotation, no Secret reference, no key env', () => {
    const objs = synthPipeline({
      agentImage: IMAGE,
      uploader: { credentials: { source: 'workload-identity', roleArn: 'arn:aws:iam::123456789012:role/heap-dump-uploader' } },
    }).objects;
    expect(find(objs, 'ServiceAccount', 'heap-dump-s3-uploader').metadata.annotations)
      .toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/heap-dump-uploader' });
    const c = container(find(objs, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    expect(JSON.stringify(c)).not.toContain('secretKeyRef');
    expect(envVar(c, ENV.awsAccessKeyId)).toBeUndefined();
    expect(ofKind(objs, 'Secret')).toEqual([]);
  });

  test('explicit secret values (programmatic use only) emit a Secret with exactly those keys', () => {
    const objs = synthPipeline({
      agentImage: IMAGE,
      uploader: { credentials: { secretName: 'team-s3', secretValues: { accessKeyId: 'id-from-vault', secretAccessKey: 'key-from-vault', region: 'eu-west-1' } } },
    }).objects;
    const secret = find(objs, 'Secret', 'team-s3');
    expect(secret.stringData).toEqual({ AWS_ACCESS_KEY_ID: 'id-from-vault', AWS_SECRET_ACCESS_KEY: 'key-from-vault', AWS_DEFAULT_REGION: 'eu-west-1' });
    const c = container(find(objs, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    expect(envVar(c, 'AWS_ACCESS_KEY_ID').valueFrom.secretKeyRef.name).toBe('team-s3');
    // The Secret comes before the DaemonSet that reads it.
    const idx = (k: string, n: string) => objs.findIndex((o) => o.kind === k && o.metadata.name === n);
    expect(idx('Secret', 'team-s3')).toBeLessThan(idx('DaemonSet', 'heap-dump-s3-uploader'));
  });

  describe('data protection', () => {
    test('SSE-KMS with a key, a retention and tags off reach the ConfigMap (the synth warning when it is not chosen: default-warnings.test.ts)', () => {
      const { objects: objs } = synthPipeline({
        agentImage: IMAGE,
        uploader: { encryption: { mode: 'SSE-KMS', kmsKeyId: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }, retentionDays: 14, objectTags: false },
      });
      expect(find(objs, 'ConfigMap', 's3-uploader-config').data).toMatchObject({
        S3_SERVER_SIDE_ENCRYPTION: 'SSE-KMS',
        S3_SSE_KMS_KEY_ID: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        S3_RETENTION_DAYS: '14',
        S3_OBJECT_TAGS: 'false',
      });
    });

    test('"none": the mode, and no key variable', () => {
      const chosen = synthPipeline({ agentImage: IMAGE, uploader: { encryption: { mode: 'none' } } });
      expect(find(chosen.objects, 'ConfigMap', 's3-uploader-config').data).toMatchObject({ S3_SERVER_SIDE_ENCRYPTION: 'none' });
      expect(find(chosen.objects, 'ConfigMap', 's3-uploader-config').data.S3_SSE_KMS_KEY_ID).toBeUndefined();
    });

    test('a KMS key without SSE-KMS, an unknown mode or key: one line naming the prop, the value and what was expected', () => {
      const message = (uploader: object) => {
        try {
          synthPipeline({ agentImage: IMAGE, uploader: uploader as never });
        } catch (e) {
          if (e instanceof PipelinePropsError) return e.message;
          throw e;
        }
        throw new Error('expected a PipelinePropsError');
      };
      expect(message({ encryption: { mode: 'SSE-S3', kmsKeyId: 'testkey-1' } }))
        .toBe('Invalid uploader.encryption.kmsKeyId: "testkey-1" (expected unset unless mode is "SSE-KMS" (it is "SSE-S3"))');
      expect(message({ encryption: { kmsKeyId: 'testkey-1' } })).toContain('(it is "none")');
      expect(message({ encryption: { mode: 'aws:kms' } })).toBe('Invalid uploader.encryption.mode: "aws:kms" (expected one of none, SSE-S3, SSE-KMS)');
      expect(message({ encryption: { mode: 'SSE-KMS', kmsKeyid: 'x' } })).toMatch(/uploader\.encryption.*kmsKeyid/);
      expect(message({ retentionDays: -1 })).toBe('Invalid uploader.retentionDays: -1 (expected a whole number of days between 0 and 36500 (0 = no expiry, no check))');
    });
  });
});
