/**
 * The contract between the constructs (lib/) and the agent (agent/src/).
 *
 * The constructs set exactly these environment variables, arguments, paths and ports;
 * the agent's config code reads exactly these. Both sides import this file, and a test
 * parses a synthesized container's env with the agent's own config code.
 */

/** Sub-commands of the agent CLI (`node agent.js <command>`). */
export const COMMANDS = {
  mountGuard: 'mount-guard',
  uploader: 'uploader',
  waitReady: 'wait-ready',
} as const;
export type Command = (typeof COMMANDS)[keyof typeof COMMANDS];

/**
 * NODE_OPTIONS the constructs set on a command's container. The mount guard runs without V8's JIT:
 * its loop is tiny, and the JIT costs ~5 MiB of its 48 MiB memory budget (bare Node is ~40 MiB).
 * Measured by `npm run bench:guard`, which runs the guard with exactly these options.
 */
/** Read by Node itself, not by the agent's config. */
export const NODE_OPTIONS_ENV = 'NODE_OPTIONS';

export const NODE_OPTIONS_BY_COMMAND: Readonly<Partial<Record<Command, string>>> = {
  'mount-guard': '--jitless',
  // The uploader's work is file I/O, native SHA-256 and sockets: without the JIT its peak RSS drops
  // ~12 MiB (4 GiB multipart: 81 -> 66 MiB) at the same throughput (measured by `npm run bench`).
  uploader: '--jitless',
};

/** Exit codes of the agent. */
export const EXIT = {
  ok: 0,
  /** A runtime failure (e.g. wait-ready timed out, the mount could not be made at start). */
  failure: 1,
  /** Bad configuration: one line names the variable, the value and what was expected. */
  config: 2,
} as const;

/** Environment variables. Prototype names are kept as they were. */
export const ENV = {
  // common
  nodeName: 'NODE_NAME',
  httpPort: 'AGENT_HTTP_PORT',
  /** Address the HTTP server binds (default all interfaces: kubelet probes hit the pod IP; tests use 127.0.0.1). */
  httpHost: 'AGENT_HTTP_HOST',
  logLevel: 'LOG_LEVEL',
  shutdownTimeout: 'SHUTDOWN_TIMEOUT',
  /** Where the node's dump directory is seen by this container (uploader, wait-ready). */
  dumpRoot: 'DUMP_ROOT',
  markerName: 'MARKER_NAME',

  // mount guard
  mountSourceRoot: 'MOUNT_SOURCE_ROOT',
  mountTarget: 'MOUNT_TARGET',
  mountCheckInterval: 'MOUNT_CHECK_INTERVAL',

  // wait-ready (init containers)
  waitTimeout: 'WAIT_TIMEOUT',
  /** Optional directory (relative to DUMP_ROOT) that wait-ready creates once the mount is verified. */
  waitCreateSubdir: 'WAIT_CREATE_SUBDIR',

  // uploader: prototype keys
  s3Bucket: 'S3_BUCKET',
  s3Prefix: 'S3_PREFIX',
  watchInterval: 'WATCH_INTERVAL',
  fileStableTime: 'FILE_STABLE_TIME',
  awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
  awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  awsDefaultRegion: 'AWS_DEFAULT_REGION',
  /** Read when AWS_DEFAULT_REGION is unset (the SDK's own name). */
  awsRegion: 'AWS_REGION',
  s3EndpointUrl: 'S3_ENDPOINT_URL',

  // uploader: new keys
  completeQuietTime: 'COMPLETE_QUIET_TIME',
  dumpPatterns: 'DUMP_PATTERNS',
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  s3StorageClass: 'S3_STORAGE_CLASS',
  s3ChecksumMode: 'S3_CHECKSUM_MODE',
  uploadPartSizeMb: 'UPLOAD_PART_SIZE_MB',
  uploadConcurrency: 'UPLOAD_CONCURRENCY',
  /** Files up to this size go as one streamed PUT; larger ones as multipart (parts of UPLOAD_PART_SIZE_MB). */
  uploadMultipartThresholdMb: 'UPLOAD_MULTIPART_THRESHOLD_MB',
  uploadGzip: 'UPLOAD_GZIP',
  /** md5 (Content-MD5) or sha256 (x-amz-checksum-sha256): the digest the server checks on every PUT and part. */
  uploadChecksum: 'UPLOAD_CHECKSUM',
  /** What happens to a local dump once verified in S3: archive (move out of the JVM's way), delete, keep. */
  afterUpload: 'AFTER_UPLOAD',
  /** Directories watched for events at most (the periodic scan covers the rest). */
  watchMaxDirectories: 'WATCH_MAX_DIRECTORIES',
  /** Dump files tracked at most. */
  dumpMaxFiles: 'DUMP_MAX_FILES',
  /** A single read of a dump that takes longer fails that file's attempt (a hung disk never stops the loop). */
  fileReadTimeout: 'FILE_READ_TIMEOUT',
  /** Analyse each HPROF in the read pass and write a summary next to the dump. */
  dumpAnalysis: 'DUMP_ANALYSIS',
  retentionMaxAge: 'RETENTION_MAX_AGE',
  retentionMaxBytes: 'RETENTION_MAX_BYTES',
} as const;
export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Paths inside the containers, and on the node. */
export const PATHS = {
  /** Node directory that the mount guard bind-mounts the PVC's node subdirectory onto. */
  hostDumpDir: '/mnt/dump',
  /** Where the mount guard container sees the PVC. */
  guardSourceRoot: '/pv-storage',
  /**
   * The guard mounts the node's PARENT directory (`/mnt`) at `/host/mnt` (Bidirectional) and binds onto
   * `/host/mnt/dump` below it. Why not mount `/mnt/dump` itself: that path would then always be a
   * mount point in the guard's container (the runtime's own hostPath bind), indistinguishable from a
   * stale bind at start; below the parent, any mount at the target is ours or stale, never the runtime's.
   */
  hostDumpParent: '/mnt',
  /** Where the mount guard container sees the node's /mnt (Bidirectional propagation). */
  guardHostParent: '/host/mnt',
  /** The bind mount target as the guard sees it: the node's /mnt/dump. */
  guardTarget: '/host/mnt/dump',
  /** Where the uploader and the init containers see the node's /mnt/dump (HostToContainer). */
  consumerDumpRoot: '/mnt/dump',
  /** Where the application container sees its own per-pod folder. */
  appDumpDir: '/dumps',
  /** Ready marker file name, written through the mount (so it lives on the PVC). */
  markerName: '.ready',
  /**
   * Verified dumps are moved out of the tenant's folder into this root-owned folder below the dump
   * root (same filesystem: a rename), as `<namespace>/<pod>/<key name>`: the JVM's next OOM can write
   * `java_pid1.hprof` again, and local copies stay bounded by the retention settings.
   */
  archiveDir: '.heapdump-archive',
} as const;

/** HTTP endpoints every agent process serves on AGENT_HTTP_PORT. */
export const HTTP = {
  defaultPort: 9090,
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const;

/** The marker file's JSON content. */
export interface ReadyMarker {
  /** Node name (downward API spec.nodeName). */
  readonly node: string;
  /** Absolute source path of the bind mount, as the guard sees it: `<MOUNT_SOURCE_ROOT>/<node>`. */
  readonly source: string;
  /** Mount target as the guard sees it. */
  readonly target: string;
  /** ISO time the mount was (re)made. */
  readonly since: string;
}

/** Default dump file patterns (HotSpot, gzipped HotSpot from `jcmd GC.heap_dump -gz`, OpenJ9). */
export const DEFAULT_DUMP_PATTERNS = ['*.hprof', '*.hprof.gz', '*.phd'] as const;

/** Names of the user metadata keys on every uploaded object (x-amz-meta-*). */
export const OBJECT_METADATA = {
  node: 'node',
  namespace: 'namespace',
  pod: 'pod',
  uploadTime: 'upload-time',
  originalSize: 'original-size',
  sha256: 'sha256',
  complete: 'complete',
  encoding: 'content-encoding-applied',
  /** The dump file's last modification (ISO time): which occurrence this is. */
  modifiedTime: 'modified-time',
  /** MD5 (hex) of the bytes sent as one PUT: what the object's ETag must be. */
  md5: 'md5',
  /** Decompressed size of a gzip-compressed dump (`.hprof.gz`), when every member decoded. */
  uncompressedSize: 'uncompressed-size',
  /** Name of the summary object next to the dump (`<dump key>.summary.json`). */
  summary: 'summary',
} as const;
