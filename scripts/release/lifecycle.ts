/**
 * Install, upgrade and uninstall as one command each: shell scripts generated from one synthesized
 * manifest file (a release's, or your own dist/), so a platform engineer can read exactly what they do.
 *
 * - install.sh: a server-side dry run, then `oc apply`, then waits for the rollouts.
 * - upgrade.sh: `oc diff` (what changes), a server-side dry run of the pruning apply (what would be
 *   deleted), a confirmation (or --yes), then `oc apply --prune` with the pipeline's labels and an
 *   allow-list of the kinds this manifest has, so objects a new version no longer has are removed.
 * - uninstall.sh: stops collection first (the webhook), the uploader, then the mount guard, then deletes
 *   every other object of the manifest by kind and name. The dump volume (the PVC) and its namespace are
 *   kept unless --delete-dumps: dumps not yet in S3 live there.
 *
 * Never pruned or deleted by default: PersistentVolumeClaims (the dumps in flight: a deleted claim takes
 * its volume with it when the reclaim policy is Delete) and Namespaces (deleting one deletes everything in
 * it, the PVC and your Secrets included). `OC=kubectl` runs them with kubectl.
 */
import { KEPT_KINDS, type ManifestObject, pinnedAgentImage, pipelineSelector, platformOf, pruneAllowlist } from './manifest-facts';

export * from './manifest-facts';

/** `kind/name` with `-n namespace`, as oc takes it. */
function ref(o: ManifestObject): string {
  return `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}/${o.metadata.name}`.replace('./', '/') + (o.metadata.namespace ? ` -n ${o.metadata.namespace}` : '');
}

/** The pipeline's namespace: the namespace of its PVC (where the dumps are). */
function pipelineNamespace(objects: readonly ManifestObject[]): string {
  const pvc = objects.find((o) => o.kind === 'PersistentVolumeClaim');
  if (pvc?.metadata.namespace === undefined) throw new Error('the manifest has no PersistentVolumeClaim: not a heapdump-pipeline manifest');
  return pvc.metadata.namespace;
}

/** IMAGE_REPO=<your registry's repository>: the same image, by the same digest, from where you pushed it. */
function imageRepoSwitch(objects: readonly ManifestObject[]): string {
  const pinned = pinnedAgentImage(objects);
  if (pinned === undefined) {
    return 'if [ -n "${IMAGE_REPO:-}" ]; then echo "IMAGE_REPO: this manifest does not pin the agent image by digest" >&2; exit 2; fi\n';
  }
  const [repoAndTag, digest] = pinned.split('@');
  const slash = repoAndTag.lastIndexOf('/');
  const colon = repoAndTag.lastIndexOf(':');
  const repo = colon > slash ? repoAndTag.slice(0, colon) : repoAndTag;
  const tag = colon > slash ? repoAndTag.slice(colon) : '';
  return `# IMAGE_REPO=registry.example.com/team/heapdump-agent: use the agent image from that repository instead of
# ${repo} (pushed there with skopeo copy --preserve-digests: the digest pins the same bytes).
if [ -n "\${IMAGE_REPO:-}" ]; then
  case "$IMAGE_REPO" in *[!a-z0-9./:_-]*|'') echo "IMAGE_REPO=$IMAGE_REPO is invalid: expected a repository such as registry.example.com/team/heapdump-agent" >&2; exit 2 ;; esac
  rewritten=$(mktemp)
  trap 'rm -f "$rewritten"' EXIT
  sed "s#${pinned.replace(/\./g, '\\.')}#$IMAGE_REPO${tag}@${digest}#g" "$MANIFEST" > "$rewritten"
  MANIFEST=$rewritten
fi
`;
}

const HEADER = (what: string, manifest: string, objects: readonly ManifestObject[]) => `#!/usr/bin/env bash
# ${what}
# Generated from ${manifest} by scripts/release/lifecycle.ts (npm run release, npm run lifecycle): read it before
# you run it. OC=kubectl to use kubectl. Exit codes: 0 done, 1 a command failed, 2 usage or refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OC=\${OC:-oc}
MANIFEST="$here/${manifest}"
${imageRepoSwitch(objects)}`;

const ROLLOUTS = (objects: readonly ManifestObject[]) => objects
  .filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')
  .map((o) => `"$OC" rollout status ${o.kind.toLowerCase()}/${o.metadata.name} -n ${o.metadata.namespace} --timeout=10m`).join('\n');

/**
 * The prune flags: the selector, and each allow-listed kind the cluster serves (`oc api-resources`:
 * APIVERSION and KIND are its last-but-two and last columns). kubectl 1.26+ calls the flag
 * --prune-allowlist, older clients --prune-whitelist.
 */
const PRUNE_FLAGS = (objects: readonly ManifestObject[]) => `prune_flag=--prune-allowlist
"$OC" apply --help 2>/dev/null | grep -q -- --prune-allowlist || prune_flag=--prune-whitelist
served=$("$OC" api-resources --no-headers | awk '{ v = $(NF-2); if (v !~ /\\//) v = "core/" v; print v "/" $NF }')
prune=(--prune -l '${pipelineSelector(objects)}')
for kind in \\
${pruneAllowlist(platformOf(objects), objects).map((k) => `  ${k} \\`).join('\n')}
  ; do
  if grep -qxF "$kind" <<<"$served"; then prune+=("$prune_flag=$kind"); fi
done`;

export function installScript(manifest: string, objects: readonly ManifestObject[]): string {
  return `${HEADER('Install the heapdump pipeline: a server-side dry run, apply, wait for the rollouts.', manifest, objects)}
"$OC" apply --dry-run=server -f "$MANIFEST" >/dev/null
"$OC" apply -f "$MANIFEST"
${ROLLOUTS(objects)}
`;
}

export function upgradeScript(manifest: string, objects: readonly ManifestObject[]): string {
  const keep = objects.filter((o) => (KEPT_KINDS as readonly string[]).includes(o.kind)).map((o) => `# - ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);
  return `${HEADER('Upgrade the heapdump pipeline to this manifest: show the diff and what would be pruned, then apply with --prune.', manifest, objects)}
# Pruned: objects with the labels below, of the kinds listed, that this manifest no longer has (in the
# namespaces it names, and cluster-wide for cluster-scoped kinds). Never pruned: ${KEPT_KINDS.join(', ')},
# so the dump volume and what is on it (dumps not yet in S3) stay:
${keep.join('\n')}
yes=false
case "\${1:-}" in
  --yes) yes=true ;;
  '') ;;
  *) echo "usage: $0 [--yes]" >&2; exit 2 ;;
esac
${PRUNE_FLAGS(objects)}

echo "== oc diff: what changes"
set +e
"$OC" diff -f "$MANIFEST"
diff_exit=$?
set -e
if [ "$diff_exit" -gt 1 ]; then echo "oc diff failed (exit $diff_exit)" >&2; exit 1; fi
if [ "$diff_exit" = 0 ]; then echo "(no changes to the objects of this manifest)"; fi

echo "== server-side dry run: what would be applied and pruned"
"$OC" apply --dry-run=server -f "$MANIFEST" "\${prune[@]}"

if [ "$yes" != true ]; then
  if [ ! -t 0 ]; then echo "not a terminal: run with --yes to apply" >&2; exit 2; fi
  read -r -p "Apply and prune as shown? [y/N] " answer
  case "$answer" in y|Y|yes) ;; *) echo "nothing applied"; exit 0 ;; esac
fi
"$OC" apply -f "$MANIFEST" "\${prune[@]}"
${ROLLOUTS(objects)}
`;
}

export function uninstallScript(manifest: string, objects: readonly ManifestObject[]): string {
  const ns = pipelineNamespace(objects);
  const order = (o: ManifestObject): number => {
    if (o.kind === 'MutatingWebhookConfiguration') return 0; // no new pod gets collected
    if (o.kind === 'DaemonSet' && o.metadata.name.includes('uploader')) return 1; // uploads stop, nothing partial is left
    if (o.kind === 'DaemonSet') return 2; // the guards unmount; the dumps stay on the PVC
    return 3;
  };
  const removable = objects.filter((o) => !(KEPT_KINDS as readonly string[]).includes(o.kind));
  const steps = [...removable].sort((a, b) => order(a) - order(b))
    .map((o) => `"$OC" delete ${ref(o)} --ignore-not-found --wait=true`);
  const kept = objects.filter((o) => (KEPT_KINDS as readonly string[]).includes(o.kind));
  const pvcs = kept.filter((o) => o.kind === 'PersistentVolumeClaim');
  // Namespaces other than the PVC's hold no dumps (the demo's): removed with the rest.
  const otherNamespaces = kept.filter((o) => o.kind === 'Namespace' && o.metadata.name !== ns);
  return `${HEADER('Uninstall the heapdump pipeline: collection first, then the agents, then everything else it created.', manifest, objects)}
# Kept unless --delete-dumps: ${pvcs.map((o) => `PersistentVolumeClaim ${o.metadata.namespace}/${o.metadata.name}`).join(', ')} (dumps not
# yet in S3, docs/uninstall.md says how to keep or copy them) and the namespace ${ns} (your Secret s3-credentials).
# Refused while collected pods run (they would wait in heapdump-wait-ready once the mount guard is gone) unless --force.
delete_dumps=false
force=false
yes=false
for arg in "$@"; do
  case "$arg" in
    --delete-dumps) delete_dumps=true ;;
    --force) force=true ;;
    --yes) yes=true ;;
    *) echo "usage: $0 [--yes] [--force] [--delete-dumps]" >&2; exit 2 ;;
  esac
done
collected=$("$OC" get pods -A -l heapdump-pipeline.io/collected=true -o name)
if [ -n "$collected" ] && [ "$force" != true ]; then
  echo "collected pods still run (take them out first, docs/uninstall.md step 1; or --force):" >&2
  echo "$collected" >&2
  exit 2
fi
if [ "$yes" != true ]; then
  if [ ! -t 0 ]; then echo "not a terminal: run with --yes to uninstall" >&2; exit 2; fi
  what="the heapdump pipeline"; [ "$delete_dumps" = true ] && what="the heapdump pipeline AND the dumps not yet in S3"
  read -r -p "Remove $what? [y/N] " answer
  case "$answer" in y|Y|yes) ;; *) echo "nothing removed"; exit 0 ;; esac
fi
${steps.join('\n')}
${otherNamespaces.map((o) => `"$OC" delete namespace/${o.metadata.name} --ignore-not-found --wait=true`).join('\n')}
if [ "$delete_dumps" = true ]; then
${pvcs.map((o) => `  "$OC" delete persistentvolumeclaim/${o.metadata.name} -n ${o.metadata.namespace} --ignore-not-found --wait=true`).join('\n')}
  "$OC" delete namespace/${ns} --ignore-not-found --wait=true
else
  echo "kept: ${pvcs.map((o) => `persistentvolumeclaim/${o.metadata.name} -n ${o.metadata.namespace}`).join(', ')} and namespace/${ns} (the dumps not yet in S3; --delete-dumps removes them)"
fi
`;
}

/** The three scripts for one manifest file (its name relative to the scripts' folder). */
export function lifecycleScripts(manifest: string, objects: readonly ManifestObject[]): Record<'install.sh' | 'upgrade.sh' | 'uninstall.sh', string> {
  return {
    'install.sh': installScript(manifest, objects),
    'upgrade.sh': upgradeScript(manifest, objects),
    'uninstall.sh': uninstallScript(manifest, objects),
  };
}
