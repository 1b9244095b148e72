/** The OpenShift oauth-proxy sidecar of the heapdumps API's web page (HeapDumpApi). */
import { k8s } from 'cdk8s-plus-28';
import { checkResources } from './agent-container';

export const API_TLS_DIR = '/etc/heapdump-api/tls';
export const OAUTH_COOKIE_DIR = '/var/run/heapdump-web';
/** The agent's web page: loopback HTTP for the oauth-proxy (OpenShift), HTTPS with the token login (Kubernetes). */
export const WEB_PORT = 8080;
/** The oauth-proxy sidecar's HTTPS port (OpenShift). */
export const OAUTH_PROXY_PORT = 8444;

/**
 * OpenShift's oauth-proxy in front of the web page: users log in with the cluster's OAuth server, the proxy checks a
 * SubjectAccessReview of its own (any user who may list projects, i.e. a person of this cluster), and forwards to the
 * agent on 127.0.0.1 with the user's access token, scoped to the heapdumps role (`role:<edit role>:*`), which the
 * agent resolves with a TokenReview. Its cookie secret is made per pod by an init container (the Route's sticky
 * sessions keep a browser on one replica).
 */
export function oauthProxyParts(o: { image: string; serviceAccount: string; agentImage: string; imagePullPolicy: string; scopeRole: string; tokenMount: k8s.VolumeMount }): { container: k8s.Container; init: k8s.Container; volume: k8s.Volume } {
  const restricted: k8s.SecurityContext = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  const cookieFile = `${OAUTH_COOKIE_DIR}/cookie-secret`;
  const small = checkResources('resources', { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } });
  return {
    init: {
      name: 'oauth-cookie-secret',
      image: o.agentImage,
      imagePullPolicy: o.imagePullPolicy,
      command: ['node', '-e', `require('fs').writeFileSync('${cookieFile}', require('crypto').randomBytes(16).toString('hex'), { mode: 0o400 })`],
      securityContext: restricted,
      resources: small,
      volumeMounts: [{ name: 'oauth-cookie', mountPath: OAUTH_COOKIE_DIR }],
    },
    container: {
      name: 'oauth-proxy',
      image: o.image,
      imagePullPolicy: o.imagePullPolicy,
      args: [
        '--provider=openshift',
        `--https-address=:${OAUTH_PROXY_PORT}`,
        '--http-address=',
        `--upstream=http://127.0.0.1:${WEB_PORT}`,
        `--openshift-service-account=${o.serviceAccount}`,
        `--tls-cert=${API_TLS_DIR}/tls.crt`,
        `--tls-key=${API_TLS_DIR}/tls.key`,
        `--cookie-secret-file=${cookieFile}`,
        '--cookie-expire=8h0m0s',
        '--pass-access-token=true',
        `--scope=user:info user:check-access role:${o.scopeRole}:*`,
        '--openshift-sar={"group":"project.openshift.io","resource":"projects","verb":"list"}',
        '--skip-provider-button=true',
      ],
      ports: [{ name: 'web', containerPort: OAUTH_PROXY_PORT, protocol: 'TCP' }],
      readinessProbe: { httpGet: { path: '/oauth/healthz', port: k8s.IntOrString.fromString('web'), scheme: 'HTTPS' }, periodSeconds: 10, timeoutSeconds: 2 },
      resources: small,
      securityContext: restricted,
      volumeMounts: [
        { name: 'tls', mountPath: API_TLS_DIR, readOnly: true },
        { name: 'oauth-cookie', mountPath: OAUTH_COOKIE_DIR, readOnly: true },
        o.tokenMount,
      ],
    },
    volume: { name: 'oauth-cookie', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
  };
}
