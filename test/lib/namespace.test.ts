import { Testing } from 'cdk8s';
import { PipelineNamespace } from '../../lib/namespace';

function synthNamespace(props: ConstructorParameters<typeof PipelineNamespace>[2]) {
  const chart = Testing.chart();
  new PipelineNamespace(chart, 'ns', props);
  return Testing.synth(chart)[0];
}

describe('PipelineNamespace', () => {
  test('OpenShift: console annotations; no platform-monitoring label (user-workload monitoring), no Pod Security labels', () => {
    const ns = synthNamespace({ name: 'heapdump-system' });
    expect(ns.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'heapdump-pipeline' });
    expect(Object.keys(ns.metadata.annotations)).toEqual(['openshift.io/description', 'openshift.io/display-name']);
  });

  test('Kubernetes: Pod Security admission labels (privileged enforced for the mount guard, restricted audited)', () => {
    const ns = synthNamespace({ name: 'dumps', platform: 'kubernetes', description: 'Team dumps' });
    expect(ns.metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'heapdump-pipeline',
      'pod-security.kubernetes.io/enforce': 'privileged',
      'pod-security.kubernetes.io/enforce-version': 'latest',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/audit-version': 'latest',
    });
    expect(ns.metadata.annotations).toEqual({ description: 'Team dumps' });
  });

  test('a collected namespace carries the injector\'s label; on Kubernetes the Pod Security level hostPath needs', () => {
    const os = synthNamespace({ name: 'memory-leak-demo', role: 'collected' });
    expect(os.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'heapdump-pipeline', 'heapdump-pipeline.io/collect': 'true' });
    const k = synthNamespace({ name: 'memory-leak-demo', role: 'collected', platform: 'kubernetes' });
    expect(k.metadata.labels).toMatchObject({ 'heapdump-pipeline.io/collect': 'true', 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'restricted' });
  });

  test('fails on a bad namespace name', () => {
    expect(() => synthNamespace({ name: 'Team_A' })).toThrow(/^Invalid name: "Team_A" \(expected a Kubernetes name \(RFC 1123 label\)/);
  });
});
