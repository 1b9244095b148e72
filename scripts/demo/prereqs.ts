/**
 * What `npm run demo` needs from the machine, checked before anything starts: a JDK (the demo application is
 * `java /app/Leak.java`, a single-source launch that compiles in the JVM: javac's module is needed), util-linux
 * (unshare, nsenter, setpriv, mount, findmnt: the simulated node), openssl (optional: the Kubernetes API stand-in's
 * TLS certificate, for the Events), and a private mount namespace: as root the real thing; without root, inside a user namespace (the degraded path).
 *
 * A missing piece is one line (DemoError: what is missing, where it was looked for, how to get it), never a
 * stack trace. What runs differently from a cluster is listed in `degraded`, and the demo prints it.
 */
import { spawnSync } from 'child_process';
import { accessSync, constants, existsSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cgroupV1Available } from '../../test/e2e/cgroup-v1';
import { REPO_ROOT } from '../../test/e2e/manifests';
import { mountNamespaceSupport } from '../../test/support/mountns';

/** A problem the user can fix: printed as one line, exit code 2. */
export class DemoError extends Error {}

export interface DemoEnvironment {
  /** `root`: a private mount namespace as root; `user`: inside a user namespace where the caller is uid 0. */
  readonly mode: 'root' | 'user';
  /** Containers get their manifest's cgroup limits and probes. */
  readonly cgroups: boolean;
  /** openssl is there to make the Kubernetes API stand-in's certificate (else no Events are shown). */
  readonly openssl: boolean;
  /** The Node binary the agents run, and whether it is the image's (Node 24). */
  readonly node: { readonly binary: string; readonly version: string; readonly image: boolean };
  readonly javaVersion: string;
  /** What differs from the pipeline as deployed, one phrase each (printed at the start). */
  readonly degraded: readonly string[];
}

const UTIL_LINUX = ['unshare', 'nsenter', 'setpriv', 'mount', 'findmnt'];
/** The image's Node, fetched by `bash scripts/fetch-node.sh` (npm run setup:test runs it). */
export const IMAGE_NODE = path.join(REPO_ROOT, '.cache', 'node-24', 'bin', 'node');

/** The first executable `name` on PATH, or undefined. */
export function onPath(name: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(':').filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `java -version`'s version string (it prints to stderr), e.g. `17.0.15`; undefined when it does not run. */
function javaVersion(java: string): string | undefined {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '' } });
  return /version "([^"]+)"/.exec(`${r.stderr}${r.stdout}`)?.[1];
}

export function checkPrerequisites(): DemoEnvironment {
  if (process.platform !== 'linux') throw new DemoError(`the demo simulates a Linux node (mount namespaces, cgroups): this is ${process.platform}, expected linux`);
  const pathVar = process.env.PATH ?? '';
  const missingJdk = ['java', 'javac'].filter((c) => onPath(c, pathVar) === undefined);
  if (missingJdk.length > 0) {
    throw new DemoError(
      `the demo runs its application on a real JVM and needs a JDK 11 or later: ${missingJdk.join(' and ')} not found on PATH ` +
        `(${pathVar || 'empty'}); install one (Debian: apt-get install openjdk-17-jdk-headless) or put its bin/ on PATH`,
    );
  }
  const version = javaVersion(onPath('java', pathVar)!);
  const major = Number(/^(?:1\.)?(\d+)/.exec(version ?? '')?.[1] ?? 0);
  if (major < 11) {
    throw new DemoError(`the demo application is launched as \`java Leak.java\` (JDK 11 or later): java on PATH reports ${version === undefined ? 'nothing usable' : `version ${version}`}`);
  }
  const missingTools = UTIL_LINUX.filter((c) => onPath(c, pathVar) === undefined);
  if (missingTools.length > 0) {
    throw new DemoError(`the simulated node needs util-linux: ${missingTools.join(', ')} not found on PATH (${pathVar}); Debian: apt-get install util-linux mount`);
  }

  const openssl = onPath('openssl', pathVar) !== undefined;
  const ns = mountNamespaceSupport();
  if (ns.mode === undefined) {
    throw new DemoError(`the simulated node needs a private mount namespace: run as root (sudo npm run demo), or allow unprivileged user namespaces (${ns.reason})`);
  }
  const degraded: string[] = [];
  const root = ns.mode === 'root';
  // as root the containers run as the manifests' users (the app 1000, the analyzer 1001): they must reach the node's temp dir
  const closed = root ? closedAncestor(os.tmpdir()) : undefined;
  if (closed !== undefined) {
    throw new DemoError(`the simulated node lives under TMPDIR (${os.tmpdir()}), but ${closed} is closed to other users (mode without o+x), and the containers run as other uids; set TMPDIR to a directory such as /tmp`);
  }
  if (!root) {
    degraded.push(
      'not root: the node runs in a user namespace where you are uid 0 (real bind mounts, but only there); every container ' +
        'runs as your own user (the app not as uid 1000, the analyzer not as 1001), no cgroup limits, no probes',
    );
  }
  const cgroups = root && cgroupV1Available();
  if (root && !cgroups) degraded.push('no cgroup v1 memory/cpu hierarchy here: the containers run without their resource limits and probes');

  if (!openssl) degraded.push('no openssl on PATH: no Kubernetes API stand-in (its TLS certificate), so the agents\' Events go nowhere and are not shown');
  const imageNode = existsSync(IMAGE_NODE);
  const binary = imageNode ? IMAGE_NODE : process.execPath;
  const nodeVersion = imageNode ? spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim() : process.version;
  if (!imageNode) degraded.push(`the agents run on this machine's Node ${process.version}, not the image's Node 24 (bash scripts/fetch-node.sh fetches it)`);
  return { mode: ns.mode, cgroups, openssl, node: { binary, version: nodeVersion, image: imageNode }, javaVersion: version!, degraded };
}

/** The first directory from `dir` up that others cannot enter (no o+x), or undefined. */
function closedAncestor(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d;
    if (d === path.dirname(d)) return undefined;
  }
}
