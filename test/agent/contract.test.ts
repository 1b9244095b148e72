/**
 * The one check that ties the halves together: every agent container the constructs synthesize gets
 * an environment (built the way the kubelet builds it) that the agent's own config code accepts, and
 * the values that matter arrive unchanged.
 */
import { COMMANDS, Command, ENV, PATHS, WAIT_READY_POD_ENV } from '../../agent/src/contract';
import { findTypos, IN_POD_ENV, parseCommand, resolveConfig, UploaderConfig, WaitReadyConfig } from '../../agent/src/config';
import { waitReadyContainer } from '../../agent/src/inject/collect-pod';
import { HeapDumpPipelineProps } from '../../lib/pipeline';
import { buildPipelineApp, synthPipeline } from '../../lib/synth';
import { Container, PodContext, resolveEnv } from '../e2e/kubelet-sim';
import { find, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';

const VARIANTS: [string, HeapDumpPipelineProps][] = [
  ['repo defaults', { agentImage: IMAGE }],
  ['static keys, endpoint, gzip, deletion, retention', {
    agentImage: IMAGE,
    uploader: {
      bucket: 'dumps-eu', prefix: 'team-a', endpoint: 'https://s3.example.internal:9000', forcePathStyle: true, gzip: true,
      afterUpload: 'delete', retentionMaxAgeSeconds: 86_400, retentionMaxBytes: 5 * 1024 ** 3, patterns: ['*.hprof'],
      storageClass: 'STANDARD_IA', watchIntervalSeconds: 15, fileStableTimeSeconds: 30,
    },
  }],
  ['IRSA (no Secret)', {
    agentImage: IMAGE,
    uploader: { credentials: { source: 'workload-identity', serviceAccountAnnotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/dumps' } } },
  }],
];

function podContext(objects: ReturnType<typeof synthPipeline>['objects']): PodContext {
  const configMaps: Record<string, Record<string, string>> = {};
  for (const o of objects.filter((x) => x.kind === 'ConfigMap')) configMaps[o.metadata.name] = (o.data ?? {}) as Record<string, string>;
  // The user's own Secret, created out of band (dist/ never holds one).
  const secrets = { 's3-credentials': { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-secret' } };
  return { nodeName: 'worker-0.example.internal', namespace: 'memory-leak-demo', podName: 'pod-abc12', configMaps, secrets };
}

describe.each(VARIANTS)('%s', (_name, props) => {
  const { objects } = synthPipeline(props);
  const ctx = podContext(objects);
  const agentContainers: Array<[string, Container]> = [];
  for (const [kind, name] of [['DaemonSet', 'dump-volume-manager'], ['DaemonSet', 'heap-dump-s3-uploader'], ['Deployment', 'heapdump-injector'], ['Deployment', 'memory-leak-app']]) {
    const spec = podSpec(find(objects, kind, name));
    for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
      if (c.image === IMAGE) agentContainers.push([`${name}/${c.name}`, c]);
    }
  }

  test('every agent container runs a known command', () => {
    expect(agentContainers.map(([n, c]) => [n, c.args?.[0]]).sort()).toEqual([
      ['dump-volume-manager/mount-guard', COMMANDS.mountGuard],
      ['heap-dump-s3-uploader/uploader', COMMANDS.uploader],
      ['heap-dump-s3-uploader/heapdump-wait-ready', COMMANDS.waitReady],
      ['heapdump-injector/inject', COMMANDS.inject],
      ['memory-leak-app/heapdump-wait-ready', COMMANDS.waitReady],
    ].sort());
  });

  test.each(agentContainers)('%s: its env parses with the agent config, with no typo warnings', (_n, container) => {
    const command: Command = parseCommand(container.args?.[0]);
    const env = resolveEnv(container, ctx);
    expect(findTypos(env)).toEqual([]);
    // The kubelet adds KUBERNETES_SERVICE_HOST to every container (the mount guard runs only where it is set).
    const resolved = resolveConfig(command, { ...env, [IN_POD_ENV]: '172.30.0.1' });
    expect(resolved.config.nodeName).toBe(ctx.nodeName);
    if (resolved.command === COMMANDS.uploader) {
      const u: UploaderConfig = resolved.config;
      const cm = ctx.configMaps['s3-uploader-config'];
      expect(u.dumpRoot).toBe(PATHS.consumerDumpRoot);
      expect(u.s3.bucket).toBe(cm[ENV.s3Bucket]);
      expect(u.watchIntervalMs).toBe(Number(cm[ENV.watchInterval]) * 1000);
      expect(u.fileStableTimeMs).toBe(Number(cm[ENV.fileStableTime]) * 1000);
      expect(u.afterUpload).toBe(props.uploader?.afterUpload ?? 'archive');
      expect(u.gzip).toBe(props.uploader?.gzip ?? false);
      expect(u.s3.storageClass).toBe(props.uploader?.storageClass ?? 'STANDARD');
      if (props.uploader?.credentials?.source === 'workload-identity') expect(u.s3.credentials).toBeUndefined();
      else expect(u.s3.credentials?.accessKeyId).toBe('AKIDEXAMPLE');
    }
    if (resolved.command === COMMANDS.waitReady) {
      const w: WaitReadyConfig = resolved.config;
      expect(w.dumpRoot).toBe(PATHS.consumerDumpRoot);
      // the app's wait-ready makes exactly its own pod's folder; the uploader's only waits
      if (container.env?.some((e) => e.name === WAIT_READY_POD_ENV.createPodFolder)) expect(w.podFolder).toEqual({ namespace: ctx.namespace, pod: ctx.podName });
      else expect(w.podFolder).toBeUndefined();
    }
    if (resolved.command === COMMANDS.inject) {
      // The webhook gives pods what collect() gives workloads: the same options.
      const { pipeline } = buildPipelineApp(props);
      const { strictness: _s, annotations: _a, ...collect } = resolved.config.collect;
      expect(collect).toEqual({ ...pipeline.collectOptions, gzipLevel: pipeline.collectOptions.gzipLevel ?? 0 });
      expect(resolved.config.pipelineNamespace).toBe(ctx.namespace);
    }
  });
});

describe('the webhook\'s wait-ready init container', () => {
  test('its env (as the kubelet builds it) parses with the agent config: this pod\'s folder, the group when given', () => {
    const ctx: PodContext = { nodeName: 'worker-0.example.internal', namespace: 'orders', podName: 'orders-7c9d-x2k4p', configMaps: {}, secrets: {} };
    for (const folderGroup of [undefined, 1000680000]) {
      const c = waitReadyContainer({
        agentImage: IMAGE, imagePullPolicy: 'IfNotPresent', volumeName: 'heapdump-host', logLevel: 'info', waitTimeoutSeconds: 600,
        ...(folderGroup !== undefined ? { folderGroup } : {}),
      }) as Container;
      const env = resolveEnv(c, ctx);
      expect(findTypos(env)).toEqual([]);
      const resolved = resolveConfig(parseCommand(c.args?.[0]), env);
      expect(resolved.command).toBe(COMMANDS.waitReady);
      expect((resolved.config as WaitReadyConfig).podFolder).toEqual({
        namespace: 'orders', pod: 'orders-7c9d-x2k4p', ...(folderGroup !== undefined ? { group: folderGroup } : {}),
      });
    }
  });
});
