/**
 * Hostile pod specs for the dump-volume admission policy and the webhook, as data: each one starts from a
 * pod the pipeline collected (what the webhook would produce, test/support/pods.ts + collectPod) and
 * changes it the way a tenant who writes its own pod spec could, to reach the node's whole dump tree or
 * another pod's folder. Issue 20 attack 5 and its variants, and the earlier path attacks.
 *
 * `refusals`: the policy's messages for the pod as submitted (the webhook bypassed: not opted in, down,
 * or an UPDATE). `webhook`: what the webhook does with the same pod opted in at CREATE, after which the
 * policy checks its result:
 * - `replaced`: it replaces the pod's own heapdump-wait-ready with the pipeline's: admitted;
 * - `left`: it leaves the hostile part (it never rewrites a team's own container or volume): refused as submitted;
 * - `not-collected`: it does not collect the pod at all (a warning says why): refused as submitted;
 * - `update`: only reachable by an UPDATE (ephemeral containers), which the webhook does not mutate.
 */
import { WAIT_READY_CONTAINER_NAME } from '../../agent/src/contract';
import type { Json } from './pods';

export const MESSAGES = {
  hostPath: 'hostPath volumes are allowed only for /mnt/dump with type Directory',
  container: 'a container mounts /mnt/dump other than with subPathExpr $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME) and both variables as fieldRefs of its own pod',
  init: 'an init container mounts /mnt/dump but is neither the exact heapdump-wait-ready container (the agent image, args [wait-ready], only its own env, '
    + 'only that volume at /mnt/dump, the security context the webhook writes, no command, workingDir, ports, envFrom, volumeDevices, probes, lifecycle, '
    + 'stdin or tty) nor a per-pod mount (subPathExpr $(HEAPDUMP_POD_NAMESPACE)/$(HEAPDUMP_POD_NAME) with both variables as fieldRefs)',
  ephemeralMount: 'ephemeral containers may not mount /mnt/dump',
  ephemeralTarget: 'ephemeral containers may not target heapdump-wait-ready (its process sees every pod\'s folder)',
  sharedPid: 'a pod that mounts /mnt/dump may not share a process namespace among its containers or with the node (heapdump-wait-ready\'s process sees every pod\'s folder)',
} as const;

export type WebhookOutcome = 'replaced' | 'left' | 'not-collected' | 'update';

export interface HostileCase {
  readonly name: string;
  readonly attack: (pod: Json) => void;
  readonly refusals: readonly string[];
  readonly webhook: WebhookOutcome;
}

/**
 * What the API server and its built-in admission plugins add to a pod after the webhook, before validation
 * (docs/injection.md): the defaulted termination message fields on every container, the ServiceAccount plugin's
 * token mount on every container that lacks it (init containers too), and on OpenShift the SCC's SELinux level on
 * the init container (restricted-v2 pass 2). What the policy must admit on the wait-ready container.
 */
export function asAdmitted(pod: Json, opts: { seLinuxLevel?: string } = {}): Json {
  const p = structuredClone(pod);
  const token = (p.spec.volumes ?? []).find((v: Json) => v.projected?.sources?.some((s: Json) => s.serviceAccountToken))?.name;
  for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    const mountPath = '/var/run/secrets/kubernetes.io/serviceaccount';
    if (token !== undefined && !(c.volumeMounts ?? []).some((m: Json) => m.mountPath === mountPath)) {
      (c.volumeMounts ??= []).push({ name: token, readOnly: true, mountPath });
    }
  }
  const w = (p.spec.initContainers ?? []).find((c: Json) => c.name === WAIT_READY_CONTAINER_NAME);
  if (opts.seLinuxLevel !== undefined && w?.securityContext !== undefined) w.securityContext.seLinuxOptions = { level: opts.seLinuxLevel };
  return p;
}

const wait = (p: Json): Json => p.spec.initContainers.find((c: Json) => c.name === WAIT_READY_CONTAINER_NAME);
const app = (p: Json): Json => p.spec.containers[0];
const dumpMountOf = (c: Json): Json => c.volumeMounts.find((m: Json) => m.name === 'heapdump-host');
const envOf = (c: Json, name: string): Json => c.env.find((e: Json) => e.name === name);
const addVolume = (p: Json, v: Json) => void p.spec.volumes.push(v);
const evilConfigMap = (p: Json) => addVolume(p, { name: 'evil', configMap: { name: 'my-agent-js' } });

/** The fake wait-ready: the pipeline's container with one change. */
const fake = (name: string, change: (c: Json, p: Json) => void): HostileCase => ({
  name: `a fake wait-ready: ${name}`, attack: (p) => change(wait(p), p), refusals: [MESSAGES.init], webhook: 'replaced',
});

export const HOSTILE_PODS: readonly HostileCase[] = [
  // ---- attack 5: the tenant's own heapdump-wait-ready, exact but for one more thing
  fake('a configMap of its own agent.js mounted at /opt/heapdump (the image runs it, with the whole tree mounted)', (c, p) => {
    evilConfigMap(p);
    c.volumeMounts.push({ name: 'evil', mountPath: '/opt/heapdump' });
  }),
  fake('a configMap file over the node binary (subPath)', (c, p) => {
    evilConfigMap(p);
    c.volumeMounts.push({ name: 'evil', mountPath: '/usr/local/bin/node', subPath: 'node' });
  }),
  fake('an emptyDir over /opt/heapdump', (c, p) => {
    addVolume(p, { name: 'scratch', emptyDir: {} });
    c.volumeMounts.push({ name: 'scratch', mountPath: '/opt/heapdump' });
  }),
  fake('the dump volume mounted a second time, at /opt/heapdump', (c) => void c.volumeMounts.push({ name: 'heapdump-host', mountPath: '/opt/heapdump' })),
  fake('the dump volume at /mnt/dump through a subPath', (c) => void (dumpMountOf(c).subPath = 'team-b')),
  fake('the dump volume at /mnt/dump through a subPathExpr of its own', (c) => void (dumpMountOf(c).subPathExpr = '$(TARGET)')),
  fake('the dump volume mounted elsewhere', (c) => void (dumpMountOf(c).mountPath = '/data')),
  fake('Bidirectional propagation on the dump volume', (c) => void (dumpMountOf(c).mountPropagation = 'Bidirectional')),
  fake('a configMap at the ServiceAccount token path', (c, p) => {
    evilConfigMap(p);
    c.volumeMounts.push({ name: 'evil', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
  }),
  fake('the token volume mounted writable', (c) => void c.volumeMounts.push({ name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' })),
  fake('the token volume at /opt/heapdump', (c) => void c.volumeMounts.push({ name: 'kube-api-access-x7k2p', mountPath: '/opt/heapdump', readOnly: true })),
  fake('a block device (volumeDevices)', (c) => void (c.volumeDevices = [{ name: 'heapdump-host', devicePath: '/dev/xvdf' }])),
  fake('a workingDir inside the tree', (c) => void (c.workingDir = '/mnt/dump/team-b')),
  fake('a command', (c) => void (c.command = ['sh', '-c', 'cat /mnt/dump/*/*/*'])),
  fake('other args', (c) => void (c.args = ['uploader'])),
  fake('an extra argument', (c) => void (c.args = ['wait-ready', '--inspect=0.0.0.0:9229'])),
  fake('envFrom', (c) => void (c.envFrom = [{ configMapRef: { name: 'evil' } }])),
  fake('NODE_OPTIONS', (c) => void c.env.push({ name: 'NODE_OPTIONS', value: '--import data:text/javascript,process.exit(0)' })),
  fake('DUMP_ROOT (another variable the agent reads)', (c) => void c.env.push({ name: 'DUMP_ROOT', value: '/mnt/dump/team-b' })),
  fake('a literal pod name (would create another pod\'s folder)', (c) => {
    delete envOf(c, 'HEAPDUMP_POD_NAME').valueFrom;
    envOf(c, 'HEAPDUMP_POD_NAME').value = 'payments-7c9d-x2x4z';
  }),
  fake('the fieldRef pod name, then a later literal namespace', (c) => void c.env.push({ name: 'HEAPDUMP_POD_NAMESPACE', value: 'team-b' })),
  fake('NODE_NAME as a literal of another node', (c) => {
    delete envOf(c, 'NODE_NAME').valueFrom;
    envOf(c, 'NODE_NAME').value = 'worker-7';
  }),
  fake('LOG_LEVEL from a Secret', (c) => void (envOf(c, 'LOG_LEVEL').valueFrom = { secretKeyRef: { name: 's', key: 'k' } })),
  fake('WAIT_CREATE_POD_FOLDER off', (c) => void (envOf(c, 'WAIT_CREATE_POD_FOLDER').value = 'false')),
  fake('no env at all', (c) => void delete c.env),
  fake('a restartable sidecar (the tree stays mounted while the app runs)', (c) => void (c.restartPolicy = 'Always')),
  fake('a postStart hook', (c) => void (c.lifecycle = { postStart: { exec: { command: ['sh', '-c', 'id'] } } })),
  fake('a liveness probe that execs', (c) => void (c.livenessProbe = { exec: { command: ['node', '-e', '1'] } })),
  fake('a startup probe', (c) => void (c.startupProbe = { exec: { command: ['true'] } })),
  fake('a readiness probe', (c) => void (c.readinessProbe = { exec: { command: ['true'] } })),
  fake('stdin and a tty (kubectl attach)', (c) => Object.assign(c, { stdin: true, tty: true })),
  fake('stdinOnce', (c) => void (c.stdinOnce = true)),
  fake('a host port', (c) => void (c.ports = [{ containerPort: 9229, hostPort: 9229 }])),
  fake('a termination message file in another namespace\'s folder (created by the runtime, as root)', (c) => void (c.terminationMessagePath = '/mnt/dump/team-b/ledger-0')),
  fake('another termination message policy', (c) => void (c.terminationMessagePolicy = 'FallbackToLogsOnError')),
  fake('a resize policy', (c) => void (c.resizePolicy = [{ resourceName: 'cpu', restartPolicy: 'NotRequired' }])),
  fake('a resource claim (a device)', (c) => void (c.resources.claims = [{ name: 'gpu' }])),
  fake('another image', (c) => void (c.image = 'registry.example.com/evil/agent:1')),
  fake('an added capability', (c) => void (c.securityContext.capabilities.add = ['DAC_OVERRIDE'])),
  fake('no capabilities dropped', (c) => void delete c.securityContext.capabilities),
  fake('privileged', (c) => void (c.securityContext.privileged = true)),
  fake('privilege escalation allowed', (c) => void (c.securityContext.allowPrivilegeEscalation = true)),
  fake('runAsNonRoot false', (c) => void (c.securityContext.runAsNonRoot = false)),
  fake('a writable root file system', (c) => void (c.securityContext.readOnlyRootFilesystem = false)),
  fake('seccomp Unconfined', (c) => void (c.securityContext.seccompProfile = { type: 'Unconfined' })),
  fake('procMount Unmasked', (c) => void (c.securityContext.procMount = 'Unmasked')),
  fake('runAsGroup 0', (c) => void (c.securityContext.runAsGroup = 0)),
  fake('the SELinux type spc_t', (c) => void (c.securityContext.seLinuxOptions = { type: 'spc_t' })),
  fake('AppArmor unconfined', (c) => void (c.securityContext.appArmorProfile = { type: 'Unconfined' })),
  fake('Windows options', (c) => void (c.securityContext.windowsOptions = { hostProcess: true })),
  fake('no security context', (c) => void delete c.securityContext),
  {
    name: 'a second init container of the same name, with the configMap at /opt/heapdump',
    attack: (p) => {
      evilConfigMap(p);
      const twin = structuredClone(wait(p));
      twin.volumeMounts.push({ name: 'evil', mountPath: '/opt/heapdump' });
      p.spec.initContainers.push(twin);
    },
    refusals: [MESSAGES.init],
    webhook: 'replaced',
  },
  {
    name: 'another init container mounting the tree whole',
    attack: (p) => void p.spec.initContainers.push({ name: 'helper', image: 'busybox', args: ['wait-ready'], volumeMounts: [{ name: 'heapdump-host', mountPath: '/mnt/dump' }] }),
    refusals: [MESSAGES.init],
    webhook: 'left',
  },
  // ---- reaching the wait-ready's process while it runs
  {
    name: 'shareProcessNamespace (the app\'s containers see the wait-ready process and its /proc/<pid>/root)',
    attack: (p) => void (p.spec.shareProcessNamespace = true),
    refusals: [MESSAGES.sharedPid],
    webhook: 'not-collected',
  },
  { name: 'hostPID', attack: (p) => void (p.spec.hostPID = true), refusals: [MESSAGES.sharedPid], webhook: 'not-collected' },
  {
    name: 'an ephemeral container targeting heapdump-wait-ready (kubectl debug --target)',
    attack: (p) => void (p.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', targetContainerName: WAIT_READY_CONTAINER_NAME, stdin: true, tty: true }]),
    refusals: [MESSAGES.ephemeralTarget],
    webhook: 'update',
  },
  {
    name: 'an ephemeral container mounting the tree',
    attack: (p) => void (p.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'heapdump-host', mountPath: '/mnt/dump' }] }]),
    refusals: [MESSAGES.ephemeralMount],
    webhook: 'update',
  },
  // ---- names the pipeline uses
  {
    name: 'a regular container named heapdump-wait-ready, mounting the tree whole',
    attack: (p) => {
      const c = wait(p);
      p.spec.initContainers = p.spec.initContainers.filter((x: Json) => x !== c);
      p.spec.containers.push(c);
    },
    refusals: [MESSAGES.container],
    webhook: 'not-collected',
  },
  {
    name: 'a hostPath named like the pipeline\'s dump volume, of another namespace\'s folder',
    attack: (p) => void (p.spec.volumes.find((v: Json) => v.name === 'heapdump-host').hostPath.path = '/mnt/dump/team-b'),
    refusals: [MESSAGES.hostPath],
    webhook: 'not-collected',
  },
  // ---- the per-pod mounts of the app's containers
  {
    name: 'a hostPath of /etc',
    attack: (p) => {
      addVolume(p, { name: 'etc', hostPath: { path: '/etc', type: 'Directory' } });
      app(p).volumeMounts.push({ name: 'etc', mountPath: '/host-etc', readOnly: true });
    },
    refusals: [MESSAGES.hostPath, MESSAGES.container],
    webhook: 'left',
  },
  { name: 'the parent /mnt', attack: (p) => addVolume(p, { name: 'parent', hostPath: { path: '/mnt', type: 'Directory' } }), refusals: [MESSAGES.hostPath], webhook: 'left' },
  {
    name: '/mnt/dump with type DirectoryOrCreate',
    attack: (p) => void (p.spec.volumes.find((v: Json) => v.hostPath).hostPath.type = 'DirectoryOrCreate'),
    refusals: [MESSAGES.hostPath],
    webhook: 'left',
  },
  { name: '/mnt/dump mounted whole in the app', attack: (p) => void delete dumpMountOf(app(p)).subPathExpr, refusals: [MESSAGES.container], webhook: 'left' },
  {
    name: 'another pod\'s folder through a literal subPath',
    attack: (p) => {
      delete dumpMountOf(app(p)).subPathExpr;
      dumpMountOf(app(p)).subPath = 'team-b/payments-7c9d-x2x4z';
    },
    refusals: [MESSAGES.container],
    webhook: 'left',
  },
  {
    name: 'the right subPathExpr with HEAPDUMP_POD_NAME as a literal',
    attack: (p) => {
      delete envOf(app(p), 'HEAPDUMP_POD_NAME').valueFrom;
      envOf(app(p), 'HEAPDUMP_POD_NAME').value = 'payments-7c9d-x2x4z';
    },
    refusals: [MESSAGES.container],
    webhook: 'left',
  },
  { name: 'the fieldRef, then a later literal of the same name', attack: (p) => void app(p).env.push({ name: 'HEAPDUMP_POD_NAMESPACE', value: 'team-b' }), refusals: [MESSAGES.container], webhook: 'left' },
  {
    name: 'HEAPDUMP_POD_NAME from another field',
    attack: (p) => void (envOf(app(p), 'HEAPDUMP_POD_NAME').valueFrom.fieldRef.fieldPath = 'spec.serviceAccountName'),
    refusals: [MESSAGES.container],
    webhook: 'left',
  },
  { name: 'a subPathExpr with another variable', attack: (p) => void (dumpMountOf(app(p)).subPathExpr = '$(HEAPDUMP_POD_NAMESPACE)/$(TARGET)'), refusals: [MESSAGES.container], webhook: 'left' },
];
