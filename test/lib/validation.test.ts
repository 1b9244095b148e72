import { HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

/** Synthesizes and returns the one error message (fails the test if synth succeeds). */
function failure(props: unknown): string {
  try {
    synthPipeline(props as HeapDumpPipelineProps);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelinePropsError);
    return (err as Error).message;
  }
  throw new Error('synth succeeded but should have failed');
}

describe('bad props fail synth with one message naming the prop, the value and what was expected', () => {
  test.each([
    ['fails on an invalid bucket name', { uploader: { bucket: 'My_Bucket' } }, 'Invalid uploader.bucket: "My_Bucket" (expected an S3 bucket name'],
    ['fails on a too short bucket name', { uploader: { bucket: 'ab' } }, 'Invalid uploader.bucket: "ab"'],
    ['fails on an IP address as bucket name', { uploader: { bucket: '192.168.1.1' } }, 'Invalid uploader.bucket: "192.168.1.1"'],
    ['fails on a negative interval', { uploader: { watchIntervalSeconds: -5 } }, 'Invalid uploader.watchIntervalSeconds: -5 (expected a number of seconds between 1 and 86400)'],
    ['fails on a non-numeric interval', { uploader: { fileStableTimeSeconds: '120' } }, 'Invalid uploader.fileStableTimeSeconds: "120" (expected a number of seconds between 1 and 86400)'],
    ['fails on a zero check interval', { volumeManager: { checkIntervalSeconds: 0 } }, 'Invalid volumeManager.checkIntervalSeconds: 0 (expected a number of seconds > 0 and <= 3600)'],
    ['fails on a fractional part size', { uploader: { partSizeMb: 8.5 } }, 'Invalid uploader.partSizeMb: 8.5 (expected a whole number of MiB between 5 and 5120)'],
    ['fails on a negative wait timeout', { waitTimeoutSeconds: -1 }, 'Invalid waitTimeoutSeconds: -1'],
    ['fails on an unknown storage class', { uploader: { storageClass: 'STANDARD_IAA' } }, 'Invalid uploader.storageClass: "STANDARD_IAA" (expected one of STANDARD, REDUCED_REDUNDANCY, STANDARD_IA'],
    ['fails on an unknown checksum mode', { uploader: { checksumMode: 'ALWAYS' } }, 'Invalid uploader.checksumMode: "ALWAYS" (expected one of WHEN_REQUIRED, WHEN_SUPPORTED)'],
    ['fails on an invalid namespace name', { namespace: 'Memory_Leak' }, 'Invalid namespace: "Memory_Leak" (expected a Kubernetes name (RFC 1123 label)'],
    ['fails on a too long namespace name', { namespace: 'a'.repeat(64) }, 'Invalid namespace: "aaaa'],
    ['fails on an invalid claim name', { storage: { claimName: 'dump storage' } }, 'Invalid storage.claimName: "dump storage" (expected a Kubernetes name (RFC 1123 subdomain)'],
    ['fails on an invalid storage class name', { storage: { storageClassName: 'Fast_SSD' } }, 'Invalid storage.storageClassName: "Fast_SSD"'],
    ['fails on an invalid priority class name', { priorityClass: { name: 'Critical!' } }, 'Invalid priorityClass.name: "Critical!"'],
    ['fails on an invalid secret name', { uploader: { credentials: { secretName: 'S3 creds' } } }, 'Invalid uploader.credentials.secretName: "S3 creds"'],
    ['fails on an invalid PVC size', { storage: { size: 'ten gigs' } }, 'Invalid storage.size: "ten gigs" (expected a positive Kubernetes quantity'],
    ['fails on an unknown access mode', { storage: { accessMode: 'ReadOnlyMany' } }, 'Invalid storage.accessMode: "ReadOnlyMany" (expected one of ReadWriteMany, ReadWriteOnce, ReadWriteOncePod)'],
    ['fails on an unknown platform', { platform: 'eks' }, 'Invalid platform: "eks" (expected one of openshift, kubernetes)'],
    ['fails on an empty app image', { app: { image: '' } }, 'Invalid app.image: "" (expected a container image reference'],
    ['fails on an app image with spaces', { app: { image: 'my app:1' } }, 'Invalid app.image: "my app:1"'],
    ['fails on a bad heap size', { app: { maxHeap: '256MB' } }, 'Invalid app.maxHeap: "256MB" (expected a -Xmx size such as 256m or 1g)'],
    ['fails on an endpoint that is not a URL', { uploader: { endpoint: 'minio:9000' } }, 'Invalid uploader.endpoint: "minio:9000" (expected an http:// or https:// URL'],
    ['fails on a part size below the S3 minimum', { uploader: { partSizeMb: 4 } }, 'Invalid uploader.partSizeMb: 4 (expected a whole number of MiB between 5 and 5120)'],
    ['fails on a misspelt setting', { uploader: { bukcet: 'x' } }, 'Unknown key uploader.bukcet: did you mean uploader.bucket? (expected a key of uploader: bucket,'],
    ['fails on a misspelt top-level setting', { namspace: 'x' }, 'Unknown key namspace: did you mean namespace? (expected a top-level key: agentImage,'],
    ['fails on a Route host on plain Kubernetes', { platform: 'kubernetes', app: { routeHost: 'a.example.com' } }, 'Invalid app.routeHost: "a.example.com" (expected no routeHost on platform "kubernetes"'],
    ['fails on an Ingress on OpenShift', { app: { ingress: { host: 'a.example.com' } } }, 'Invalid app.ingress: {"host":"a.example.com"} (expected no ingress on platform "openshift"'],
    ['fails on workload identity without a role', { uploader: { credentials: { source: 'workload-identity' } } }, 'Invalid uploader.credentials.roleArn: undefined (missing) (expected a role ARN or serviceAccountAnnotations'],
    ['fails on a malformed role ARN', { uploader: { credentials: { source: 'workload-identity', roleArn: 'uploader-role' } } }, 'Invalid uploader.credentials.roleArn: "uploader-role" (expected an IAM role ARN'],
    ['fails on a misspelt nested setting', { uploader: { credentials: { secretNmae: 's3' } } }, 'Unknown key uploader.credentials.secretNmae: did you mean uploader.credentials.secretName? (expected a key of uploader.credentials: source, secretName, secretValues, roleArn, serviceAccountAnnotations)'],
    ['fails on a misspelt ingress setting', { platform: 'kubernetes', app: { ingress: { host: 'a.example.com', tls: 'x' } } }, 'Unknown key app.ingress.tls: did you mean app.ingress.tlsSecretName? (expected a key of app.ingress: host, className, tlsSecretName)'],
    ['fails on an Ingress without a host', { platform: 'kubernetes', app: { ingress: {} } }, 'Invalid app.ingress.host: undefined (missing) (expected a Kubernetes name (RFC 1123 subdomain)'],
    ['fails on an upper-case region', { uploader: { region: 'US-EAST-1' } }, 'Invalid uploader.region: "US-EAST-1" (expected a region name such as us-east-1'],
    ['fails on an endpoint with credentials', { uploader: { endpoint: 'https://key:secret@s3.example.com' } }, 'Invalid uploader.endpoint: "https://<redacted>@s3.example.com" (expected an http:// or https:// URL without credentials'],
    ['fails on a bad retention size', { uploader: { retentionMaxBytes: '10GB' } }, 'Invalid uploader.retentionMaxBytes: "10GB" (expected a whole number of bytes, or a size with a Ki/Mi/Gi/Ti suffix'],
    ['fails on a bad annotation key', { uploader: { credentials: { source: 'workload-identity', serviceAccountAnnotations: { 'bad key': 'x' } } } }, 'Invalid uploader.credentials.serviceAccountAnnotations.bad key: "bad key" (expected an annotation key such as example.com/name)'],
    ['fails on a string for an object', { storage: 'big' }, 'Invalid storage: "big" (expected an object)'],
    ['fails on resources without limits', { app: { resources: { requests: { cpu: '1', memory: '1Gi' } } } }, 'Invalid app.resources.limits: undefined (missing) (expected an object with cpu and memory)'],
    ['fails on resources with a bad quantity', { volumeManager: { resources: { requests: { cpu: 'lots', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } } } }, 'Invalid volumeManager.resources.requests.cpu: "lots"'],
  ])('%s', (_name, props, message) => {
    expect(failure({ agentImage: IMAGE, ...props })).toContain(message);
  });

  test('fails on a missing agent image', () => {
    expect(failure({})).toBe('Invalid agentImage: undefined (missing) (expected a container image reference such as registry.example.com/team/heapdump-agent:0.1.0 (lowercase repository, optional :tag and @sha256: digest); it is required)');
  });

  test('fails on an agent image with an upper-case repository', () => {
    expect(failure({ agentImage: 'Registry.example.com/Agent:1' })).toContain('Invalid agentImage: "Registry.example.com/Agent:1"');
  });

  test('fails on bad secret values without echoing them', () => {
    const message = failure({ agentImage: IMAGE, uploader: { credentials: { secretValues: { accessKeyId: 'AKIAEXAMPLEKEY', secretAccesKey: 'top-secret-value' } } } });
    expect(message).toContain('uploader.credentials.secretValues.secretAccesKey');
    expect(message).not.toContain('top-secret-value');
    expect(message).not.toContain('AKIAEXAMPLEKEY');
  });

  test('the message is one line', () => {
    expect(failure({ agentImage: IMAGE, uploader: { bucket: 'UPPER' } }).split('\n')).toHaveLength(1);
  });
});
