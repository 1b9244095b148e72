/**
 * The agent image in tests: built by `npm run image`, run with podman through scripts/image/podman.sh
 * (the repository's image store and settings), a container's flags derived from a synthesized
 * container spec the way a kubelet would apply it (user, capabilities, no_new_privs, read-only root,
 * volumes with their propagation, env), so the test runs the image as the manifests run it.
 *
 * Containers are named per test process, registered for cleanup and removed by name (`podman rm -f`);
 * credentials reach podman through its environment (`-e NAME` passes the value through), never argv.
 */
import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import type { Container, PodContext, PodSpec } from '../e2e/kubelet-sim';
import { processIdentity, resolveEnv } from '../e2e/kubelet-sim';
import { registerCleanup, repoPath, runTracked, spawnTracked, TrackedProcess } from './procs';

export const PODMAN_SH = repoPath('scripts', 'image', 'podman.sh');

/** Debian packages `npm run image` needs (scripts/setup-test.sh installs them). */
const IMAGE_TOOLS = ['podman', 'runc', 'mmdebstrap'];

/** Throws one clear error naming what is missing: the image tests never skip. */
export function requireImageTools(): void {
  const missing = IMAGE_TOOLS.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`image tests: ${missing.join(', ')} not installed; run \`npm run setup:test\` as root (it installs podman, runc, mmdebstrap)`);
  }
}

/** The tag `npm run image` gives the image (scripts/image/build.sh). */
export function agentImageName(): string {
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  return `localhost/heapdump-agent:${pkg.version}`;
}

/** The default of a global `ARG NAME=value` of agent/Dockerfile. */
export function dockerfileArgDefault(name: string): string {
  const m = new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(readFileSync(repoPath('agent', 'Dockerfile'), 'utf8'));
  if (!m) throw new Error(`agent/Dockerfile has no 'ARG ${name}=<default>'`);
  return m[1];
}

function podmanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

/** Runs scripts/image/podman.sh to completion (never rejects on a non-zero exit). */
export function podman(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return runTracked(PODMAN_SH, args, { env: podmanEnv(opts.env), timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** `npm run image`, with its output and duration. */
export async function buildAgentImage(timeoutMs: number): Promise<{ code: number; output: string; seconds: number }> {
  const t0 = Date.now();
  const r = await runTracked('npm', ['run', '--silent', 'image'], { cwd: repoPath(), env: { ...process.env, NODE_OPTIONS: '' }, timeoutMs });
  return { code: r.code, output: `${r.stdout}\n${r.stderr}`, seconds: (Date.now() - t0) / 1000 };
}

export interface ImageInspect {
  readonly Size: number;
  readonly Config: { User?: string; Entrypoint?: string[]; Cmd?: string[] | null; Labels?: Record<string, string> };
}

export async function inspectImage(image: string): Promise<ImageInspect> {
  const r = await podman(['image', 'inspect', image]);
  if (r.code !== 0) throw new Error(`podman image inspect ${image} failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as ImageInspect[])[0];
}

let seq = 0;

/** A container name unique to this test process; registered for `podman rm -f` at disposeAll(). */
export function containerName(what: string): string {
  const name = `heapdump-test-${what}-${process.pid}-${++seq}`;
  registerCleanup(async () => void (await podman(['rm', '--force', '--time', '0', '--ignore', name])));
  return name;
}

/** How the test maps the pod onto this machine. */
export interface PodmanPod {
  /** hostPath volume path (as in the manifest) -> directory of this machine. */
  readonly hostPaths: Readonly<Record<string, string>>;
  /** What the kubelet knows about the pod (env fieldRefs, ConfigMaps, Secrets). */
  readonly ctx: PodContext;
  /** Variables the test sets on top of the manifest's (reported by the test). */
  readonly envOverrides?: Readonly<Record<string, string>>;
  /**
   * There is no API server here: leave out projected ServiceAccount token volumes (the test then
   * turns off what needs them, e.g. NOTIFY_KUBE_EVENTS). @default false: such a volume is an error
   */
  readonly withoutApiAccess?: boolean;
}

const PROPAGATION: Record<string, string | undefined> = { None: undefined, HostToContainer: 'rslave', Bidirectional: 'rshared' };

/**
 * `podman run` flags (before the image) and the environment for podman that give a container what
 * this spec asks of a kubelet. Only what the agent's containers use is translated; anything else
 * (privileged, configMap/secret/PVC volumes, subPath) is an error here, not silently dropped.
 */
export function runFlags(spec: PodSpec, container: Container, pod: PodmanPod): { flags: string[]; env: Record<string, string> } {
  const sc = (container.securityContext ?? {}) as Container['securityContext'] & { readOnlyRootFilesystem?: boolean };
  const id = processIdentity(spec, container, 1001);
  if (id.privileged) throw new Error(`podman runFlags: container '${container.name}' is privileged; not translated here`);
  const flags = [`--user=${id.uid}:${id.gid}`, '--cap-drop=ALL', ...id.caps.map((c) => `--cap-add=${c.toUpperCase()}`)];
  if (id.noNewPrivs) flags.push('--security-opt=no-new-privileges');
  // as readOnlyRootFilesystem: no tmpfs on /tmp, /run, /var/tmp unless a volume asks for one
  if (sc.readOnlyRootFilesystem) flags.push('--read-only', '--read-only-tmpfs=false');
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  for (const m of container.volumeMounts ?? []) {
    const vol = volumes.get(m.name);
    if (!vol) throw new Error(`podman runFlags: volumeMount '${m.name}' names no volume of the pod`);
    if (pod.withoutApiAccess && (vol as { projected?: { sources?: Array<{ serviceAccountToken?: unknown }> } }).projected?.sources?.some((x) => x.serviceAccountToken)) continue;
    if (m.subPath || m.subPathExpr) throw new Error(`podman runFlags: subPath of '${m.name}' is not translated here`);
    if (vol.emptyDir) {
      flags.push(`--tmpfs=${m.mountPath}:rw,nosuid,nodev`);
    } else if (vol.hostPath) {
      const src = pod.hostPaths[vol.hostPath.path];
      if (!src) throw new Error(`podman runFlags: hostPath ${vol.hostPath.path} has no directory in this test (hostPaths: ${Object.keys(pod.hostPaths).join(', ')})`);
      const propagation = PROPAGATION[m.mountPropagation ?? 'None'];
      if (m.mountPropagation !== undefined && !(m.mountPropagation in PROPAGATION)) throw new Error(`podman runFlags: mountPropagation ${m.mountPropagation}`);
      if (propagation === 'rshared') throw new Error(`podman runFlags: Bidirectional propagation of '${m.name}' needs a privileged container`);
      const opts = [m.readOnly ? 'ro' : 'rw', ...(propagation ? [propagation] : [])];
      flags.push(`--volume=${src}:${m.mountPath}:${opts.join(',')}`);
    } else {
      throw new Error(`podman runFlags: volume '${vol.name}' is not a hostPath or emptyDir; not translated here`);
    }
  }
  const env = { ...resolveEnv(container, pod.ctx), ...(pod.envOverrides ?? {}) };
  for (const name of Object.keys(env)) flags.push('--env', name); // value from podman's own environment
  return { flags, env };
}

/** Starts `podman run` in the foreground (its exit code is the container's); stop it with stopContainer(). */
export function runContainer(name: string, image: string, flags: string[], args: string[], env: Record<string, string> = {}): TrackedProcess {
  return spawnTracked(PODMAN_SH, ['run', '--rm', '--pull=never', `--name=${name}`, ...flags, image, ...args], {
    env: podmanEnv(env),
    maxLines: 100_000,
  });
}

/** Parsed JSON log lines of the agent (other lines ignored). */
export function jsonLines(lines: readonly string[]): Array<Record<string, unknown>> {
  return lines.flatMap((l) => {
    try {
      const v = JSON.parse(l) as unknown;
      return v && typeof v === 'object' ? [v as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}
