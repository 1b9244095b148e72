import { ENV, NODE_OPTIONS_BY_COMMAND, NODE_OPTIONS_ENV, POD_ENV, WAIT_READY_POD_ENV } from '../../agent/src/contract';
import { HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { find, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const CONTRACT_NAMES = new Set<string>([...Object.values(ENV), NODE_OPTIONS_ENV]);

const VARIANTS: [string, HeapDumpPipelineProps][] = [
  ['default', { agentImage: IMAGE }],
  ['everything set', {
    agentImage: IMAGE,
    uploader: {
      endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, gzip: true, afterUpload: 'delete', retentionMaxAgeSeconds: 3600,
      retentionMaxBytes: 1000, patterns: ['*.hprof'], logLevel: 'debug',
      credentials: { secretValues: { accessKeyId: 'a', secretAccessKey: 'b', region: 'eu-west-1', endpointUrl: 'http://127.0.0.1:9000' } },
    },
  }],
];

describe('constructs and agent share one contract', () => {
  test.each(VARIANTS)('%s: agent containers use only contract env names; ConfigMap keys are contract names', (_name, props) => {
    const { objects } = synthPipeline(props);
    for (const ds of ['dump-volume-manager', 'heap-dump-s3-uploader']) {
      const spec = podSpec(find(objects, 'DaemonSet', ds));
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const unknown = (c.env ?? []).map((e: { name: string }) => e.name).filter((n: string) => !CONTRACT_NAMES.has(n));
        expect({ container: `${ds}/${c.name}`, unknown }).toEqual({ container: `${ds}/${c.name}`, unknown: [] });
      }
    }
    const cm = find(objects, 'ConfigMap', 's3-uploader-config');
    expect(Object.keys(cm.data).filter((k) => !CONTRACT_NAMES.has(k))).toEqual([]);
    const secret = objects.find((o) => o.kind === 'Secret') as { stringData: Record<string, string> } | undefined;
    if (secret) expect(Object.keys(secret.stringData).filter((k) => !CONTRACT_NAMES.has(k))).toEqual([]);
  });

  test('the app\'s init container uses contract names only (the pod-folder variables are settings too)', () => {
    const spec = podSpec(find(synthPipeline({ agentImage: IMAGE }).objects, 'Deployment', 'memory-leak-app'));
    const names = spec.initContainers[0].env.map((e: { name: string }) => e.name);
    expect(names.filter((n: string) => !CONTRACT_NAMES.has(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining([POD_ENV.namespace, POD_ENV.name, WAIT_READY_POD_ENV.createPodFolder]));
  });
});

describe('the mount guard runs with the Node options its memory budget was measured with', () => {
  test('NODE_OPTIONS on the guard container is the contract value', () => {
    const spec = podSpec(find(synthPipeline({ agentImage: IMAGE }).objects, 'DaemonSet', 'dump-volume-manager'));
    const env = spec.containers[0].env.find((e: { name: string }) => e.name === NODE_OPTIONS_ENV);
    expect(env?.value).toBe(NODE_OPTIONS_BY_COMMAND['mount-guard']);
  });
});
