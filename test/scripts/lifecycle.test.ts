/**
 * Install, upgrade and uninstall scripts (scripts/release/lifecycle.ts), tested without a cluster: what
 * they would prune (the allow-list covers every kind the pipeline creates, never the PVC or a Namespace),
 * and what they run, in which order, through a stand-in `oc` on PATH that records each call and answers
 * `api-resources` and `get pods` as a cluster would. No call reaches a real cluster.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as yaml from 'js-yaml';
import * as os from 'os';
import * as path from 'path';
import { synthPipeline } from '../../lib/synth';
import { KEPT_KINDS, lifecycleScripts, type ManifestObject, pipelineSelector, pruneAllowlist } from '../../scripts/release/lifecycle';
import { REPO_ROOT } from '../support/fresh-clone';

const DIST = path.join(REPO_ROOT, 'dist', 'heapdump-pipeline.k8s.yaml');
const distObjects = () => (yaml.loadAll(fs.readFileSync(DIST, 'utf8')) as ManifestObject[]).filter((o) => o !== null);
const DIGEST = `sha256:${'5'.repeat(64)}`;
const PINNED = `registry.example.com/heapdump/heapdump-agent:0.2.0@${DIGEST}`;
const entry = (o: ManifestObject) => `${o.apiVersion.includes('/') ? o.apiVersion : `core/${o.apiVersion}`}/${o.kind}`;

describe('what an upgrade may prune', () => {
  test('the allow-list covers every kind in dist/ but the PVC and the Namespaces', () => {
    const objects = distObjects();
    const allow = pruneAllowlist('openshift', objects);
    const kinds = [...new Set(objects.map(entry))];
    expect(kinds.filter((k) => !allow.includes(k)).sort()).toEqual(['core/v1/Namespace', 'core/v1/PersistentVolumeClaim']);
    expect(allow.filter((k) => /\/(PersistentVolumeClaim|Namespace)$/.test(k))).toEqual([]);
    expect([...KEPT_KINDS]).toEqual(['PersistentVolumeClaim', 'Namespace']);
  });

  test.each(['openshift', 'kubernetes'] as const)('%s: every kind of the pipeline in any configuration, also ones this manifest does not have (monitoring off)', (platform) => {
    const allow = pruneAllowlist(platform);
    const configs = [
      { monitoring: { enabled: true, scrapeKind: 'PodMonitor' as const } },
      { monitoring: { enabled: true, scrapeKind: 'ServiceMonitor' as const } },
      ...(platform === 'kubernetes' ? [{ app: { ingress: { host: 'a.example.com' } } }] : [{ uploader: { bucket: 'abc', caBundle: { source: 'openshift-trusted' as const } } }]),
    ];
    for (const c of configs) {
      const { objects } = synthPipeline({ agentImage: PINNED, platform, uploader: { bucket: 'abc' }, ...c });
      const missing = objects.map(entry).filter((k) => !/\/(PersistentVolumeClaim|Namespace)$/.test(k) && !allow.includes(k));
      expect({ c, missing }).toEqual({ c, missing: [] });
    }
    expect(allow).toEqual(expect.arrayContaining(['monitoring.coreos.com/v1/PodMonitor', 'monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule']));
    // kinds of the other platform stay out: kubectl refuses an allow-list entry the cluster cannot map
    if (platform === 'kubernetes') expect(allow.filter((k) => k.includes('openshift.io'))).toEqual([]);
  });

  test('the selector: part-of and the instance (the pipeline namespace), which every object carries', () => {
    expect(pipelineSelector(distObjects())).toBe('app.kubernetes.io/part-of=heapdump-pipeline,app.kubernetes.io/instance=heapdump-system');
    const two = [...distObjects(), ...(synthPipeline({ agentImage: PINNED, namePrefix: 'team-x-', uploader: { bucket: 'abc' } }).objects as ManifestObject[])];
    expect(() => pipelineSelector(two)).toThrow('the manifest holds 2 pipelines (heapdump-system, team-x-heapdump-system): expected one');
  });

  test('docs/upgrade.md lists the allow-list of each platform', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'upgrade.md'), 'utf8');
    for (const k of [...pruneAllowlist('openshift'), ...pruneAllowlist('kubernetes')]) expect({ k, documented: doc.includes(`\`${k}\``) }).toEqual({ k, documented: true });
  });
});

describe('the scripts, run against a stand-in oc', () => {
  let dir: string;
  const objects = () => synthPipeline({ agentImage: PINNED, uploader: { bucket: 'abc', prefix: '' }, monitoring: { enabled: false } }).objects as ManifestObject[];

  /** Writes the scripts for `objs` and a stand-in oc; `collected`: pods `get pods -l ...collected=true` lists. */
  function setUp(objs: ManifestObject[], collected = '') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
    fs.writeFileSync(path.join(dir, 'manifest.yaml'), objs.map((o) => yaml.dump(o, { lineWidth: -1 })).join('---\n'));
    for (const [name, text] of Object.entries(lifecycleScripts('manifest.yaml', objs))) fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
    // as cdk8s writes manifests: no line folding (the scripts' sed works on whole lines, as in a release)
    fs.mkdirSync(path.join(dir, 'bin'));
    // api-resources as a cluster with the Prometheus Operator's CRDs but no ServiceMonitor (NAME SHORTNAMES APIVERSION NAMESPACED KIND).
    const served = [...new Set(pruneAllowlist('openshift').filter((k) => !k.endsWith('/ServiceMonitor')))].map((k) => {
      const [group, version, kind] = k.split('/');
      return `${kind.toLowerCase()}s  ${kind === 'ConfigMap' ? 'cm' : ''}  ${group === 'core' ? version : `${group}/${version}`}  true  ${kind}`;
    });
    fs.writeFileSync(path.join(dir, 'api-resources.txt'), `${served.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'bin', 'oc'), `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "${dir}/calls.log"
for a in "$@"; do case "$a" in -f) next=1 ;; *) if [ "\${next:-}" = 1 ]; then cp "$a" "${dir}/applied-$(wc -l < "${dir}/calls.log").yaml"; next=; fi ;; esac; done
case "$1" in
  api-resources) cat "${dir}/api-resources.txt" ;;
  apply) if [ "\${2:-}" = --help ]; then echo '      --prune-allowlist=[]: Overwrite the default allowlist'; fi ;;
  diff) echo "diff -u old new"; exit 1 ;;
  get) printf '%s' "${collected}" ;;
esac
exit 0
`, { mode: 0o755 });
  }

  function run(script: string, args: string[] = [], env: Record<string, string> = {}) {
    const r = spawnSync('bash', [path.join(dir, script), ...args], {
      env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, ...env }, encoding: 'utf8', input: '', timeout: 30_000,
    });
    const log = fs.existsSync(path.join(dir, 'calls.log')) ? fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n') : [];
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls: log };
  }

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('every script is valid bash', () => {
    setUp(objects());
    for (const s of ['install.sh', 'upgrade.sh', 'uninstall.sh']) expect(spawnSync('bash', ['-n', path.join(dir, s)]).status).toBe(0);
  });

  test('upgrade.sh --yes: oc diff, a server-side dry run with the pruning, then the pruning apply and the rollouts; nothing deleted', () => {
    setUp(objects());
    const r = run('upgrade.sh', ['--yes']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const m = path.join(dir, 'manifest.yaml');
    const prune = `--prune -l app.kubernetes.io/part-of=heapdump-pipeline,app.kubernetes.io/instance=heapdump-system`;
    const calls = r.calls.filter((c) => !c.startsWith('apply --help') && c !== 'api-resources --no-headers');
    expect(calls.slice(0, 3)).toEqual([
      `diff -f ${m}`,
      expect.stringMatching(new RegExp(`^apply --dry-run=server -f ${m} ${prune} --prune-allowlist=`)),
      expect.stringMatching(new RegExp(`^apply -f ${m} ${prune} --prune-allowlist=`)),
    ]);
    const allow = [...calls[2].matchAll(/--prune-allowlist=(\S+)/g)].map((x) => x[1]);
    // every allow-listed kind the cluster serves; ServiceMonitor is not served by this stand-in
    expect(allow).toEqual(pruneAllowlist('openshift').filter((k) => !k.endsWith('/ServiceMonitor')));
    expect(calls.slice(3).every((c) => c.startsWith('rollout status '))).toBe(true);
    expect(r.calls.some((c) => c.startsWith('delete'))).toBe(false);
    expect(r.stdout).toContain('diff -u old new');
  });

  test('upgrade.sh without --yes and without a terminal applies nothing (exit 2)', () => {
    setUp(objects());
    const r = run('upgrade.sh');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run with --yes');
    expect(r.calls.filter((c) => c.startsWith('apply -f'))).toEqual([]);
  });

  test('uninstall.sh --yes: the webhook, then the uploader, then the guard, then the rest by name; the PVC and its namespace kept', () => {
    setUp(objects());
    const r = run('uninstall.sh', ['--yes']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const deletes = r.calls.filter((c) => c.startsWith('delete '));
    expect(deletes.slice(0, 3)).toEqual([
      'delete mutatingwebhookconfiguration.admissionregistration.k8s.io/heapdump-pipeline-inject --ignore-not-found --wait=true',
      'delete daemonset.apps/heap-dump-s3-uploader -n heapdump-system --ignore-not-found --wait=true',
      'delete daemonset.apps/dump-volume-manager -n heapdump-system --ignore-not-found --wait=true',
    ]);
    // each object of the manifest but the kept ones, exactly once
    const removable = objects().filter((o) => !['PersistentVolumeClaim', 'Namespace'].includes(o.kind) || (o.kind === 'Namespace' && o.metadata.name !== 'heapdump-system'));
    expect(deletes).toHaveLength(removable.length);
    expect(deletes.filter((c) => /persistentvolumeclaim|namespace\/heapdump-system/.test(c))).toEqual([]);
    expect(deletes).toContain('delete namespace/memory-leak-demo --ignore-not-found --wait=true');
    expect(r.stdout).toContain('kept: persistentvolumeclaim/dump-storage-pvc -n heapdump-system and namespace/heapdump-system');
  });

  test('uninstall.sh --delete-dumps also removes the PVC and the pipeline namespace, last', () => {
    setUp(objects());
    const r = run('uninstall.sh', ['--yes', '--delete-dumps']);
    expect(r.code).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('delete ')).slice(-2)).toEqual([
      'delete persistentvolumeclaim/dump-storage-pvc -n heapdump-system --ignore-not-found --wait=true',
      'delete namespace/heapdump-system --ignore-not-found --wait=true',
    ]);
  });

  test('uninstall.sh refuses while collected pods run (exit 2, nothing deleted), unless --force', () => {
    setUp(objects(), 'pod/orders-api-5d8f9c-x2k4p');
    const r = run('uninstall.sh', ['--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pod/orders-api-5d8f9c-x2k4p');
    expect(r.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
    expect(run('uninstall.sh', ['--yes', '--force']).code).toBe(0);
  });

  test('install.sh: a server-side dry run, then apply; IMAGE_REPO swaps the repository and keeps the digest everywhere', () => {
    setUp(objects());
    const r = run('install.sh', [], { IMAGE_REPO: 'quay.example.org/platform/heapdump-agent' });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.calls[0]).toMatch(/^apply --dry-run=server -f \S+$/);
    expect(r.calls[1]).toMatch(/^apply -f \S+$/);
    const appliedFile = fs.readdirSync(dir).filter((f) => f.startsWith('applied-')).sort().pop()!;
    const applied = fs.readFileSync(path.join(dir, appliedFile), 'utf8');
    expect(applied).not.toContain('registry.example.com/heapdump/heapdump-agent');
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      // image fields, INJECT_AGENT_IMAGE, and the admission policy's CEL that admits only this image
      if (typeof v === 'string') refs.push(...(v.match(/[a-z0-9.:/_-]*heapdump-agent[^\s'",)]*/g) ?? []));
      else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
    };
    yaml.loadAll(applied).forEach(walk);
    expect(refs.length).toBeGreaterThanOrEqual(5);
    expect([...new Set(refs)]).toEqual([`quay.example.org/platform/heapdump-agent:0.2.0@${DIGEST}`]);
    expect(run('install.sh', [], { IMAGE_REPO: 'Quay.example.org/$(reboot)' }).code).toBe(2);
  });
});
