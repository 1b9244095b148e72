import {
  ConfigError, ConfigErrors, editDistance, findTypos, IN_POD_ENV, parseCommand, resolveConfig, resolveLogFormat, resolveMountGuardConfig,
  resolveUploaderConfig, resolveWaitReadyConfig,
} from '../../agent/src/config';
import { COMMANDS, ENV, HTTP, PATHS } from '../../agent/src/contract';
import { envSettings, settingOfEnv } from '../../agent/src/settings';

const BASE = { NODE_NAME: 'worker-1.example.com' };
const UPLOADER = { ...BASE, S3_BUCKET: 'heap-dumps' };
/** The analyzer's resolver (its S3 settings are the uploader's: the same base env). */
const resolveAnalyzer = (env: Record<string, string>) => resolveConfig('analyzer', env).config;
const baseOf = (resolver: unknown) => (resolver === resolveUploaderConfig || resolver === resolveAnalyzer ? UPLOADER : BASE);
/** What the kubelet adds to every container: the mount guard runs only where it is set. */
const IN_POD = { [IN_POD_ENV]: '172.30.0.1' };
const INJECT = { ...BASE, INJECT_PIPELINE_NAMESPACE: 'heapdump-system', INJECT_AGENT_IMAGE: 'registry.example.com/heapdump-agent:0.2.0' };
/** The `api` command's resolver with what it needs besides the value under test (a bucket, the kubelet's service host). */
const resolveApi = (env: Record<string, string>) => resolveConfig(COMMANDS.api, { S3_BUCKET: 'heap-dumps', KUBERNETES_SERVICE_HOST: '10.0.0.1', ...env });

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

describe('defaults', () => {
  test('mount guard', () => {
    expect(resolveMountGuardConfig(BASE)).toEqual({
      nodeName: 'worker-1.example.com', httpHost: '0.0.0.0', httpPort: HTTP.defaultPort, logLevel: 'info', shutdownTimeoutMs: 25_000,
      sourceRoot: PATHS.guardSourceRoot, target: PATHS.guardTarget, markerName: PATHS.markerName, checkIntervalMs: 30_000,
    });
  });
  test('wait-ready', () => {
    expect(resolveWaitReadyConfig(BASE)).toEqual({
      nodeName: 'worker-1.example.com', httpHost: '0.0.0.0', httpPort: HTTP.defaultPort, logLevel: 'info', shutdownTimeoutMs: 25_000,
      dumpRoot: PATHS.consumerDumpRoot, markerName: PATHS.markerName, timeoutMs: 600_000,
    });
  });
  test('uploader (prototype defaults: 60 s scan, 120 s stable, STANDARD, WHEN_REQUIRED)', () => {
    expect(resolveUploaderConfig(UPLOADER)).toEqual({
      nodeName: 'worker-1.example.com', httpHost: '0.0.0.0', httpPort: HTTP.defaultPort, logLevel: 'info', shutdownTimeoutMs: 25_000,
      dumpRoot: PATHS.consumerDumpRoot, markerName: PATHS.markerName,
      s3: { bucket: 'heap-dumps', prefix: '', region: 'us-east-1', forcePathStyle: false, storageClass: 'STANDARD', checksumMode: 'WHEN_REQUIRED' },
      watchIntervalMs: 60_000, fileStableTimeMs: 120_000, completeQuietTimeMs: 1_000,
      patterns: ['*.hprof', '*.hprof.gz', '*.phd'], partSizeBytes: 8 * 2 ** 20, concurrency: 4, multipartThresholdBytes: 1024 * 2 ** 20,
      gzip: false, afterUpload: 'archive', digest: 'sha256', retentionMaxAgeMs: 604_800_000, retentionMaxBytes: 2 * 1024 ** 3,
      notify: { timeoutMs: 10_000, maxAttempts: 5, queueSize: 100, shutdownGraceMs: 5000 },
      maxWatches: 1024, maxFiles: 10_000, readTimeoutMs: 60_000, analysis: true,
      maxFilesPerNamespace: 100, maxEntriesPerPod: 10_000, uploadSlots: 2,
      analysisCpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 64 * 2 ** 30, analysisMaxMemoryBytes: 128 * 2 ** 20,
      stateDir: '/tmp/heapdump-uploader',
      encryption: { mode: 'none' }, objectTags: true, retentionDays: 30,
    });
  });
  test('every contract variable has a table entry with an expectation', () => {
    for (const name of Object.values(ENV)) expect(settingOfEnv(name)?.kind.env?.expected.length).toBeGreaterThan(5);
  });
});

describe('values', () => {
  test('seconds accept decimals; booleans accept true/false/1/0/yes/no', () => {
    const c = resolveUploaderConfig({ ...UPLOADER, WATCH_INTERVAL: '2.5', FILE_STABLE_TIME: '1.5', COMPLETE_QUIET_TIME: '0', UPLOAD_GZIP: 'YES', AFTER_UPLOAD: 'delete' });
    expect(c).toMatchObject({ watchIntervalMs: 2500, fileStableTimeMs: 1500, completeQuietTimeMs: 0, gzip: true, afterUpload: 'delete' });
    expect(resolveUploaderConfig({ ...UPLOADER, UPLOAD_GZIP: 'no', AFTER_UPLOAD: 'keep' })).toMatchObject({ gzip: false, afterUpload: 'keep' });
    expect(resolveMountGuardConfig({ ...BASE, MOUNT_CHECK_INTERVAL: '0.25' }).checkIntervalMs).toBe(250);
  });
  test('UPLOAD_CHECKSUM=auto (the default): sha256 where AWS S3 checks it, Content-MD5 on any other endpoint', () => {
    const digest = (env: Record<string, string>) => resolveUploaderConfig({ ...UPLOADER, ...env }).digest;
    expect(digest({})).toBe('sha256');
    expect(digest({ S3_ENDPOINT_URL: '' })).toBe('sha256');
    expect(digest({ S3_ENDPOINT_URL: 'https://s3.eu-west-1.amazonaws.com' })).toBe('sha256');
    expect(digest({ S3_ENDPOINT_URL: 'https://bucket.vpce-0a1b2c3d-abcd.s3.us-east-1.vpce.amazonaws.com' })).toBe('sha256');
    expect(digest({ S3_ENDPOINT_URL: 'https://s3.cn-north-1.amazonaws.com.cn' })).toBe('sha256');
    expect(digest({ S3_ENDPOINT_URL: 'http://rook-ceph-rgw.openshift-storage.svc:80' })).toBe('md5');
    expect(digest({ S3_ENDPOINT_URL: 'https://minio.example.com' })).toBe('md5');
    // a host that only contains the AWS domain is not AWS
    expect(digest({ S3_ENDPOINT_URL: 'https://s3.amazonaws.com.evil.example' })).toBe('md5');
    // an explicit choice is kept whatever the endpoint
    expect(digest({ UPLOAD_CHECKSUM: 'md5' })).toBe('md5');
    expect(digest({ UPLOAD_CHECKSUM: 'sha256', S3_ENDPOINT_URL: 'http://127.0.0.1:9000' })).toBe('sha256');
  });
  test('empty values mean "use the default" (ConfigMap keys set to "")', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, S3_ENDPOINT_URL: '', S3_PREFIX: '', WATCH_INTERVAL: '' })).toMatchObject({ watchIntervalMs: 60_000, s3: { prefix: '' } });
    expect(resolveUploaderConfig({ ...UPLOADER, S3_ENDPOINT_URL: '' }).s3.endpoint).toBeUndefined();
  });
  test('S3 prefix normalised to "" or "x/"', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, S3_PREFIX: 'memory-leak-demo' }).s3.prefix).toBe('memory-leak-demo/');
    expect(resolveUploaderConfig({ ...UPLOADER, S3_PREFIX: 'a/b/' }).s3.prefix).toBe('a/b/');
    // The constructs' rule: a leading "/" is a mistake (an empty first key segment), not something to strip.
    expect(() => resolveUploaderConfig({ ...UPLOADER, S3_PREFIX: '/a/b/' })).toThrow(ConfigError);
  });
  test('endpoint implies path style unless told otherwise', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, S3_ENDPOINT_URL: 'http://127.0.0.1:9000' }).s3).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(resolveUploaderConfig({ ...UPLOADER, S3_ENDPOINT_URL: 'https://s3.example.com', S3_FORCE_PATH_STYLE: 'false' }).s3.forcePathStyle).toBe(false);
  });
  test('region: AWS_DEFAULT_REGION wins over AWS_REGION, default us-east-1', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, AWS_REGION: 'eu-west-1' }).s3.region).toBe('eu-west-1');
    expect(resolveUploaderConfig({ ...UPLOADER, AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-central-1' }).s3.region).toBe('eu-central-1');
  });
  test('static credentials only when both keys are set', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's3cr3t' }).s3.credentials).toEqual({ accessKeyId: 'AKID', secretAccessKey: 's3cr3t' });
    expect(resolveUploaderConfig(UPLOADER).s3.credentials).toBeUndefined();
  });
  test('patterns, sizes, part size, storage classes, ports, pod folder', () => {
    expect(resolveUploaderConfig({ ...UPLOADER, DUMP_PATTERNS: ' *.hprof , core.* ' }).patterns).toEqual(['*.hprof', 'core.*']);
    expect(resolveUploaderConfig({ ...UPLOADER, RETENTION_MAX_BYTES: '10Gi' }).retentionMaxBytes).toBe(10 * 2 ** 30);
    expect(resolveUploaderConfig({ ...UPLOADER, RETENTION_MAX_BYTES: '1024' }).retentionMaxBytes).toBe(1024);
    expect(resolveUploaderConfig({ ...UPLOADER, UPLOAD_PART_SIZE_MB: '5' }).partSizeBytes).toBe(5 * 2 ** 20);
    expect(resolveUploaderConfig({ ...UPLOADER, S3_STORAGE_CLASS: 'GLACIER_IR', S3_CHECKSUM_MODE: 'WHEN_SUPPORTED' }).s3).toMatchObject({ storageClass: 'GLACIER_IR', checksumMode: 'WHEN_SUPPORTED' });
    expect(resolveMountGuardConfig({ ...BASE, AGENT_HTTP_PORT: '0' }).httpPort).toBe(0);
    const pod = { HEAPDUMP_POD_NAMESPACE: 'ns-a', HEAPDUMP_POD_NAME: 'app-5d8f9c-x2k4p.v1' };
    expect(resolveWaitReadyConfig({ ...BASE, ...pod, WAIT_CREATE_POD_FOLDER: 'true', WAIT_TIMEOUT: '0' })).toMatchObject({
      podFolder: { namespace: 'ns-a', pod: 'app-5d8f9c-x2k4p.v1' }, timeoutMs: 0,
    });
    expect(resolveWaitReadyConfig({ ...BASE, ...pod, WAIT_CREATE_POD_FOLDER: 'true', WAIT_FOLDER_GROUP: '1000680000' }).podFolder).toEqual({
      namespace: 'ns-a', pod: 'app-5d8f9c-x2k4p.v1', group: 1000680000,
    });
    // without WAIT_CREATE_POD_FOLDER the pod variables are not needed (the uploader's wait-ready)
    expect(resolveWaitReadyConfig(BASE).podFolder).toBeUndefined();
    expect(resolveWaitReadyConfig({ ...BASE, WAIT_CREATE_POD_FOLDER: 'false', HEAPDUMP_POD_NAME: '../x' }).podFolder).toBeUndefined();
    expect(resolveMountGuardConfig({ ...BASE, MOUNT_TARGET: '/host/mnt/dump/' }).target).toBe('/host/mnt/dump');
  });
  test('server-side encryption: a mode, and a KMS key with SSE-KMS only', () => {
    const enc = (env: Record<string, string>) => resolveUploaderConfig({ ...UPLOADER, ...env }).encryption;
    expect(enc({ S3_SERVER_SIDE_ENCRYPTION: 'SSE-S3' })).toEqual({ mode: 'SSE-S3' });
    expect(enc({ S3_SERVER_SIDE_ENCRYPTION: 'SSE-KMS' })).toEqual({ mode: 'SSE-KMS' });
    expect(enc({ S3_SERVER_SIDE_ENCRYPTION: 'SSE-KMS', S3_SSE_KMS_KEY_ID: 'alias/heap-dumps' })).toEqual({ mode: 'SSE-KMS', kmsKeyId: 'alias/heap-dumps' });
    const e = errorOf(() => enc({ S3_SERVER_SIDE_ENCRYPTION: 'SSE-S3', S3_SSE_KMS_KEY_ID: 'testkey-1' }));
    expect(e.message).toBe('S3_SSE_KMS_KEY_ID="testkey-1" is invalid: expected it unset unless S3_SERVER_SIDE_ENCRYPTION=SSE-KMS (it is "SSE-S3")');
    expect(e.variable).toBe('S3_SSE_KMS_KEY_ID');
    expect(errorOf(() => enc({ S3_SSE_KMS_KEY_ID: 'testkey-1' })).message).toContain('(it is "none")');
  });
  test('resolveConfig picks the resolver for the command', () => {
    expect(resolveConfig(COMMANDS.mountGuard, { ...BASE, ...IN_POD }).command).toBe('mount-guard');
    expect(resolveConfig(COMMANDS.waitReady, BASE).config).toMatchObject({ timeoutMs: 600_000 });
    expect(resolveConfig(COMMANDS.uploader, UPLOADER).config).toMatchObject({ s3: { bucket: 'heap-dumps' } });
  });
});

/** wait-ready with its pod-folder mode on and a valid pod (so each case breaks exactly one variable). */
const podFolderOn = (env: Record<string, string>) =>
  resolveWaitReadyConfig({ WAIT_CREATE_POD_FOLDER: 'true', HEAPDUMP_POD_NAMESPACE: 'ns-a', HEAPDUMP_POD_NAME: 'pod-1', ...env });

/** Every variable's error: [resolver, variable, bad value, exact message]. */
const SECONDS_0_86400 = 'a number of seconds between 0 and 86400';
const SECONDS_1_86400 = 'a number of seconds between 1 and 86400';
const LABEL = 'a Kubernetes name (RFC 1123 label): at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit';
const NAME = 'a Kubernetes name (RFC 1123 subdomain): at most 253 lowercase letters, digits, \'-\' and \'.\', starting and ending with a letter or digit';
const BUCKET = 'an S3 bucket name: 3-63 lowercase letters, digits, \'.\' and \'-\', starting and ending with a letter or digit, not an IP address';
const PREFIX = 'an S3 key prefix such as "memory-leak-demo/" (no leading "/", no control characters or backslashes, at most 512 characters; a missing trailing "/" is added)';
const REGION = 'a region name such as us-east-1 (lowercase letters, digits and \'-\')';
const URL_ = 'an http:// or https:// URL without credentials, e.g. https://s3.example.com:9000';
const PROXY_URL = 'an http:// proxy URL such as http://proxy.example.com:3128 (optionally http://user:password@host:port), without a path';
/** The mount guard as main.ts resolves it (the in-pod check included), in a pod. */
const guardInPod = (env: Record<string, string>) => resolveConfig(COMMANDS.mountGuard, { ...IN_POD, ...env });
const inject = (env: Record<string, string>) => resolveConfig(COMMANDS.inject, { ...INJECT, ...env });
const logFormat = (env: Record<string, string>) => {
  const r = resolveLogFormat(env, false);
  if (r.error !== undefined) throw r.error;
  return r.format;
};
const IMAGE = 'a container image reference such as registry.example.com/team/heapdump-agent:0.1.0 (lowercase repository, optional :tag and @sha256: digest)';
const ERROR_CASES: Array<[string, (env: Record<string, string>) => unknown, string, string, string]> = [
  ['all', logFormat, 'LOG_FORMAT', 'yaml', 'LOG_FORMAT="yaml" is invalid: expected one of auto, json, text'],
  ['guard', guardInPod, 'MOUNT_ALLOW_OUTSIDE_POD', 'perhaps', 'MOUNT_ALLOW_OUTSIDE_POD="perhaps" is invalid: expected true or false'],
  ['inject', inject, 'INJECT_PIPELINE_NAMESPACE', 'Heapdump_System', `INJECT_PIPELINE_NAMESPACE="Heapdump_System" is invalid: expected ${LABEL}`],
  ['inject', inject, 'INJECT_HTTPS_PORT', '65536', 'INJECT_HTTPS_PORT="65536" is invalid: expected a whole number between 0 and 65535 (0 = any free port)'],
  ['inject', inject, 'INJECT_TLS_CERT_FILE', 'tls.crt', 'INJECT_TLS_CERT_FILE="tls.crt" is invalid: expected an absolute path'],
  ['inject', inject, 'INJECT_TLS_KEY_FILE', 'tls.key', 'INJECT_TLS_KEY_FILE="tls.key" is invalid: expected an absolute path'],
  ['inject', inject, 'INJECT_CERT_RELOAD_INTERVAL', '30s', 'INJECT_CERT_RELOAD_INTERVAL="30s" is invalid: expected a number of seconds > 0'],
  ['inject', inject, 'INJECT_MAX_BODY_BYTES', '128Mi', 'INJECT_MAX_BODY_BYTES="128Mi" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix between 1Ki and 64Mi'],
  ['inject', inject, 'INJECT_POLICY', 'always', 'INJECT_POLICY="always" is invalid: expected one of opt-in, opt-out'],
  ['inject', inject, 'INJECT_AGENT_IMAGE', 'Agent:1', `INJECT_AGENT_IMAGE="Agent:1" is invalid: expected ${IMAGE}`],
  ['inject', inject, 'INJECT_IMAGE_PULL_POLICY', 'always', 'INJECT_IMAGE_PULL_POLICY="always" is invalid: expected one of Always, IfNotPresent, Never'],
  ['inject', inject, 'INJECT_DUMP_PATH', '/a b', 'INJECT_DUMP_PATH="/a b" is invalid: expected an absolute path other than / without spaces, colons or ..'],
  ['inject', inject, 'INJECT_LOG_LEVEL', 'trace', 'INJECT_LOG_LEVEL="trace" is invalid: expected one of debug, info, warn, error'],
  ['inject', inject, 'INJECT_WAIT_TIMEOUT', '-1', 'INJECT_WAIT_TIMEOUT="-1" is invalid: expected a whole number of seconds between 0 and 86400 (0 = wait forever)'],
  ['inject', inject, 'INJECT_GZIP_LEVEL', '10', 'INJECT_GZIP_LEVEL="10" is invalid: expected a whole number between 0 and 9 (0 = off; 1-9 need HotSpot 17+)'],
  ['inject', inject, 'INJECT_ANNOTATION', 'a/b/c', 'INJECT_ANNOTATION="a/b/c" is invalid: expected a qualified annotation key such as example.com/inject (optional DNS-subdomain prefix, a name of at most 63 characters)'],
  ['inject', inject, 'INJECT_CONTAINERS_ANNOTATION', '/x', 'INJECT_CONTAINERS_ANNOTATION="/x" is invalid: expected a qualified annotation key such as example.com/inject (optional DNS-subdomain prefix, a name of at most 63 characters)'],
  ['guard', resolveMountGuardConfig, 'NODE_NAME', 'Worker_1', `NODE_NAME="Worker_1" is invalid: expected ${NAME}`],
  ['guard', resolveMountGuardConfig, 'NODE_NAME', '-a', `NODE_NAME="-a" is invalid: expected ${NAME}`],
  ['guard', resolveMountGuardConfig, 'AGENT_HTTP_HOST', 'a b', 'AGENT_HTTP_HOST="a b" is invalid: expected an IP address or host name to bind'],
  ['guard', resolveMountGuardConfig, 'AGENT_HTTP_PORT', '65536', 'AGENT_HTTP_PORT="65536" is invalid: expected a whole number between 0 and 65535 (0 = any free port)'],
  ['guard', resolveMountGuardConfig, 'AGENT_HTTP_PORT', 'http', 'AGENT_HTTP_PORT="http" is invalid: expected a whole number between 0 and 65535 (0 = any free port)'],
  ['guard', resolveMountGuardConfig, 'LOG_LEVEL', 'verbose', 'LOG_LEVEL="verbose" is invalid: expected one of debug, info, warn, error'],
  ['guard', resolveMountGuardConfig, 'SHUTDOWN_TIMEOUT', '0', 'SHUTDOWN_TIMEOUT="0" is invalid: expected a number of seconds > 0'],
  ['guard', resolveMountGuardConfig, 'SHUTDOWN_TIMEOUT', '10s', 'SHUTDOWN_TIMEOUT="10s" is invalid: expected a number of seconds > 0'],
  ['guard', resolveMountGuardConfig, 'MOUNT_SOURCE_ROOT', 'pv-storage', 'MOUNT_SOURCE_ROOT="pv-storage" is invalid: expected an absolute path'],
  ['guard', resolveMountGuardConfig, 'MOUNT_TARGET', 'host/mnt', 'MOUNT_TARGET="host/mnt" is invalid: expected an absolute path'],
  ['guard', resolveMountGuardConfig, 'MOUNT_CHECK_INTERVAL', '0', 'MOUNT_CHECK_INTERVAL="0" is invalid: expected a number of seconds > 0 and <= 3600'],
  ['guard', resolveMountGuardConfig, 'MOUNT_CHECK_INTERVAL', '-5', 'MOUNT_CHECK_INTERVAL="-5" is invalid: expected a number of seconds > 0 and <= 3600'],
  ['guard', resolveMountGuardConfig, 'MOUNT_CHECK_INTERVAL', '3601', 'MOUNT_CHECK_INTERVAL="3601" is invalid: expected a number of seconds > 0 and <= 3600'],
  ['guard', resolveMountGuardConfig, 'MARKER_NAME', 'a/b', 'MARKER_NAME="a/b" is invalid: expected a file name (no slashes, not . or ..)'],
  ['guard', resolveMountGuardConfig, 'MARKER_NAME', '..', 'MARKER_NAME=".." is invalid: expected a file name (no slashes, not . or ..)'],
  ['wait', resolveWaitReadyConfig, 'DUMP_ROOT', 'mnt/dump', 'DUMP_ROOT="mnt/dump" is invalid: expected an absolute path'],
  ['wait', resolveWaitReadyConfig, 'WAIT_TIMEOUT', 'forever', `WAIT_TIMEOUT="forever" is invalid: expected ${SECONDS_0_86400} (0 = wait forever)`],
  ['wait', resolveWaitReadyConfig, 'WAIT_TIMEOUT', '86401', `WAIT_TIMEOUT="86401" is invalid: expected ${SECONDS_0_86400} (0 = wait forever)`],
  ['wait', resolveWaitReadyConfig, 'WAIT_CREATE_POD_FOLDER', 'yes please', 'WAIT_CREATE_POD_FOLDER="yes please" is invalid: expected true or false'],
  ['wait', podFolderOn, 'HEAPDUMP_POD_NAMESPACE', '../etc', `HEAPDUMP_POD_NAMESPACE="../etc" is invalid: expected ${LABEL}`],
  ['wait', podFolderOn, 'HEAPDUMP_POD_NAMESPACE', 'a.b', `HEAPDUMP_POD_NAMESPACE="a.b" is invalid: expected ${LABEL}`],
  ['wait', podFolderOn, 'HEAPDUMP_POD_NAME', 'ns/pod', `HEAPDUMP_POD_NAME="ns/pod" is invalid: expected ${NAME}`],
  ['wait', podFolderOn, 'HEAPDUMP_POD_NAME', '..', `HEAPDUMP_POD_NAME=".." is invalid: expected ${NAME}`],
  ['wait', podFolderOn, 'HEAPDUMP_POD_NAME', '.hidden', `HEAPDUMP_POD_NAME=".hidden" is invalid: expected ${NAME}`],
  ['wait', podFolderOn, 'WAIT_FOLDER_GROUP', '-1', 'WAIT_FOLDER_GROUP="-1" is invalid: expected a whole number between 0 and 2147483647'],
  ['wait', podFolderOn, 'WAIT_FOLDER_GROUP', 'dumpers', 'WAIT_FOLDER_GROUP="dumpers" is invalid: expected a whole number between 0 and 2147483647'],
  ['up', resolveUploaderConfig, 'S3_BUCKET', 'My_Bucket', `S3_BUCKET="My_Bucket" is invalid: expected ${BUCKET}`],
  ['up', resolveUploaderConfig, 'S3_BUCKET', 'ab', `S3_BUCKET="ab" is invalid: expected ${BUCKET}`],
  ['up', resolveUploaderConfig, 'S3_BUCKET', '192.168.1.1', `S3_BUCKET="192.168.1.1" is invalid: expected ${BUCKET}`],
  ['up', resolveUploaderConfig, 'S3_PREFIX', 'a\nb', `S3_PREFIX="a\nb" is invalid: expected ${PREFIX}`],
  ['up', resolveUploaderConfig, 'S3_PREFIX', '/dumps/', `S3_PREFIX="/dumps/" is invalid: expected ${PREFIX}`],
  ['up', resolveUploaderConfig, 'WATCH_INTERVAL', '0', `WATCH_INTERVAL="0" is invalid: expected ${SECONDS_1_86400}`],
  ['up', resolveUploaderConfig, 'FILE_STABLE_TIME', '2m', `FILE_STABLE_TIME="2m" is invalid: expected ${SECONDS_1_86400}`],
  ['up', resolveUploaderConfig, 'FILE_STABLE_TIME', '0', `FILE_STABLE_TIME="0" is invalid: expected ${SECONDS_1_86400}`],
  ['up', resolveUploaderConfig, 'AWS_DEFAULT_REGION', 'us east', `AWS_DEFAULT_REGION="us east" is invalid: expected ${REGION}`],
  ['up', resolveUploaderConfig, 'AWS_DEFAULT_REGION', 'US-EAST-1', `AWS_DEFAULT_REGION="US-EAST-1" is invalid: expected ${REGION}`],
  ['up', resolveUploaderConfig, 'AWS_REGION', 'eu_west', `AWS_REGION="eu_west" is invalid: expected ${REGION}`],
  ['up', resolveUploaderConfig, 'S3_ENDPOINT_URL', 'minio:9000', `S3_ENDPOINT_URL="minio:9000" is invalid: expected ${URL_}`],
  ['up', resolveUploaderConfig, 'S3_ENDPOINT_URL', 'ftp://x', `S3_ENDPOINT_URL="ftp://x" is invalid: expected ${URL_}`],
  // Credentials in a URL are never echoed.
  ['up', resolveUploaderConfig, 'S3_ENDPOINT_URL', 'https://AKID:s3cr3t@s3.example.com', `S3_ENDPOINT_URL="https://<redacted>@s3.example.com" is invalid: expected ${URL_}`],
  ['up', resolveUploaderConfig, 'COMPLETE_QUIET_TIME', 'x', `COMPLETE_QUIET_TIME="x" is invalid: expected ${SECONDS_0_86400}`],
  ['up', resolveUploaderConfig, 'DUMP_PATTERNS', '*.hprof,,*.phd', 'DUMP_PATTERNS="*.hprof,,*.phd" is invalid: expected comma-separated file name globs (e.g. *.hprof,*.phd)'],
  ['up', resolveUploaderConfig, 'DUMP_PATTERNS', 'dumps/*.hprof', 'DUMP_PATTERNS="dumps/*.hprof" is invalid: expected comma-separated file name globs (e.g. *.hprof,*.phd)'],
  ['up', resolveUploaderConfig, 'S3_FORCE_PATH_STYLE', 'maybe', 'S3_FORCE_PATH_STYLE="maybe" is invalid: expected true or false'],
  ['up', resolveUploaderConfig, 'S3_STORAGE_CLASS', 'standard', 'S3_STORAGE_CLASS="standard" is invalid: expected one of STANDARD, REDUCED_REDUNDANCY, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, GLACIER_IR, DEEP_ARCHIVE, OUTPOSTS, SNOW, EXPRESS_ONEZONE'],
  ['up', resolveUploaderConfig, 'S3_CHECKSUM_MODE', 'ALWAYS', 'S3_CHECKSUM_MODE="ALWAYS" is invalid: expected one of WHEN_REQUIRED, WHEN_SUPPORTED'],
  ['up', resolveUploaderConfig, 'UPLOAD_PART_SIZE_MB', '4', 'UPLOAD_PART_SIZE_MB="4" is invalid: expected a whole number of MiB between 5 and 5120'],
  ['up', resolveUploaderConfig, 'UPLOAD_PART_SIZE_MB', '8.5', 'UPLOAD_PART_SIZE_MB="8.5" is invalid: expected a whole number of MiB between 5 and 5120'],
  ['up', resolveUploaderConfig, 'UPLOAD_CONCURRENCY', '0', 'UPLOAD_CONCURRENCY="0" is invalid: expected a whole number between 1 and 64'],
  ['up', resolveUploaderConfig, 'UPLOAD_CONCURRENCY', '65', 'UPLOAD_CONCURRENCY="65" is invalid: expected a whole number between 1 and 64'],
  ['up', resolveUploaderConfig, 'UPLOAD_MULTIPART_THRESHOLD_MB', '5121', 'UPLOAD_MULTIPART_THRESHOLD_MB="5121" is invalid: expected a whole number of MiB between 5 and 5120'],
  ['up', resolveUploaderConfig, 'UPLOAD_GZIP', 'on', 'UPLOAD_GZIP="on" is invalid: expected true or false'],
  ['up', resolveUploaderConfig, 'AFTER_UPLOAD', 'y', 'AFTER_UPLOAD="y" is invalid: expected one of archive, delete, keep'],
  ['up', resolveUploaderConfig, 'UPLOAD_CHECKSUM', 'crc32', 'UPLOAD_CHECKSUM="crc32" is invalid: expected one of auto, md5, sha256'],
  ['up', resolveUploaderConfig, 'WATCH_MAX_DIRECTORIES', '-1', 'WATCH_MAX_DIRECTORIES="-1" is invalid: expected a whole number between 0 and 100000'],
  ['up', resolveUploaderConfig, 'DUMP_MAX_FILES', '0', 'DUMP_MAX_FILES="0" is invalid: expected a whole number between 1 and 1000000'],
  ['up', resolveUploaderConfig, 'DUMP_MAX_FILES_PER_NAMESPACE', '0', 'DUMP_MAX_FILES_PER_NAMESPACE="0" is invalid: expected a whole number between 1 and 100000'],
  ['up', resolveUploaderConfig, 'DUMP_MAX_ENTRIES_PER_POD', '99', 'DUMP_MAX_ENTRIES_PER_POD="99" is invalid: expected a whole number between 100 and 10000000'],
  ['up', resolveUploaderConfig, 'UPLOAD_SLOTS', '9', 'UPLOAD_SLOTS="9" is invalid: expected a whole number between 1 and 8'],
  ['up', resolveUploaderConfig, 'DUMP_ANALYSIS_CPU_SECONDS', '0.5', 'DUMP_ANALYSIS_CPU_SECONDS="0.5" is invalid: expected a whole number of CPU seconds between 1 and 3600'],
  ['up', resolveUploaderConfig, 'DUMP_INFLATE_MAX_RATIO', '1', 'DUMP_INFLATE_MAX_RATIO="1" is invalid: expected a whole number between 2 and 1100'],
  ['up', resolveUploaderConfig, 'DUMP_INFLATE_MAX_BYTES', '64GB', 'DUMP_INFLATE_MAX_BYTES="64GB" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix'],
  ['up', resolveUploaderConfig, 'DUMP_ANALYSIS_MAX_MEMORY', 'lots', 'DUMP_ANALYSIS_MAX_MEMORY="lots" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix'],
  ['up', resolveUploaderConfig, 'UPLOADER_STATE_DIR', 'tmp/state', 'UPLOADER_STATE_DIR="tmp/state" is invalid: expected an absolute path'],
  ['up', resolveUploaderConfig, 'FILE_READ_TIMEOUT', '0', 'FILE_READ_TIMEOUT="0" is invalid: expected a number of seconds > 0 and <= 3600'],
  ['up', resolveUploaderConfig, 'DUMP_ANALYSIS', 'sometimes', 'DUMP_ANALYSIS="sometimes" is invalid: expected true or false'],
  ['up', resolveUploaderConfig, 'RETENTION_MAX_AGE', '7d', 'RETENTION_MAX_AGE="7d" is invalid: expected a number of seconds >= 0 (0 = off)'],
  ['up', resolveUploaderConfig, 'RETENTION_MAX_BYTES', '10GB', 'RETENTION_MAX_BYTES="10GB" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix (0 = off)'],
  ['up', resolveUploaderConfig, 'S3_RETENTION_DAYS', '30d', 'S3_RETENTION_DAYS="30d" is invalid: expected a whole number of days between 0 and 36500 (0 = no expiry, no check)'],
  ['up', resolveUploaderConfig, 'S3_OBJECT_TAGS', 'maybe', 'S3_OBJECT_TAGS="maybe" is invalid: expected true or false'],
  ['up', resolveUploaderConfig, 'S3_SERVER_SIDE_ENCRYPTION', 'aws:kms', 'S3_SERVER_SIDE_ENCRYPTION="aws:kms" is invalid: expected one of none, SSE-S3, SSE-KMS'],
  ['up', resolveUploaderConfig, 'S3_SSE_KMS_KEY_ID', 'my key', 'S3_SSE_KMS_KEY_ID="my key" is invalid: expected a KMS key id, key ARN or alias (letters, digits and : / _ + = . @ -, at most 2048 characters)'],
  ['up', resolveUploaderConfig, 'AWS_ACCESS_KEY_ID', '  ', 'AWS_ACCESS_KEY_ID="  " is invalid: expected a non-empty string'],
  ['up', resolveUploaderConfig, 'NOTIFY_KUBE_EVENTS', 'ja', 'NOTIFY_KUBE_EVENTS="ja" is invalid: expected true or false'],
  ['up', resolveUploaderConfig, 'NOTIFY_CLUSTER_NAME', 'a\nb', 'NOTIFY_CLUSTER_NAME="a\nb" is invalid: expected a text of at most 63 characters without control characters'],
  ['up', resolveUploaderConfig, 'NOTIFY_TIMEOUT', '0', 'NOTIFY_TIMEOUT="0" is invalid: expected a number of seconds > 0'],
  ['up', resolveUploaderConfig, 'NOTIFY_MAX_ATTEMPTS', '21', 'NOTIFY_MAX_ATTEMPTS="21" is invalid: expected a whole number between 1 and 20'],
  ['up', resolveUploaderConfig, 'NOTIFY_WEBHOOK_FORMAT', 'teams', 'NOTIFY_WEBHOOK_FORMAT="teams" is invalid: expected one of json, slack'],
  ['up', resolveUploaderConfig, 'NOTIFY_WEBHOOK_EVENTS', 'oops', 'NOTIFY_WEBHOOK_EVENTS="oops" is invalid: expected a comma-separated subset of dump-uploaded, incomplete-dump-uploaded, dump-analyzed'],
  ['up', resolveUploaderConfig, 'NOTIFY_KUBE_API_URL', 'http://api:80', 'NOTIFY_KUBE_API_URL="http://api:80" is invalid: expected an https:// URL'],
  ['up', resolveUploaderConfig, 'NOTIFY_KUBE_CREDENTIALS_DIR', 'sa', 'NOTIFY_KUBE_CREDENTIALS_DIR="sa" is invalid: expected an absolute path'],
  // The webhook URL is a secret: never echoed.
  ['up', resolveUploaderConfig, 'NOTIFY_WEBHOOK_URL', 'hooks.example.com/T/B/SECRET', 'NOTIFY_WEBHOOK_URL is invalid: expected an https:// or http:// URL'],
  ['up', resolveUploaderConfig, 'NOTIFY_WEBHOOK_URL_FILE', 'url', 'NOTIFY_WEBHOOK_URL_FILE="url" is invalid: expected an absolute path'],
  ['up', resolveUploaderConfig, 'NOTIFY_QUEUE_SIZE', '0', 'NOTIFY_QUEUE_SIZE="0" is invalid: expected a whole number between 1 and 10000'],
  ['up', resolveUploaderConfig, 'NOTIFY_RETRIEVAL_CLI', 'kubectl2', 'NOTIFY_RETRIEVAL_CLI="kubectl2" is invalid: expected one of off, oc, kubectl'],
  ['up', resolveUploaderConfig, 'API_WEB_URL', 'http://dumps.example.com', 'API_WEB_URL="http://dumps.example.com" is invalid: expected an https:// URL'],
  ['api', resolveApi, 'API_DECISION_CACHE', '11', 'API_DECISION_CACHE="11" is invalid: expected a number of seconds between 0 and 10 (0 = no cache)'],
  ['api', resolveApi, 'API_INDEX_INTERVAL', '0', 'API_INDEX_INTERVAL="0" is invalid: expected a number of seconds between 1 and 3600'],
  ['api', resolveApi, 'API_HTTPS_PORT', '70000', 'API_HTTPS_PORT="70000" is invalid: expected a whole number between 0 and 65535 (0 = any free port)'],
  ['api', resolveApi, 'API_HTTPS_PORT', '9090', 'API_HTTPS_PORT="9090" is invalid: expected a port other than the health/metrics port'],
  ['api', resolveApi, 'API_TLS_CERT_FILE', 'tls.crt', 'API_TLS_CERT_FILE="tls.crt" is invalid: expected an absolute path'],
  ['api', resolveApi, 'API_TLS_KEY_FILE', 'tls.key', 'API_TLS_KEY_FILE="tls.key" is invalid: expected an absolute path'],
  ['api', resolveApi, 'API_WEB_MODE', 'on', 'API_WEB_MODE="on" is invalid: expected one of off, oauth-proxy, token-login'],
  ['api', resolveApi, 'API_WEB_PORT', '-1', 'API_WEB_PORT="-1" is invalid: expected a whole number between 0 and 65535 (0 = any free port)'],
  ['api', resolveApi, 'API_SESSION_KEY_FILE', 'key', 'API_SESSION_KEY_FILE="key" is invalid: expected an absolute path'],
  ['api', resolveApi, 'API_SESSION_TTL', '30', 'API_SESSION_TTL="30" is invalid: expected a number of seconds between 60 and 86400'],
  ['api', resolveApi, 'API_KUBE_URL', 'http://kubernetes:80', 'API_KUBE_URL="http://kubernetes:80" is invalid: expected an https:// URL'],
  ['api', resolveApi, 'API_KUBE_CREDENTIALS_DIR', 'sa', 'API_KUBE_CREDENTIALS_DIR="sa" is invalid: expected an absolute path'],
  ['up', resolveUploaderConfig, 'NOTIFY_SHUTDOWN_GRACE', '-1', 'NOTIFY_SHUTDOWN_GRACE="-1" is invalid: expected a number of seconds >= 0'],
  ['up', resolveUploaderConfig, 'S3_CA_BUNDLE_FILE', 'ca.crt', 'S3_CA_BUNDLE_FILE="ca.crt" is invalid: expected an absolute path'],
  ['up', resolveUploaderConfig, 'HTTPS_PROXY', 'socks5://proxy:1080', `HTTPS_PROXY="socks5://proxy:1080" is invalid: expected ${PROXY_URL}`],
  // Proxy credentials are never echoed.
  ['up', resolveUploaderConfig, 'HTTPS_PROXY', 'http://user:pw@proxy:3128/path', `HTTPS_PROXY="http://<redacted>@proxy:3128/path" is invalid: expected ${PROXY_URL}`],
  ['up', resolveUploaderConfig, 'HTTP_PROXY', 'proxy:3128', `HTTP_PROXY="proxy:3128" is invalid: expected ${PROXY_URL}`],
  ['up', resolveUploaderConfig, 'ANALYZER_WAKE_URL', 'heapdump-analyzer:9090/wake', 'ANALYZER_WAKE_URL="heapdump-analyzer:9090/wake" is invalid: expected an http:// or https:// URL'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_THRESHOLD_PERCENT', '0', 'ANALYZER_THRESHOLD_PERCENT="0" is invalid: expected a whole number of percent between 1 and 100'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_THRESHOLD_PERCENT', '10.5', 'ANALYZER_THRESHOLD_PERCENT="10.5" is invalid: expected a whole number of percent between 1 and 100'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_INTERVAL', '0', `ANALYZER_INTERVAL="0" is invalid: expected ${SECONDS_1_86400}`],
  ['analyzer', resolveAnalyzer, 'ANALYZER_TIME_BUDGET', '10m', `ANALYZER_TIME_BUDGET="10m" is invalid: expected ${SECONDS_1_86400}`],
  ['analyzer', resolveAnalyzer, 'ANALYZER_CPU_BUDGET', '0', `ANALYZER_CPU_BUDGET="0" is invalid: expected ${SECONDS_1_86400}`],
  ['analyzer', resolveAnalyzer, 'ANALYZER_SMALL_DUMP_MB', '0', 'ANALYZER_SMALL_DUMP_MB="0" is invalid: expected a whole number of MiB between 1 and 1048576'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_MAX_ATTEMPTS', '11', 'ANALYZER_MAX_ATTEMPTS="11" is invalid: expected a whole number between 1 and 10'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_MEMORY_LIMIT', '4 GiB', 'ANALYZER_MEMORY_LIMIT="4 GiB" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_WORK_DIR', 'work', 'ANALYZER_WORK_DIR="work" is invalid: expected an absolute path'],
  ['analyzer', resolveAnalyzer, 'ANALYZER_WORK_DIR_BYTES', '-1', 'ANALYZER_WORK_DIR_BYTES="-1" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix'],
  ['analyzer', resolveAnalyzer, 'S3_BUCKET', 'ab', `S3_BUCKET="ab" is invalid: expected ${BUCKET}`],
  ['up', resolveUploaderConfig, 'NO_PROXY', '.svc,10.0.0.0/33', 'NO_PROXY=".svc,10.0.0.0/33" is invalid: expected comma-separated hosts: domains (a leading "." = subdomains only), IP addresses or CIDR ranges, optional ports, or *'],
];

describe('errors: one line naming the variable, the value and what was expected', () => {
  test.each(ERROR_CASES)('%s %s=%j', (_cmd, resolver, name, value, message) => {
    const base = baseOf(resolver);
    const e = errorOf(() => resolver({ ...base, [name]: value }));
    expect(e.message).toBe(message);
    expect(e.variable).toBe(name);
  });
  test('every variable of the table has at least one error case (except the secret key, tested below)', () => {
    const covered = new Set(ERROR_CASES.map((c) => c[2]));
    const uncovered = envSettings().map(([, s]) => s.env).filter((n) => !covered.has(n) && n !== ENV.awsSecretAccessKey);
    expect(uncovered).toEqual([]);
  });
  test('a bad secret names the variable, never the value', () => {
    const e = errorOf(() => resolveUploaderConfig({ ...UPLOADER, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: '   ' }));
    expect(e.message).toBe('AWS_SECRET_ACCESS_KEY is invalid: expected a non-empty string');
  });
  test('required variables missing (also when empty)', () => {
    expect(errorOf(() => resolveMountGuardConfig({})).message).toBe(`NODE_NAME is missing: expected ${NAME}`);
    expect(errorOf(() => resolveWaitReadyConfig({ NODE_NAME: '' })).variable).toBe('NODE_NAME');
    expect(errorOf(() => resolveWaitReadyConfig({ ...BASE, WAIT_CREATE_POD_FOLDER: 'true', HEAPDUMP_POD_NAMESPACE: 'ns-a' })).message)
      .toBe(`HEAPDUMP_POD_NAME is missing: expected ${NAME}`);
    expect(errorOf(() => resolveUploaderConfig(BASE)).message).toBe(`S3_BUCKET is missing: expected ${BUCKET}`);
  });
  test('one credential without the other names the missing one and never prints the secret', () => {
    const noId = errorOf(() => resolveUploaderConfig({ ...UPLOADER, AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-very-secret' }));
    expect(noId.message).toBe('AWS_ACCESS_KEY_ID is missing: expected it to be set because AWS_SECRET_ACCESS_KEY is set (set both, or neither to use the SDK default credential chain)');
    expect(noId.message).not.toContain('wJalrXUtnFEMI');
    const noSecret = errorOf(() => resolveUploaderConfig({ ...UPLOADER, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }));
    expect(noSecret.message).toBe('AWS_SECRET_ACCESS_KEY is missing: expected it to be set because AWS_ACCESS_KEY_ID is set (set both, or neither to use the SDK default credential chain)');
  });
  test('messages are single lines', () => {
    for (const [, resolver, name, value] of ERROR_CASES) {
      if (value.includes('\n')) continue; // the value itself is echoed verbatim
      const base = baseOf(resolver);
      expect(errorOf(() => resolver({ ...base, [name]: value })).message).not.toMatch(/\n/);
    }
  });
  test('only the command\'s own variables are validated', () => {
    expect(() => resolveMountGuardConfig({ ...BASE, S3_BUCKET: 'BAD' })).not.toThrow();
  });
});

describe('every problem at once', () => {
  test('resolveConfig reports each missing and each invalid variable, in table order, not only the first', () => {
    let caught: unknown;
    try {
      resolveConfig(COMMANDS.uploader, { S3_PREFIX: '/abs', WATCH_INTERVAL: '5s', UPLOAD_CONCURRENCY: '0', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-x' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigErrors);
    const errors = (caught as ConfigErrors).errors;
    expect(errors.map((e) => e.variable).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'NODE_NAME', 'S3_BUCKET', 'S3_PREFIX', 'UPLOAD_CONCURRENCY', 'WATCH_INTERVAL'].sort());
    for (const e of errors) expect(e.message).not.toMatch(/\n|wJalrXUtnFEMI/);
  });
  test('one problem: the ConfigErrors carries it as its message', () => {
    const e = errorOf(() => resolveConfig(COMMANDS.uploader, BASE));
    expect(e.message).toBe(`S3_BUCKET is missing: expected ${BUCKET}`);
    expect(e.variable).toBe('S3_BUCKET');
  });
});

describe('mount-guard outside a pod', () => {
  const REFUSAL = 'mount-guard refuses to run outside a pod (KUBERNETES_SERVICE_HOST is unset): it bind-mounts MOUNT_SOURCE_ROOT/<NODE_NAME> '
    + 'onto MOUNT_TARGET of this machine; expected the dump-volume-manager DaemonSet\'s pod, or MOUNT_ALLOW_OUTSIDE_POD=true to do that here on purpose';
  test('refused without KUBERNETES_SERVICE_HOST, with one line naming the override', () => {
    const e = errorOf(() => resolveConfig(COMMANDS.mountGuard, BASE));
    expect({ variable: e.variable, message: e.message }).toEqual({ variable: 'MOUNT_ALLOW_OUTSIDE_POD', message: REFUSAL });
    // also when empty (a ConfigMap key with "" is unset)
    expect(errorOf(() => resolveConfig(COMMANDS.mountGuard, { ...BASE, [IN_POD_ENV]: '' })).message).toBe(REFUSAL);
  });
  test('runs in a pod, or outside one when told', () => {
    expect(resolveConfig(COMMANDS.mountGuard, { ...BASE, ...IN_POD }).command).toBe('mount-guard');
    expect(resolveConfig(COMMANDS.mountGuard, { ...BASE, MOUNT_ALLOW_OUTSIDE_POD: 'true' }).command).toBe('mount-guard');
    expect(() => resolveConfig(COMMANDS.mountGuard, { ...BASE, MOUNT_ALLOW_OUTSIDE_POD: 'false' })).toThrow(REFUSAL);
  });
  test('only the mount guard asks', () => {
    expect(resolveConfig(COMMANDS.waitReady, BASE).command).toBe('wait-ready');
  });
});

describe('LOG_FORMAT', () => {
  test('auto: text at a terminal, JSON otherwise; json and text as told', () => {
    expect(resolveLogFormat({}, true)).toEqual({ format: 'text' });
    expect(resolveLogFormat({}, false)).toEqual({ format: 'json' });
    expect(resolveLogFormat({ LOG_FORMAT: 'json' }, true)).toEqual({ format: 'json' });
    expect(resolveLogFormat({ LOG_FORMAT: 'text' }, false)).toEqual({ format: 'text' });
    expect(resolveLogFormat({ LOG_FORMAT: '' }, true)).toEqual({ format: 'text' });
  });
  test('a bad value falls back to auto and is returned as the error', () => {
    const r = resolveLogFormat({ LOG_FORMAT: 'JSON' }, false);
    expect({ format: r.format, message: r.error?.message }).toEqual({ format: 'json', message: 'LOG_FORMAT="JSON" is invalid: expected one of auto, json, text' });
  });
});

describe('parseCommand', () => {
  test('known commands', () => {
    expect(parseCommand('mount-guard')).toBe('mount-guard');
    expect(parseCommand('wait-ready')).toBe('wait-ready');
    expect(parseCommand('uploader')).toBe('uploader');
  });
  test('unknown or missing', () => {
    expect(errorOf(() => parseCommand('mountguard')).message).toBe('command "mountguard" is invalid: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer');
    expect(errorOf(() => parseCommand(undefined)).message).toBe('command is missing: expected one of mount-guard, uploader, wait-ready, inject, api, analyzer');
  });
});

describe('typo warnings', () => {
  test('close names in our families are reported with a suggestion', () => {
    expect(findTypos({ WATCH_INTERVALL: '5', S3_BUKET: 'x', MOUNT_CHECK_INTERVAL_SECONDS: '3', UPLOAD_CONCURENCY: '2' })).toEqual([
      { variable: 'MOUNT_CHECK_INTERVAL_SECONDS', suggestion: 'MOUNT_CHECK_INTERVAL' },
      { variable: 'S3_BUKET', suggestion: 'S3_BUCKET' },
      { variable: 'UPLOAD_CONCURENCY', suggestion: 'UPLOAD_CONCURRENCY' },
      { variable: 'WATCH_INTERVALL', suggestion: 'WATCH_INTERVAL' },
    ]);
  });
  test('known names, other families and unrelated names are not reported', () => {
    expect(findTypos({ WATCH_INTERVAL: '5', PATH: '/bin', HOME: '/', NODE_NAMEE: 'x', S3_SOMETHING_ELSE_ENTIRELY: 'y', AGENT_VERSION: '1' })).toEqual([]);
  });
  test('edit distance', () => {
    expect(editDistance('WATCH_INTERVALL', 'WATCH_INTERVAL')).toBe(1);
    expect(editDistance('abc', 'acb')).toBe(2);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
