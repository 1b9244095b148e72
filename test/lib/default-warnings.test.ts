/**
 * Important defaults a user did not choose each give one synth warning (the prototype's bucket and prefix,
 * the demo application, monitoring objects that need CRDs); choosing the key, to any value, silences it.
 */
import { synthPipeline } from '../../lib/synth';
import type { HeapDumpPipelineProps } from '../../lib';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const warningsOf = (props: Partial<HeapDumpPipelineProps>) => synthPipeline({ agentImage: IMAGE, ...props }).warnings;
/** Each warning as the path it came from and the key it names first. */
const keysOf = (warnings: string[]) => warnings.map((w) => /^\[[^\]]+\] (\S+) is not set: /.exec(w)?.[1] ?? w);

test('a minimal config: one warning per unchosen default, naming the value it got and the key that chooses', () => {
  const w = warningsOf({});
  expect(keysOf(w)).toEqual(['uploader.bucket', 'uploader.prefix', 'uploader.encryption', 'app.enabled', 'monitoring.enabled']);
  expect(w[0]).toMatch(/^\[heapdump-pipeline\/pipeline\] uploader\.bucket is not set: dumps go to the bucket "heap-dumps" .*; set uploader\.bucket to yours$/);
  expect(w[1]).toMatch(/uploader\.prefix is not set: object keys start with "memory-leak-demo\/" .*set uploader\.prefix/);
  expect(w[2]).toMatch(/uploader\.encryption is not set: dumps, which hold every secret their JVM had, are stored as the bucket's default encryption decides, unchecked; set uploader\.encryption to .*SSE-KMS.* or \{"mode": "none"\} to keep it so$/);
  expect(w[3]).toMatch(/app\.enabled is not set: the demo application is deployed, Deployment memory-leak-demo\/memory-leak-app .*out of memory.* Service and Route; set app\.enabled to false/);
  expect(w[4]).toMatch(/monitoring\.enabled is not set: a PodMonitor and a PrometheusRule are created, which need the monitoring\.coreos\.com CRDs \(OpenShift user-workload monitoring\); set monitoring\.enabled to false/);
  for (const line of w) expect(line).not.toContain('\n');
});

test('choosing a key silences its warning, also when the value is the default', () => {
  expect(keysOf(warningsOf({ uploader: { bucket: 'heap-dumps' } }))).toEqual(['uploader.prefix', 'uploader.encryption', 'app.enabled', 'monitoring.enabled']);
  expect(keysOf(warningsOf({ uploader: { bucket: 'team-dumps', prefix: '' } }))).toEqual(['uploader.encryption', 'app.enabled', 'monitoring.enabled']);
  expect(keysOf(warningsOf({ uploader: { encryption: { mode: 'none' } } }))).toEqual(['uploader.bucket', 'uploader.prefix', 'app.enabled', 'monitoring.enabled']);
  expect(keysOf(warningsOf({ uploader: { encryption: { mode: 'SSE-KMS', kmsKeyId: 'alias/dumps' } } }))).toEqual(['uploader.bucket', 'uploader.prefix', 'app.enabled', 'monitoring.enabled']);
  expect(keysOf(warningsOf({ app: { enabled: true }, monitoring: { enabled: true } }))).toEqual(['uploader.bucket', 'uploader.prefix', 'uploader.encryption']);
  expect(warningsOf({ uploader: { bucket: 'team-dumps', prefix: 'p/', encryption: { mode: 'none' } }, app: { enabled: false }, monitoring: { enabled: false } })).toEqual([]);
});

test('the demo warning names what is really deployed: the app name, and a Route only on OpenShift or an Ingress when configured', () => {
  const k8s = warningsOf({ platform: 'kubernetes' });
  expect(k8s.find((w) => w.includes('app.enabled'))).toMatch(/Deployment memory-leak-demo\/memory-leak-app .* with its Service; set/);
  expect(k8s.find((w) => w.includes('monitoring.enabled'))).toContain('(the Prometheus Operator)');
  const ingress = warningsOf({ platform: 'kubernetes', app: { ingress: { host: 'leak.example.com' } } });
  expect(ingress.find((w) => w.includes('app.enabled'))).toContain('with its Service and Ingress; set');
  const renamed = warningsOf({ app: { name: 'leaky', namespace: 'demo' }, monitoring: { scrapeKind: 'ServiceMonitor' } });
  expect(renamed.find((w) => w.includes('app.enabled'))).toContain('Deployment demo/leaky ');
  expect(renamed.find((w) => w.includes('monitoring.enabled'))).toContain('a ServiceMonitor and a PrometheusRule');
});
