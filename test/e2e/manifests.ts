/**
 * The synthesized manifests, as the simulation reads them: the mount guard DaemonSet, the uploader
 * DaemonSet, the application Deployment and the ConfigMaps they reference. The workloads are found
 * by what they run (the agent sub-command in `args`, the `wait-ready` init container), not by name,
 * so renaming a construct does not break the simulation, while changing a path or variable changes
 * what the simulation does.
 *
 * Source: an in-memory synth of the repo's config (lib/synth.ts), or a directory of YAML files.
 */
import { existsSync, readdirSync, readFileSync } from 'fs';
import * as yaml from 'js-yaml';
import * as path from 'path';
import { COMMANDS } from '../../agent/src/contract';
import { readPipelineConfig } from '../../lib/config-file';
import { synthPipeline } from '../../lib/synth';
import type { Container, K8sObject, PodSpec } from './kubelet-sim';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface Workload {
  readonly object: K8sObject;
  readonly name: string;
  readonly namespace: string;
  readonly spec: PodSpec;
}

export interface Manifests {
  readonly dir: string;
  readonly objects: readonly K8sObject[];
  readonly guard: Workload;
  readonly uploader: Workload;
  readonly app: Workload;
  /** ConfigMaps by name: key -> content. */
  readonly configMaps: Record<string, Record<string, string>>;
}

function fail(what: string, value: unknown, expected: string): never {
  throw new Error(`e2e manifests: ${what} is ${JSON.stringify(value)}, expected ${expected}`);
}

/** Parses every `*.yaml`/`*.yml` file of `dir` (multi-document), in file order. */
export function readManifestDir(dir: string): K8sObject[] {
  if (!existsSync(dir)) fail('manifest directory', dir, 'an existing directory (run `npm run synth`)');
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) fail(`YAML files in ${dir}`, [], 'at least one (run `npm run synth`)');
  const objects: K8sObject[] = [];
  for (const f of files) {
    for (const doc of yaml.loadAll(readFileSync(path.join(dir, f), 'utf8'))) {
      if (doc && typeof doc === 'object' && 'kind' in doc) objects.push(doc as K8sObject);
    }
  }
  return objects;
}

function podSpecOf(o: K8sObject): PodSpec | undefined {
  const spec = o.spec as { template?: { spec?: PodSpec } } | undefined;
  return spec?.template?.spec;
}

const runsAgent = (c: Container, cmd: string) => (c.args ?? [])[0] === cmd || (c.command ?? []).includes(cmd);

function findWorkload(objects: readonly K8sObject[], what: string, match: (o: K8sObject, spec: PodSpec) => boolean): Workload {
  const hits = objects.filter((o) => {
    const spec = podSpecOf(o);
    return spec !== undefined && match(o, spec);
  });
  if (hits.length !== 1) fail(`number of ${what}`, hits.map((h) => `${h.kind}/${h.metadata.name}`), 'exactly one');
  const o = hits[0];
  return { object: o, name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', spec: podSpecOf(o) as PodSpec };
}

/** Picks the workloads out of a list of objects. */
export function pickWorkloads(dir: string, objects: readonly K8sObject[]): Manifests {
  const guard = findWorkload(objects, 'DaemonSets running mount-guard', (o, s) =>
    o.kind === 'DaemonSet' && s.containers.some((c) => runsAgent(c, COMMANDS.mountGuard)));
  const uploader = findWorkload(objects, 'DaemonSets running the uploader', (o, s) =>
    o.kind === 'DaemonSet' && s.containers.some((c) => runsAgent(c, COMMANDS.uploader)));
  const app = findWorkload(objects, 'Deployments gated by wait-ready', (o, s) =>
    o.kind === 'Deployment' && (s.initContainers ?? []).some((c) => runsAgent(c, COMMANDS.waitReady)));
  const configMaps: Record<string, Record<string, string>> = {};
  for (const o of objects) {
    if (o.kind === 'ConfigMap') configMaps[o.metadata.name] = { ...((o.data as Record<string, string>) ?? {}) };
  }
  return { dir, objects, guard, uploader, app, configMaps };
}

let cached: Manifests | undefined;

/**
 * The manifests the simulation runs: synthesized in memory from the repo's config file (as
 * `npm run synth` does for dist/: PIPELINE_CONFIG or pipeline.config.json), so the test follows the
 * constructs; or the YAML files of E2E_MANIFESTS_DIR (e.g. `dist/`) when set.
 */
export function loadManifests(): Manifests {
  if (cached) return cached;
  const dir = process.env.E2E_MANIFESTS_DIR;
  if (dir) {
    cached = pickWorkloads(dir, readManifestDir(dir));
  } else {
    const configFile = process.env.PIPELINE_CONFIG ?? path.join(REPO_ROOT, 'pipeline.config.json');
    const props = readPipelineConfig(configFile);
    const { objects } = synthPipeline(props);
    // through JSON, so the objects are plain data like parsed YAML
    cached = pickWorkloads(`synth(${configFile})`, JSON.parse(JSON.stringify(objects)) as K8sObject[]);
  }
  return cached;
}

/** The one container of a workload that runs `cmd` (agent sub-command) or, without cmd, the one that is not an agent. */
export function containerOf(w: Workload, cmd?: string, init = false): Container {
  const list = (init ? w.spec.initContainers : w.spec.containers) ?? [];
  const agentCmds: string[] = Object.values(COMMANDS);
  const hits = list.filter((c) => (cmd ? runsAgent(c, cmd) : !agentCmds.some((a) => runsAgent(c, a))));
  if (hits.length !== 1) fail(`${init ? 'init ' : ''}containers of ${w.name} running ${cmd ?? 'the application'}`, hits.map((c) => c.name), 'exactly one');
  return hits[0];
}
