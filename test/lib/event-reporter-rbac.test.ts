import { Chart, Testing } from 'cdk8s';
import { DEFAULT_KUBE_CREDENTIALS_DIR } from '../../agent/src/report/config';
import { bindEventReporter, EventReporterRole, serviceAccountTokenVolume } from '../../lib/event-reporter-rbac';
import { AnyObj, find, ofKind } from '../support/manifests';
import { schemaErrors } from '../support/schemas';

function synth(build: (chart: Chart) => void): AnyObj[] {
  const chart = Testing.chart();
  build(chart);
  return Testing.synth(chart) as AnyObj[];
}

/** Everything one RBAC rule set allows, as `group/resource:verb` (`core` for the "" group). */
function grants(rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>): string[] {
  return rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`)))).sort();
}

describe('event reporter RBAC', () => {
  test('the ClusterRole allows exactly creating events.k8s.io events and getting pods', () => {
    const objects = synth((c) => new EventReporterRole(c, 'role'));
    const role = find(objects as never, 'ClusterRole', 'heapdump-event-reporter');
    expect(grants(role.rules)).toEqual(['core/pods:get', 'events.k8s.io/events:create']);
    expect(role.rules.some((r: { resourceNames?: unknown }) => r.resourceNames !== undefined)).toBe(false);
    expect(role.metadata.namespace).toBeUndefined();
  });

  test('one RoleBinding per collected namespace, to the uploader\'s ServiceAccount in the pipeline namespace; schema-valid', () => {
    const objects = synth((c) => {
      const role = new EventReporterRole(c, 'role');
      bindEventReporter(c, 'bindings', {
        clusterRoleName: role.clusterRoleName, serviceAccountName: 'heap-dump-s3-uploader', serviceAccountNamespace: 'heapdump-system',
        namespaces: ['shop', 'payments'],
      });
    });
    const bindings = ofKind(objects as never, 'RoleBinding');
    expect(bindings.map((b) => b.metadata.namespace)).toEqual(['shop', 'payments']);
    for (const b of bindings) {
      expect(b.metadata.name).toBe('heap-dump-s3-uploader-events');
      expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'heapdump-event-reporter' });
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'heap-dump-s3-uploader', namespace: 'heapdump-system' }]);
    }
    // No ClusterRoleBinding: the uploader may not write events in namespaces that are not collected.
    expect(ofKind(objects as never, 'ClusterRoleBinding')).toEqual([]);
    expect(objects.flatMap((o) => schemaErrors(o))).toEqual([]);
  });

  test('the ClusterRole carries no namespace even in a chart that has one', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'c', { namespace: 'heapdump-system' });
    new EventReporterRole(chart, 'role');
    const [role] = Testing.synth(chart) as AnyObj[];
    expect(role.metadata.namespace).toBeUndefined();
  });

  test('bad input fails with one line naming the prop', () => {
    const bind = (namespaces: string[]) => synth((c) => bindEventReporter(c, 'b', {
      clusterRoleName: 'r', serviceAccountName: 'sa', serviceAccountNamespace: 'heapdump-system', namespaces,
    }));
    expect(() => bind(['shop', 'shop'])).toThrow('Invalid namespaces[1]: "shop" (expected each namespace once)');
    expect(() => bind(['Shop'])).toThrow(/^Invalid namespaces\[0\]: "Shop" \(expected a Kubernetes name/);
  });

  test('the projected token volume mounts token, CA and namespace where the agent reads them', () => {
    const { volume, volumeMount } = serviceAccountTokenVolume();
    expect(volumeMount).toEqual({ name: 'kube-api-access', mountPath: DEFAULT_KUBE_CREDENTIALS_DIR, readOnly: true });
    const paths = volume.projected!.sources!.flatMap((s) => [
      s.serviceAccountToken?.path, ...(s.configMap?.items ?? []).map((i) => i.path), ...(s.downwardApi?.items ?? []).map((i) => i.path),
    ]).filter(Boolean);
    expect(paths.sort()).toEqual(['ca.crt', 'namespace', 'token']);
    expect(() => serviceAccountTokenVolume({ expirationSeconds: 60 })).toThrow(/Invalid expirationSeconds: 60/);
  });
});
