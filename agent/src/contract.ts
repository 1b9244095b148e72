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
  /** Mutating admission webhook: gives opted-in pods what `collectPod` defines (agent/src/inject). */
  inject: 'inject',
  /** The heapdumps API server: `oc get heapdumps`, downloads, the web page (agent/src/api). */
  api: 'api',
  /** Leak reports of the dumps in the bucket (agent/src/analyzer, Deployment `heapdump-analyzer`). */
  analyzer: 'analyzer',
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
  // --jitless also removes WebAssembly, and with it Node's fetch (undici's parser): nothing in the agent may
  // use fetch; the webhook goes over node:https (net/http-post.ts), test/e2e/notify-as-deployed.test.ts.
  uploader: '--jitless',
  // The webhook's work per review is small (parse, a pure function, a diff): without the JIT its peak RSS is
  // ~51 MiB instead of ~63-67 MiB, and p99 latency was no worse, on a busy 2-core machine even better
  // (no compiler threads competing): `npm run bench:inject` measures both modes.
  inject: '--jitless',
  // The API server streams (native sockets, TLS and SHA-256 on reused 1 MiB buffers, no JavaScript per chunk) and
  // serializes JSON (a builtin): without the JIT its peak RSS while sending 1 GiB was 84 MiB instead of 96 MiB (the
  // target's limit), at the same ratio to `aws s3 cp` within the machine's noise, and a 10,000-dump list stayed under
  // a second (`npm run bench:api`, BENCH_NODE_OPTIONS= for the JIT; docs/performance.md).
  api: '--jitless',
  // analyzer: no --jitless. Its work is the dump's object graph in JavaScript: without the JIT an analysis is ~12x
  // slower (SmallObjects, 10.8 M objects: 33-43 instead of 3.2-3.7 CPU s; `npm run bench:leaks`).
};

/** Exit codes of the agent. */
export const EXIT = {
  ok: 0,
  /** A runtime failure (e.g. wait-ready timed out, the mount could not be made at start). */
  failure: 1,
  /** Bad configuration: one line names the variable, the value and what was expected. */
  config: 2,
} as const;

/**
 * Environment variables, by setting id: generated from the settings table (agent/src/settings/table.ts,
 * where each variable's type, default and documentation live). Prototype names are kept as they were.
 */
import { ENV } from './generated/env';

export { ENV, type EnvName } from './generated/env';

/**
 * Env the pipeline puts INTO a collected application pod. The pod-identity pair
 * uses the pipeline's own names so an application's own POD_NAME never collides; the per-pod subPathExpr
 * expands them. WAIT_CREATE_POD_FOLDER / WAIT_FOLDER_GROUP are read by `wait-ready` (its pod-folder mode).
 * All four are settings-table entries (ENV); these aliases name their role in a collected pod.
 */
export const POD_ENV = {
  namespace: ENV.podNamespace,
  name: ENV.podName,
} as const;

export const WAIT_READY_POD_ENV = {
  /**
   * "true": create (or check) `<root>/<namespace>/<pod>` from the pod-identity env once the mount is
   * verified; the folder rules are in agent/src/wait-ready/pod-folder.ts and docs/security.md.
   */
  createPodFolder: ENV.waitCreatePodFolder,
  /** Optional gid: the pod folder becomes 02770 with this group instead of 0700. */
  folderGroup: ENV.waitFolderGroup,
} as const;

/** The per-pod folder below /mnt/dump, as a subPathExpr over POD_ENV. */
export const POD_DUMP_SUBPATH_EXPR = `$(${POD_ENV.namespace})/$(${POD_ENV.name})`;

/** Label/annotation domain. */
export const LABEL_DOMAIN = 'heapdump-pipeline.io';

/** Annotations and labels of collected pods (defaults; the webhook's names are configurable). */
export const INJECT_ANNOTATIONS = {
  /** Pod annotation: "true" opts in, "false" opts out. */
  inject: `${LABEL_DOMAIN}/inject`,
  /** Pod annotation: comma-separated names of the containers to instrument (default: every container). */
  containers: `${LABEL_DOMAIN}/containers`,
  /** Pod annotation: which JVM options variable to extend when the container sets none (JAVA_TOOL_OPTIONS or JDK_JAVA_OPTIONS). */
  javaOptionsEnv: `${LABEL_DOMAIN}/java-options-env`,
  /** Set on collected pods: `<definition version>-<hash of the options>`. */
  injected: `${LABEL_DOMAIN}/injected`,
  /** Set on collected pods: the containers that got the dump folder. */
  instrumented: `${LABEL_DOMAIN}/instrumented`,
} as const;

/** Label set on collected pods ("true"), so `-l heapdump-pipeline.io/collected=true` finds them. */
export const COLLECTED_LABEL = `${LABEL_DOMAIN}/collected`;

/** Name of the init container every collected pod gets. */
export const WAIT_READY_CONTAINER_NAME = 'heapdump-wait-ready';

/**
 * Env of the `inject` command (the webhook): settings-table entries (agent/src/settings/inject-table.ts),
 * by their role. lib/injector.ts writes them, agent/src/inject/config.ts reads them.
 */
export const INJECT_ENV = {
  /** The webhook's own namespace (downward API metadata.namespace): pods there are never mutated. */
  pipelineNamespace: ENV.injectPipelineNamespace,
  httpsPort: ENV.injectHttpsPort,
  tlsCertFile: ENV.injectTlsCertFile,
  tlsKeyFile: ENV.injectTlsKeyFile,
  certReloadInterval: ENV.injectCertReloadInterval,
  maxBodyBytes: ENV.injectMaxBodyBytes,
  /** opt-in: only pods annotated inject="true"; opt-out: every pod of a selected namespace unless "false". */
  policy: ENV.injectPolicy,
  agentImage: ENV.injectAgentImage,
  imagePullPolicy: ENV.injectImagePullPolicy,
  dumpPath: ENV.injectDumpPath,
  /** LOG_LEVEL of the injected wait-ready init container. */
  logLevel: ENV.injectLogLevel,
  /** WAIT_TIMEOUT of the injected wait-ready init container, seconds. */
  waitTimeout: ENV.injectWaitTimeout,
  /** -XX:HeapDumpGzipLevel (1-9, JDK 17+); 0 = not set. */
  gzipLevel: ENV.injectGzipLevel,
  injectAnnotation: ENV.injectAnnotation,
  containersAnnotation: ENV.injectContainersAnnotation,
} as const;

/** HTTPS endpoint of the webhook. */
export const INJECT_HTTPS = {
  defaultPort: 8443,
  mutatePods: '/mutate-pods',
  /** The exec guard: CONNECT pods/exec and pods/attach into heapdump-wait-ready are refused (same handler). */
  validateExec: '/validate-exec',
  /** Where the serving certificate Secret is mounted (service-ca and cert-manager both write tls.crt / tls.key). */
  tlsDir: '/etc/heapdump-inject/tls',
} as const;

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

/**
 * The marker file's JSON content. The guard rewrites it (new file + rename) at every check: that
 * write is its probe that the volume still takes writes, and `checkedAt` tells readers how fresh it is.
 * The file is root-owned, regular, at most MARKER_MAX_BYTES; readers accept nothing else.
 */
export interface ReadyMarker {
  /** Node name (downward API spec.nodeName). */
  readonly node: string;
  /** Absolute source path of the bind mount, as the guard sees it: `<MOUNT_SOURCE_ROOT>/<node>`. */
  readonly source: string;
  /** Mount target as the guard sees it. */
  readonly target: string;
  /** ISO time the mount was (re)made. */
  readonly since: string;
  /** ISO time of the guard's last successful check (this write). */
  readonly checkedAt: string;
  /** The guard's check interval (MOUNT_CHECK_INTERVAL), ms: how often `checkedAt` moves. */
  readonly checkIntervalMs: number;
}

/** Largest marker a reader accepts (ours is ~300 bytes). */
export const MARKER_MAX_BYTES = 4096;

/**
 * A marker is stale (the guard is gone, stuck, or its volume stopped taking writes) once its last
 * check is older than this many check intervals plus MARKER_STALE_MARGIN_MS.
 */
export const MARKER_STALE_INTERVALS = 3;
export const MARKER_STALE_MARGIN_MS = 5_000;

/** Default dump file patterns (HotSpot, gzipped HotSpot from `jcmd GC.heap_dump -gz`, OpenJ9). */
export const DEFAULT_DUMP_PATTERNS = ['*.hprof', '*.hprof.gz', '*.phd'] as const;

/**
 * Object tags (x-amz-tagging) on every object the pipeline writes for a pod's dump, for bucket policies
 * (`s3:ExistingObjectTag/<key>`) and lifecycle rules that target a team. Values are the pod's namespace and name
 * (Kubernetes names, which fit S3's tag rules); a folder whose name is not one gets no tag.
 */
export const OBJECT_TAGS = {
  namespace: 'heapdump-pipeline.io/namespace',
  pod: 'heapdump-pipeline.io/pod',
} as const;

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

/** Objects the analyzer writes next to a dump: `<dump key><suffix>`. A finished `.leaks.json` means "analysed". */
export const LEAK_REPORT_SUFFIXES = {
  json: '.leaks.json',
  text: '.leaks.txt',
  /** Analyses started for the dump (JSON `{ attempts, startedAt, ... }`), written before each start. */
  attempts: '.leaks.attempts',
} as const;

/** The analyzer's HTTP endpoint the uploader POSTs to after each verified dump (on AGENT_HTTP_PORT). */
export const ANALYZER_WAKE_PATH = '/wake';
