/**
 * The heapdumps API's objects as synthesized: the APIService and its CA injection per platform, the RBAC
 * (aggregated edit role, opt-in view role, auth-delegator, the kube-system reader binding), the Deployment whose
 * environment the agent's own resolver accepts, the oauth-proxy sidecar and Route on OpenShift, the token login
 * on Kubernetes, and the uploader's retrieval hint.
 */
import { resolveConfig } from '../../agent/src/config';
import { COMMANDS, ENV } from '../../agent/src/contract';
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';
import { type Container, resolveEnv } from '../e2e/kubelet-sim';
import { container, envVar, find, ofKind, podSpec } from '../support/manifests';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const RULE = { apiGroups: ['heapdump-pipeline.io'], verbs: ['get', 'list'] };

function apiEnv(objects: ReturnType<typeof synthPipeline>['objects']): Record<string, string> {
  const c = container(find(objects, 'Deployment', 'heapdump-api'), 'api') as Container;
  const creds = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' };
  return resolveEnv(c, { nodeName: 'worker-0', namespace: 'heapdump-system', podName: 'api-0', configMaps: {}, secrets: { 'heapdump-api-s3-credentials': creds } });
}

describe('heapdumps API on OpenShift (default)', () => {
  const { objects } = synthPipeline({ agentImage: IMAGE, uploader: { bucket: 'acme-dumps', prefix: 'prod/', endpoint: 'https://s3.example.com' }, api: { web: { routeHost: 'dumps.apps.example.com' } } });

  test('APIService v1alpha1.heapdump-pipeline.io -> the Service, CA bundle from the service CA, TLS verified', () => {
    const svc = find(objects, 'APIService', 'v1alpha1.heapdump-pipeline.io');
    expect(svc.metadata.annotations).toEqual({ 'service.alpha.openshift.io/inject-cabundle': 'true' });
    expect(svc.spec).toMatchObject({ group: 'heapdump-pipeline.io', version: 'v1alpha1', insecureSkipTLSVerify: false, service: { name: 'heapdump-api', namespace: 'heapdump-system', port: 443 } });
    expect(find(objects, 'Service', 'heapdump-api').metadata.annotations).toEqual({ 'service.beta.openshift.io/serving-cert-secret-name': 'heapdump-api-tls' });
  });

  test('RBAC: edit role aggregated to admin and edit; view role not aggregated, without download; the server delegates auth', () => {
    const edit = find(objects, 'ClusterRole', 'heapdump-pipeline-heapdumps-edit');
    expect(edit.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-admin': 'true', 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' });
    expect(edit.rules).toEqual([{ ...RULE, resources: ['heapdumps', 'heapdumps/download', 'heapdumps/summary', 'heapdumps/leaks'] }]);
    const view = find(objects, 'ClusterRole', 'heapdump-pipeline-heapdumps-view');
    expect(Object.keys(view.metadata.labels).filter((k) => k.startsWith('rbac.authorization.k8s.io/'))).toEqual([]);
    expect(view.rules).toEqual([{ ...RULE, resources: ['heapdumps', 'heapdumps/summary', 'heapdumps/leaks'] }]);
    expect(find(objects, 'ClusterRoleBinding', 'heapdump-api-auth-delegator').roleRef.name).toBe('system:auth-delegator');
    const reader = find(objects, 'RoleBinding', 'heapdump-api-auth-reader');
    expect([reader.metadata.namespace, reader.roleRef]).toEqual(['kube-system', { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }]);
    const withView = synthPipeline({ agentImage: IMAGE, api: { aggregateToView: true } }).objects;
    expect(find(withView, 'ClusterRole', 'heapdump-pipeline-heapdumps-view').metadata.labels['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true');
    const narrowed = synthPipeline({ agentImage: IMAGE, api: { aggregateToEdit: false } }).objects;
    expect(Object.keys(find(narrowed, 'ClusterRole', 'heapdump-pipeline-heapdumps-edit').metadata.labels).filter((k) => k.startsWith('rbac.authorization.k8s.io/'))).toEqual([]);
  });

  test('the api container: the agent resolves its environment; same bucket as the uploader; its own read-only credential', () => {
    const env = apiEnv(objects);
    const resolved = resolveConfig(COMMANDS.api, { ...env, KUBERNETES_SERVICE_HOST: '172.30.0.1', KUBERNETES_SERVICE_PORT: '443' });
    if (resolved.command !== COMMANDS.api) throw new Error('not api');
    expect(resolved.config).toMatchObject({
      s3: { bucket: 'acme-dumps', prefix: 'prod/', endpoint: 'https://s3.example.com', forcePathStyle: true },
      httpsPort: 8443, webMode: 'oauth-proxy', webPort: 8080, webUrl: 'https://dumps.apps.example.com', decisionCacheMs: 3000, indexIntervalMs: 30_000,
      kubeUrl: 'https://172.30.0.1:443', tlsCertFile: '/etc/heapdump-api/tls/tls.crt',
    });
    const c = container(find(objects, 'Deployment', 'heapdump-api'), 'api');
    expect(envVar(c, ENV.awsAccessKeyId).valueFrom.secretKeyRef.name).toBe('heapdump-api-s3-credentials');
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(podSpec(find(objects, 'Deployment', 'heapdump-api')).volumes.map((v: { name: string }) => v.name)).toEqual(['tls', 'kube-api-access', 'tmp', 'oauth-cookie']);
  });

  test('the web page: oauth-proxy to 127.0.0.1 with the user\'s token scoped to the heapdumps role; a reencrypt Route', () => {
    const proxy = container(find(objects, 'Deployment', 'heapdump-api'), 'oauth-proxy');
    expect(proxy.args).toEqual(expect.arrayContaining([
      '--provider=openshift', '--upstream=http://127.0.0.1:8080', '--pass-access-token=true', '--openshift-service-account=heapdump-api',
      '--scope=user:info user:check-access role:heapdump-pipeline-heapdumps-edit:*',
    ]));
    expect(proxy.args.find((a: string) => a.startsWith('--openshift-sar='))).toBe('--openshift-sar={"group":"project.openshift.io","resource":"projects","verb":"list"}');
    const route = find(objects, 'Route', 'heapdump-api');
    expect(route.spec).toMatchObject({ host: 'dumps.apps.example.com', port: { targetPort: 'web' }, tls: { termination: 'reencrypt', insecureEdgeTerminationPolicy: 'Redirect' } });
    expect(JSON.parse(find(objects, 'ServiceAccount', 'heapdump-api').metadata.annotations['serviceaccounts.openshift.io/oauth-redirectreference.web'])).toEqual(
      { kind: 'OAuthRedirectReference', apiVersion: 'v1', reference: { kind: 'Route', name: 'heapdump-api' } });
  });

  test('the uploader names `oc heapdump get` and the web page in its Events', () => {
    const up = container(find(objects, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader');
    expect([envVar(up, ENV.notifyRetrievalCli)?.value, envVar(up, ENV.apiWebUrl)?.value]).toEqual(['oc', 'https://dumps.apps.example.com']);
  });
});

describe('heapdumps API on Kubernetes', () => {
  const { objects } = synthPipeline({ agentImage: IMAGE, platform: 'kubernetes', api: { web: { url: 'https://dumps.example.com' } } });

  test('cert-manager serving certificate, the APIService trusts its CA; token login with the optional session Secret', () => {
    expect(find(objects, 'APIService', 'v1alpha1.heapdump-pipeline.io').metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': 'heapdump-system/heapdump-api-serving' });
    expect(find(objects, 'Certificate', 'heapdump-api-serving').spec).toMatchObject({ secretName: 'heapdump-api-tls', dnsNames: ['heapdump-api.heapdump-system.svc', 'heapdump-api.heapdump-system.svc.cluster.local'] });
    const env = apiEnv(objects);
    expect([env[ENV.apiWebMode], env[ENV.apiSessionKeyFile], env[ENV.apiWebUrl]]).toEqual(['token-login', '/etc/heapdump-api/session/key', 'https://dumps.example.com']);
    const session = podSpec(find(objects, 'Deployment', 'heapdump-api')).volumes.find((v: { name: string }) => v.name === 'session');
    expect(session.secret).toMatchObject({ secretName: 'heapdump-api-session', optional: true });
    expect(ofKind(objects, 'Route')).toEqual([]);
    const svc = find(objects, 'Service', 'heapdump-api');
    expect(svc.spec.ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`)).toEqual(['https:443', 'web:8080']);
    expect(container(find(objects, 'DaemonSet', 'heap-dump-s3-uploader'), 'uploader').env.find((e: { name: string }) => e.name === ENV.notifyRetrievalCli).value).toBe('kubectl');
  });
});

describe('when there is no API', () => {
  test('namePrefix: off by default (one APIService per cluster); on when asked, with prefixed roles; no hint without it', () => {
    const prefixed = synthPipeline({ agentImage: IMAGE, namePrefix: 'team-x-' }).objects;
    expect(ofKind(prefixed, 'APIService')).toEqual([]);
    expect(envVar(container(find(prefixed, 'DaemonSet', 'team-x-heap-dump-s3-uploader'), 'uploader'), ENV.notifyRetrievalCli)).toBeUndefined();
    const on = synthPipeline({ agentImage: IMAGE, namePrefix: 'team-x-', api: { enabled: true } }).objects;
    expect(ofKind(on, 'ClusterRole').map((r) => r.metadata.name)).toEqual(expect.arrayContaining(['team-x-heapdump-pipeline-heapdumps-edit', 'team-x-heapdump-pipeline-heapdumps-view']));
    expect(find(on, 'Deployment', 'team-x-heapdump-api')).toBeDefined();
    expect(ofKind(synthPipeline({ agentImage: IMAGE, api: { enabled: false } }).objects, 'APIService')).toEqual([]);
  });

  test('bad props fail synth with one line naming the prop', () => {
    expect(() => synthPipeline({ agentImage: IMAGE, platform: 'kubernetes', api: { web: { routeHost: 'x.example.com' } } })).toThrow(PipelinePropsError);
    expect(() => synthPipeline({ agentImage: IMAGE, platform: 'kubernetes', api: { web: { routeHost: 'x.example.com' } } })).toThrow(/^Invalid api\.web\.routeHost: "x\.example\.com" \(expected unset on platform "kubernetes"/);
    expect(() => synthPipeline({ agentImage: IMAGE, api: { credentials: { source: 'workload-identity' } } })).toThrow(/^Invalid api\.credentials\.roleArn/);
  });
});
