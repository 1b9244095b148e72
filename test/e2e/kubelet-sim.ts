/**
 * A tiny stand-in for the kubelet, for the one-node simulation: there are no containers here, so a
 * "container" is a process whose container paths are translated to directories of the simulated node.
 *
 * Everything is derived from the synthesized manifests (pod spec + container), never from test
 * constants: env (envFrom, fieldRef, configMap/secret refs, `$(VAR)` expansion as the kubelet does it),
 * the volume mounts (hostPath -> `<sim>/node<path>`, PVC -> a directory standing for the claim,
 * configMap -> a directory holding the ConfigMap's files, subPath/subPathExpr appended), and the
 * security context (user, capabilities) turned into `setpriv` arguments.
 *
 * Pure functions only (no I/O), so they are unit-tested in kubelet-sim.test.ts.
 */
import * as path from 'path';

/** The subset of the Kubernetes API shapes read here (plain objects parsed from YAML). */
export interface K8sObject {
  apiVersion?: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    resourceFieldRef?: { resource: string; divisor?: string };
  };
}
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  subPathExpr?: string;
  readOnly?: boolean;
  mountPropagation?: string;
}
export interface Capabilities {
  add?: string[];
  drop?: string[];
}
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  capabilities?: Capabilities;
  allowPrivilegeEscalation?: boolean;
}
export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
/** An httpGet probe (the only kind the manifests use). */
export interface Probe {
  httpGet?: { path?: string; port: string | number; host?: string; scheme?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}
export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  configMap?: { name: string; items?: Array<{ key: string; path: string }>; defaultMode?: number };
  secret?: { secretName: string; items?: Array<{ key: string; path: string }>; defaultMode?: number };
  emptyDir?: Record<string, unknown>;
  /** A projected ServiceAccount token volume (token, CA, namespace): materialized by the caller. */
  projected?: { sources: unknown[]; defaultMode?: number };
}
export interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext & { fsGroup?: number };
  nodeName?: string;
}

/** What the kubelet knows about the pod being started, plus where the simulated node keeps things. */
export interface PodContext {
  readonly nodeName: string;
  readonly namespace: string;
  readonly podName: string;
  readonly podIP?: string;
  readonly serviceAccountName?: string;
  /** ConfigMaps by name: key -> content. */
  readonly configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Secrets by name: key -> value (the test's own credentials; never the manifests' placeholders). */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Where the simulated node keeps the volume sources. */
export interface NodeLayout {
  /** Root of the node's file system: hostPath `/mnt/dump` is `<nodeRoot>/mnt/dump`. */
  readonly nodeRoot: string;
  /** Directory standing for each PVC (claim name -> directory). */
  readonly claims: Readonly<Record<string, string>>;
  /** Directory holding the files of a configMap volume (volume name -> directory), materialized by the caller. */
  readonly configMapDirs: Readonly<Record<string, string>>;
  /** Parent of emptyDir volumes of this pod. */
  readonly emptyDirRoot: string;
  /** Directory holding the files of a projected volume (volume name -> directory), materialized by the caller. */
  readonly projectedDirs?: Readonly<Record<string, string>>;
  /** Directory holding the files of a secret volume (volume name -> directory), materialized by the caller. */
  readonly secretDirs?: Readonly<Record<string, string>>;
}

/** One volume mount resolved to a directory (or file) of the simulated node. */
export interface MountEntry {
  readonly mountPath: string;
  readonly source: string;
  readonly volume: string;
  readonly propagation: string;
  readonly readOnly: boolean;
}

function fail(what: string, value: unknown, expected: string): never {
  throw new Error(`kubelet-sim: ${what} is ${JSON.stringify(value)}, expected ${expected}`);
}

/**
 * Expands `$(VAR)` like the kubelet: `$$` is a literal `$`, a reference to an undefined variable is
 * left as written, anything else is copied.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close > 0) {
        const name = input.slice(i + 2, close);
        const value = lookup(name);
        out += value ?? `$(${name})`;
        i = close;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

/** The downward API fields the manifests may reference. */
function fieldValue(fieldPath: string, ctx: PodContext): string {
  switch (fieldPath) {
    case 'spec.nodeName':
      return ctx.nodeName;
    case 'metadata.name':
      return ctx.podName;
    case 'metadata.namespace':
      return ctx.namespace;
    case 'status.podIP':
    case 'status.hostIP':
      return ctx.podIP ?? '127.0.0.1';
    case 'spec.serviceAccountName':
      return ctx.serviceAccountName ?? 'default';
    default:
      return fail('fieldRef.fieldPath', fieldPath, 'one of spec.nodeName, metadata.name, metadata.namespace, status.podIP');
  }
}

function refValue(
  kind: 'configMap' | 'secret',
  store: PodContext['configMaps'],
  ref: { name: string; key: string; optional?: boolean },
): string | undefined {
  const value = store[ref.name]?.[ref.key];
  if (value === undefined && !ref.optional) fail(`${kind} key '${ref.name}/${ref.key}'`, undefined, 'a value (the object is not in the simulation)');
  return value;
}

const QUANTITY: Record<string, number> = { '': 1, m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/**
 * A resourceFieldRef of the container itself, as the kubelet renders it with the default divisor 1: bytes for
 * memory, whole cores (rounded up) for CPU.
 */
function resourceValue(container: Container, ref: { containerName?: string; resource: string }): string {
  if (ref.containerName !== undefined && ref.containerName !== container.name) fail('resourceFieldRef.containerName', ref.containerName, `the container itself (${container.name})`);
  const [section, what] = ref.resource.split('.') as ['limits' | 'requests', string];
  const q = (container as { resources?: Record<string, Record<string, string | number> | undefined> }).resources?.[section]?.[what];
  if (q === undefined) fail(`resourceFieldRef ${ref.resource} of container '${container.name}'`, undefined, 'a value in its resources');
  const m = /^(\d+(?:\.\d+)?)(m|[KMGT]i|[kMGT])?$/.exec(String(q));
  if (!m) fail(`resource quantity ${ref.resource}`, q, 'a plain quantity');
  return String(Math.ceil(Number(m[1]) * QUANTITY[m[2] ?? '']));
}

/** The container's environment as the kubelet builds it: envFrom first, then env in order with `$(VAR)` expansion. */
export function resolveEnv(container: Container, ctx: PodContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const src of container.envFrom ?? []) {
    const prefix = src.prefix ?? '';
    const ref = src.configMapRef ?? src.secretRef;
    if (!ref) fail(`envFrom of container '${container.name}'`, src, 'configMapRef or secretRef');
    const store = src.configMapRef ? ctx.configMaps : ctx.secrets;
    const data = store[ref.name];
    if (data === undefined && !ref.optional) fail(`envFrom '${ref.name}' of container '${container.name}'`, undefined, 'an object in the simulation');
    for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
  }
  for (const e of container.env ?? []) {
    let value: string | undefined;
    if (e.value !== undefined) value = expandVars(e.value, (n) => env[n]);
    else if (e.valueFrom?.fieldRef) value = fieldValue(e.valueFrom.fieldRef.fieldPath, ctx);
    else if (e.valueFrom?.configMapKeyRef) value = refValue('configMap', ctx.configMaps, e.valueFrom.configMapKeyRef);
    else if (e.valueFrom?.secretKeyRef) value = refValue('secret', ctx.secrets, e.valueFrom.secretKeyRef);
    else if (e.valueFrom?.resourceFieldRef) value = resourceValue(container, e.valueFrom.resourceFieldRef);
    else value = '';
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/** Resolves each volumeMount of the container to its source directory on the simulated node. */
export function mountTable(spec: PodSpec, container: Container, env: Record<string, string>, layout: NodeLayout): MountEntry[] {
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  return (container.volumeMounts ?? []).map((m) => {
    const vol = volumes.get(m.name);
    if (!vol) fail(`volumeMount '${m.name}' of container '${container.name}'`, m.name, `one of the pod's volumes (${[...volumes.keys()].join(', ')})`);
    let source: string;
    if (vol.hostPath) source = path.join(layout.nodeRoot, vol.hostPath.path);
    else if (vol.persistentVolumeClaim) {
      const dir = layout.claims[vol.persistentVolumeClaim.claimName];
      if (!dir) fail(`claim of volume '${vol.name}'`, vol.persistentVolumeClaim.claimName, `one of ${Object.keys(layout.claims).join(', ')}`);
      source = dir;
    } else if (vol.configMap) {
      const dir = layout.configMapDirs[vol.name];
      if (!dir) fail(`configMap volume '${vol.name}'`, vol.configMap.name, 'a directory materialized by the caller');
      source = dir;
    } else if (vol.secret) {
      const dir = layout.secretDirs?.[vol.name];
      if (!dir) fail(`secret volume '${vol.name}'`, vol.secret.secretName, 'a directory materialized by the caller');
      source = dir;
    } else if (vol.emptyDir) source = path.join(layout.emptyDirRoot, vol.name);
    else if (vol.projected) {
      const dir = layout.projectedDirs?.[vol.name];
      if (!dir) fail(`projected volume '${vol.name}'`, vol.projected, 'a directory materialized by the caller');
      source = dir;
    } else return fail(`volume '${vol.name}'`, Object.keys(vol), 'hostPath, persistentVolumeClaim, configMap, secret, emptyDir or projected');
    if (m.subPath && m.subPathExpr) fail(`volumeMount '${m.name}'`, m, 'subPath or subPathExpr, not both');
    let sub = m.subPath;
    if (m.subPathExpr) {
      sub = expandVars(m.subPathExpr, (n) => env[n]);
      if (sub.includes('$(')) fail(`subPathExpr of volumeMount '${m.name}'`, m.subPathExpr, 'only references to variables of the container env');
    }
    if (sub) {
      if (path.isAbsolute(sub) || sub.split('/').includes('..')) fail(`subPath of volumeMount '${m.name}'`, sub, 'a relative path without ..');
      source = path.join(source, sub);
    }
    return {
      mountPath: path.posix.normalize(m.mountPath),
      source,
      volume: m.name,
      propagation: m.mountPropagation ?? 'None',
      readOnly: m.readOnly ?? false,
    };
  });
}

/** Translates one absolute container path through the mount table (longest mountPath wins); undefined when not under a mount. */
export function translatePath(p: string, table: readonly MountEntry[]): string | undefined {
  if (!p.startsWith('/')) return undefined;
  const norm = path.posix.normalize(p);
  let best: MountEntry | undefined;
  for (const m of table) {
    const under = norm === m.mountPath || norm.startsWith(m.mountPath.endsWith('/') ? m.mountPath : m.mountPath + '/');
    if (under && (!best || m.mountPath.length > best.mountPath.length)) best = m;
  }
  if (!best) return undefined;
  return path.join(best.source, path.posix.relative(best.mountPath, norm));
}

/**
 * Translates the container paths inside one word: a whole absolute path (`/app/Leak.java`) or the value of
 * an option (`-XX:HeapDumpPath=/dumps`, `--file=/x`). Words not naming a mounted path are unchanged.
 */
export function translateWord(word: string, table: readonly MountEntry[]): string {
  const whole = translatePath(word, table);
  if (whole !== undefined) return whole;
  const eq = word.indexOf('=');
  if (eq > 0) {
    const value = translatePath(word.slice(eq + 1), table);
    if (value !== undefined) return word.slice(0, eq + 1) + value;
  }
  return word;
}

/** Translates every whitespace-separated word of a value (env values like JAVA_TOOL_OPTIONS hold several). */
export function translateValue(value: string, table: readonly MountEntry[]): string {
  return value
    .split(/(\s+)/)
    .map((w) => (/^\s*$/.test(w) ? w : translateWord(w, table)))
    .join('');
}

export function translateEnv(env: Record<string, string>, table: readonly MountEntry[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, translateValue(v, table)]));
}

/** The container's command line: command + args with `$(VAR)` expanded, then container paths translated. */
export function commandLine(container: Container, env: Record<string, string>, table: readonly MountEntry[]): string[] {
  const words = [...(container.command ?? []), ...(container.args ?? [])];
  return words.map((w) => translateWord(expandVars(w, (n) => env[n]), table));
}

/** The Linux capabilities a CRI runtime (CRI-O) grants by default to a container. */
export const DEFAULT_CAPS = ['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'net_bind_service', 'setgid', 'setuid', 'setpcap'];

export interface ProcessIdentity {
  readonly privileged: boolean;
  readonly uid: number;
  readonly gid: number;
  /** Bounding/effective capabilities, lower case without CAP_ (meaningful for uid 0 only). */
  readonly caps: readonly string[];
  /** allowPrivilegeEscalation: false -> no_new_privs. */
  readonly noNewPrivs: boolean;
}

/**
 * The identity a container process gets: user from the container or pod securityContext (or the
 * `defaultUid` the SCC would assign when the manifest leaves it open), capabilities = runtime defaults
 * minus drop plus add. As in Kubernetes, added capabilities do not reach a non-root process (no ambient set).
 */
export function processIdentity(spec: PodSpec, container: Container, defaultUid: number): ProcessIdentity {
  const sc = container.securityContext ?? {};
  const psc = spec.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser ?? defaultUid;
  const gid = sc.runAsGroup ?? psc.runAsGroup ?? (uid === 0 ? 0 : uid);
  if (sc.runAsNonRoot === true && uid === 0) fail(`container '${container.name}' runAsNonRoot with uid`, uid, 'a non-zero uid');
  if (sc.privileged) return { privileged: true, uid, gid, caps: [], noNewPrivs: false };
  const drop = (sc.capabilities?.drop ?? []).map((c) => c.toLowerCase().replace(/^cap_/, ''));
  const add = (sc.capabilities?.add ?? []).map((c) => c.toLowerCase().replace(/^cap_/, ''));
  const base = drop.includes('all') ? [] : DEFAULT_CAPS.filter((c) => !drop.includes(c));
  const caps = uid === 0 ? [...new Set([...base, ...add])] : [];
  return { privileged: false, uid, gid, caps, noNewPrivs: sc.allowPrivilegeEscalation === false };
}

/** `setpriv` arguments that give a process this identity (empty for a privileged container). */
export function setprivArgs(id: ProcessIdentity): string[] {
  if (id.privileged) return [];
  const bounding = ['-all', ...id.caps.map((c) => `+${c}`)].join(',');
  const args = ['setpriv'];
  if (id.uid !== 0 || id.gid !== 0) args.push(`--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups');
  args.push('--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${bounding}`);
  if (id.noNewPrivs) args.push('--no-new-privs');
  args.push('--');
  return args;
}
