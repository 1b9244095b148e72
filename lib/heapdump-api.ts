import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, ENV } from '../agent/src/contract';
import { SETTINGS } from '../agent/src/settings';
import { agentCommonEnv, agentPort, agentProbes, checkResources, imagePullSecrets, unprivilegedSecurityContext } from './agent-container';
import { serviceAccountTokenVolume } from './event-reporter-rbac';
import type { HeapDumpApiSettings, ImagePullPolicy, Platform } from './generated/settings';
import { Route, RouteSpecTlsInsecureEdgeTerminationPolicy, RouteSpecTlsTermination, RouteSpecToKind } from './imports/route.openshift.io';
import { componentLabels } from './labels';
import { prefixed } from './names';
import { checkSettingKeys, envVar, optionalProp, prop } from './props';
import { API_TLS_DIR, OAUTH_PROXY_PORT, oauthProxyParts, WEB_PORT } from './oauth-proxy';
import { certManagerServingCert, OPENSHIFT_SERVING_CERT } from './serving-cert';
import { checkDnsLabel, PipelinePropsError, withPropScope } from './validation';

export const API_NAME = 'heapdump-api';
export const API_SESSION_DIR = '/etc/heapdump-api/session';
const GRACE_SECONDS = 30;
const HTTPS_PORT = 8443;

export interface HeapDumpApiProps extends HeapDumpApiSettings {
  /** The pipeline namespace. */
  readonly namespace: string;
  /** The agent image (runs `api`). */
  readonly image: string;
  /** The uploader's S3 settings as agent variables (Uploader.s3Env): the API reads the same bucket. */
  readonly s3Env: Readonly<Record<string, string>>;
  /** The uploader's extra CAs for the S3 endpoint. @default none */
  readonly s3CaBundle?: { readonly configMapName: string; readonly key: string };
  /** The OpenShift ClusterRole the web page's user tokens are scoped to (`role:<name>:*`). @default the edit role's default name */
  readonly tokenScopeRole?: string;
  /** @default 'openshift' */
  readonly platform?: Platform;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** @default none */
  readonly imagePullSecrets?: readonly string[];
  /** @default 'info' */
  readonly logLevel?: string;
  /** @default '' */
  readonly namePrefix?: string;
}

/** `web.url`, or on OpenShift `https://<routeHost>` when a route host is set. */
export function resolveWebUrl(web: HeapDumpApiSettings['web'], platform: Platform): string | undefined {
  return withPropScope('web', () => {
    const url = optionalProp(SETTINGS.apiWebUrl, web?.url);
    const host = optionalProp(SETTINGS.apiWebRouteHost, web?.routeHost);
    if (host !== undefined && platform !== 'openshift') throw new PipelinePropsError('routeHost', host, 'unset on platform "kubernetes" (a Route is OpenShift\'s)');
    return url ?? (host !== undefined ? `https://${host}` : undefined);
  });
}

function credentialEnv(props: HeapDumpApiSettings): { env: k8s.EnvVar[]; annotations?: Record<string, string> } {
  return withPropScope('credentials', () => credentialsIn(props.credentials));
}

function credentialsIn(c: HeapDumpApiSettings['credentials']): { env: k8s.EnvVar[]; annotations?: Record<string, string> } {
  const source = prop(SETTINGS.apiCredentialsSource, c?.source);
  if (source === 'secret') {
    if (c?.roleArn !== undefined || c?.serviceAccountAnnotations !== undefined) throw new PipelinePropsError('source', source, '"workload-identity" when roleArn or serviceAccountAnnotations is set');
    const secretName = prop(SETTINGS.apiCredentialsSecretName, c?.secretName);
    const ref = (name: string, optional: boolean): k8s.EnvVar => ({ name, valueFrom: { secretKeyRef: { name: secretName, key: name, optional } } });
    return { env: [ref(ENV.awsAccessKeyId, false), ref(ENV.awsSecretAccessKey, false)] };
  }
  if (c?.secretName !== undefined) throw new PipelinePropsError('source', source, '"secret" when secretName is set');
  const annotations: Record<string, string> = { ...(optionalProp(SETTINGS.apiCredentialsServiceAccountAnnotations, c?.serviceAccountAnnotations) ?? {}) };
  const roleArn = optionalProp(SETTINGS.apiCredentialsRoleArn, c?.roleArn);
  if (roleArn !== undefined) annotations['eks.amazonaws.com/role-arn'] = roleArn;
  if (Object.keys(annotations).length === 0) throw new PipelinePropsError('roleArn', undefined, 'a role ARN or serviceAccountAnnotations when source is "workload-identity"');
  return { env: [], annotations };
}

/**
 * The heapdumps API server: ServiceAccount, Service (443 -> the API's 8443; `web` for the web page), serving
 * certificate (OpenShift service CA, or cert-manager), Deployment of the agent's `api` command (plus, on OpenShift,
 * the oauth-proxy sidecar in front of the web page, and a Route), PodDisruptionBudget, and the RoleBinding in
 * kube-system that lets it read the aggregation layer's requestheader CA. The cluster-scoped half (APIService,
 * ClusterRoles, auth-delegator) is HeapDumpApiAccess.
 */
export class HeapDumpApi extends Construct {
  public readonly serviceName: string;
  public readonly serviceAccountName: string;
  /** cert-manager Certificate of the serving certificate (Kubernetes), for the APIService's CA injection. */
  public readonly certificateName: string;
  /** The web page's URL, when known (the Event's link). */
  public readonly webUrl?: string;

  public constructor(scope: Construct, id: string, props: HeapDumpApiProps) {
    super(scope, id);
    const { namespace: rawNs, image: rawImage, s3Env, s3CaBundle, tokenScopeRole, platform = 'openshift', imagePullPolicy: rawPull, imagePullSecrets: pullSecrets, logLevel: rawLog, namePrefix = '', ...settings } = props;
    checkSettingKeys('api', settings, 'api');
    const namespace = checkDnsLabel('namespace', rawNs);
    const image = prop(SETTINGS.agentImage, rawImage, 'image');
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, rawPull);
    const logLevel = prop(SETTINGS.logLevel, rawLog, 'logLevel');
    const replicas = prop(SETTINGS.apiReplicas, settings.replicas);
    const resources = checkResources('resources', prop(SETTINGS.apiResources, settings.resources));
    const decisionCacheMs = prop(SETTINGS.apiDecisionCache, settings.decisionCacheSeconds);
    const indexIntervalMs = prop(SETTINGS.apiIndexInterval, settings.indexIntervalSeconds);
    const web = settings.web;
    const webEnabled = withPropScope('web', () => prop(SETTINGS.apiWebEnabled, web?.enabled));
    this.webUrl = resolveWebUrl(web, platform);
    const credentials = credentialEnv(settings);
    const name = prefixed(namePrefix, API_NAME);
    const tlsSecret = `${name}-tls`;
    this.serviceName = name;
    this.serviceAccountName = name;
    this.certificateName = `${name}-serving`;
    const labels = componentLabels(name, COMMANDS.api);
    const oauthProxy = webEnabled && platform === 'openshift';
    const routeName = name;

    new k8s.KubeServiceAccount(this, 'Identity', {
      metadata: {
        name, namespace, labels,
        annotations: {
          ...credentials.annotations,
          // The oauth-proxy sidecar logs users in with this ServiceAccount as its OAuth client, redirecting to the Route.
          ...(oauthProxy ? { 'serviceaccounts.openshift.io/oauth-redirectreference.web': JSON.stringify({ kind: 'OAuthRedirectReference', apiVersion: 'v1', reference: { kind: 'Route', name: routeName } }) } : {}),
        },
      },
      automountServiceAccountToken: false,
    });
    new k8s.KubeRoleBinding(this, 'AuthReader', {
      metadata: { name: `${name}-auth-reader`, namespace: 'kube-system', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    });
    if (platform === 'kubernetes') certManagerServingCert(this, { namespace, name, labels, certificate: this.certificateName, secretName: tlsSecret });

    const webPort = oauthProxy ? OAUTH_PROXY_PORT : WEB_PORT;
    new k8s.KubeService(this, 'Service', {
      metadata: { name, namespace, labels, ...(platform === 'openshift' ? { annotations: { [OPENSHIFT_SERVING_CERT]: tlsSecret } } : {}) },
      spec: {
        selector: { app: name },
        // Without a shared session key the token login's sessions are per replica (docs/access-control.md).
        ...(webEnabled && platform === 'kubernetes' ? { sessionAffinity: 'ClientIP' } : {}),
        ports: [
          { name: 'https', port: 443, targetPort: k8s.IntOrString.fromString('https'), protocol: 'TCP' },
          ...(webEnabled ? [{ name: 'web', port: webPort, targetPort: k8s.IntOrString.fromString('web'), protocol: 'TCP' }] : []),
        ],
      },
    });

    const token = serviceAccountTokenVolume();
    const sessionKey = withPropScope('web', () => prop(SETTINGS.apiWebSessionSecretName, web?.sessionSecretName));
    const tokenLogin = webEnabled && platform === 'kubernetes';
    const container: k8s.Container = {
      name: COMMANDS.api,
      image,
      imagePullPolicy,
      args: [COMMANDS.api],
      env: [
        ...agentCommonEnv(COMMANDS.api, logLevel),
        // The image's uid has no passwd entry and the runtime may set no HOME: the AWS SDK looks for ~/.aws/config
        // through os.homedir(), which then fails every request (seen running the bundle as uid 1001). /tmp is the pod's.
        { name: 'HOME', value: '/tmp' },
        envVar(SETTINGS.shutdownTimeout, (GRACE_SECONDS - 5) * 1000),
        ...Object.entries(s3Env).map(([n, value]) => ({ name: n, value })),
        ...credentials.env,
        envVar(SETTINGS.apiHttpsPort, HTTPS_PORT),
        envVar(SETTINGS.apiTlsCertFile, `${API_TLS_DIR}/tls.crt`),
        envVar(SETTINGS.apiTlsKeyFile, `${API_TLS_DIR}/tls.key`),
        envVar(SETTINGS.apiDecisionCache, decisionCacheMs),
        envVar(SETTINGS.apiIndexInterval, indexIntervalMs),
        envVar(SETTINGS.apiWebMode, !webEnabled ? 'off' : oauthProxy ? 'oauth-proxy' : 'token-login'),
        envVar(SETTINGS.apiWebPort, WEB_PORT),
        ...(this.webUrl !== undefined ? [envVar(SETTINGS.apiWebUrl, this.webUrl)] : []),
        ...(tokenLogin ? [envVar(SETTINGS.apiSessionKeyFile, `${API_SESSION_DIR}/key`)] : []),
        ...(s3CaBundle !== undefined ? [envVar(SETTINGS.s3CaBundleFile, '/etc/heapdump/s3-ca/ca-bundle.crt')] : []),
      ],
      ports: [
        { name: 'https', containerPort: HTTPS_PORT, protocol: 'TCP' },
        ...(tokenLogin ? [{ name: 'web', containerPort: WEB_PORT, protocol: 'TCP' }] : []),
        agentPort(),
      ],
      ...agentProbes(),
      resources,
      securityContext: unprivilegedSecurityContext(),
      volumeMounts: [
        { name: 'tls', mountPath: API_TLS_DIR, readOnly: true },
        token.volumeMount,
        { name: 'tmp', mountPath: '/tmp' },
        ...(tokenLogin ? [{ name: 'session', mountPath: API_SESSION_DIR, readOnly: true }] : []),
        ...(s3CaBundle !== undefined ? [{ name: 's3-ca', mountPath: '/etc/heapdump/s3-ca', readOnly: true }] : []),
      ],
    };
    const proxy = oauthProxy ? oauthProxyParts({
      image: withPropScope('web', () => prop(SETTINGS.apiWebOauthProxyImage, web?.oauthProxyImage)), serviceAccount: name, agentImage: image, imagePullPolicy,
      scopeRole: tokenScopeRole ?? prefixed(namePrefix, 'heapdump-pipeline-heapdumps-edit'), tokenMount: token.volumeMount,
    }) : undefined;

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: name } } } }] } },
            ...imagePullSecrets(pullSecrets),
            ...(proxy !== undefined ? { initContainers: [proxy.init] } : {}),
            containers: [container, ...(proxy !== undefined ? [proxy.container] : [])],
            volumes: [
              { name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o444 } },
              token.volume,
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
              ...(tokenLogin ? [{ name: 'session', secret: { secretName: sessionKey, optional: true, items: [{ key: 'key', path: 'key' }], defaultMode: 0o444 } }] : []),
              ...(proxy !== undefined ? [proxy.volume] : []),
              ...(s3CaBundle !== undefined ? [{ name: 's3-ca', configMap: { name: s3CaBundle.configMapName, items: [{ key: s3CaBundle.key, path: 'ca-bundle.crt' }], defaultMode: 0o444 } }] : []),
            ],
          },
        },
      },
    });
    new k8s.KubePodDisruptionBudget(this, 'Budget', {
      metadata: { name, namespace, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: { app: name } } },
    });
    if (oauthProxy) {
      new Route(this, 'Route', {
        metadata: { name: routeName, namespace, labels },
        spec: {
          host: withPropScope('web', () => optionalProp(SETTINGS.apiWebRouteHost, web?.routeHost)),
          to: { kind: RouteSpecToKind.SERVICE, name, weight: 100 },
          port: { targetPort: 'web' },
          tls: { termination: RouteSpecTlsTermination.REENCRYPT, insecureEdgeTerminationPolicy: RouteSpecTlsInsecureEdgeTerminationPolicy.REDIRECT },
        },
      });
    }
  }
}
