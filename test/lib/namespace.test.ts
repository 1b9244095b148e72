import { Testing } from 'cdk8s';
import { PipelineNamespace } from '../../lib/namespace';

function synthNamespace(props: ConstructorParameters<typeof PipelineNamespace>[2]) {
  const chart = Testing.chart();
  new PipelineNamespace(chart, 'ns', props);
  return Testing.synth(chart)[0];
}

describe('PipelineNamespace', () => {
  test('OpenShift: the prototype monitoring label and console annotations, no Pod Security labels', () => {
    const ns = synthNamespace({ name: 'memory-leak-demo' });
    expect(ns.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'heapdump-pipeline', 'openshift.io/cluster-monitoring': 'true' });
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
});
