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

/**
 * Environment variables, by setting id: generated from the settings table (agent/src/settings/table.ts,
 * where each variable's type, default and documentation live). Prototype names are kept as they were.
 */
export { ENV, type EnvName } from './generated/env';

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
} as const;
