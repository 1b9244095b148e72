import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, INJECT_ENV, INJECT_HTTPS } from '../agent/src/contract';
import type { CollectOptions } from '../agent/src/inject/collect-pod';
import { SETTINGS } from '../agent/src/settings';
import { agentCommonEnv, agentPort, agentProbes, checkResources, fieldEnv, imagePullSecrets, unprivilegedSecurityContext } from './agent-container';
import { withExtraEnv } from './extra-env';
import type { Affinity, ContainerResources, ExtraEnvVar, ImagePullPolicy, InjectPolicy, Platform, Toleration } from './generated/settings';
import { componentLabels } from './labels';
import { prefixed } from './names';
import { envVar, prop } from './props';
import { resolveInjectorScheduling } from './scheduling';
import { checkDnsLabel } from './validation';
import { WorkloadIdentity } from './workload-identity';

/** Names of the injector's objects (namespaced, in the pipeline namespace). */
export const INJECTOR_NAME = 'heapdump-injector';
/** The Secret holding the serving certificate (written by the OpenShift service CA or by cert-manager). */
export const INJECTOR_TLS_SECRET = 'heapdump-injector-tls';
/** cert-manager (Kubernetes): the serving Certificate the webhook configuration takes its CA bundle from. */
export const INJECTOR_CERTIFICATE = 'heapdump-injector-serving';
export const INJECTOR_HTTPS_PORT_NAME = 'https';
/** OpenShift service CA: the Service annotation that makes it write a serving certificate Secret. */
export const OPENSHIFT_SERVING_CERT_ANNOTATION = 'service.beta.openshift.io/serving-cert-secret-name';

const GRACE_SECONDS = 30;

/** The env that tells the `inject` command what a collected pod gets: the same options collect() uses. */
export function injectEnv(collect: CollectOptions, policy: InjectPolicy): k8s.EnvVar[] {
  const v = (name: string, value: string | number): k8s.EnvVar => ({ name, value: String(value) });
  return [
    v(INJECT_ENV.agentImage, collect.agentImage),
    v(INJECT_ENV.imagePullPolicy, collect.imagePullPolicy ?? 'IfNotPresent'),
    v(INJECT_ENV.dumpPath, collect.mountPath ?? '/dumps'),
    v(INJECT_ENV.logLevel, collect.logLevel ?? 'info'),
    v(INJECT_ENV.waitTimeout, collect.waitTimeoutSeconds ?? 600),
    v(INJECT_ENV.gzipLevel, collect.gzipLevel ?? 0),
    v(INJECT_ENV.policy, policy),
  ];
}

export interface InjectorProps {
  /** The pipeline namespace. */
  readonly namespace: string;
  /** The agent image (runs `inject`). */
  readonly image: string;
  /** What collected pods get (the options collect() uses too). */
  readonly collect: CollectOptions;
  /** @default 'opt-in' */
  readonly policy?: InjectPolicy;
  /** @default 'openshift' */
  readonly platform?: Platform;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** @default 2 */
  readonly replicas?: number;
  /** @default requests cpu 20m / memory 64Mi, limits cpu 200m / memory 128Mi */
  readonly resources?: ContainerResources;
  /** The injector's own log level. @default 'info' */
  readonly logLevel?: string;
  /** @default none */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** @default none */
  readonly tolerations?: readonly Toleration[];
  /** Its `podAntiAffinity` replaces the default spreading of the replicas. @default the spreading only */
  readonly affinity?: Affinity;
  /** @default none */
  readonly extraEnv?: readonly ExtraEnvVar[];
  /** Secrets for pulling the agent image. @default none */
  readonly imagePullSecrets?: readonly string[];
  /** Prefix of every name (the settings table's `namePrefix`). @default '' */
  readonly namePrefix?: string;
}

/** Names of the injector's objects, with the pipeline's prefix. */
export function injectorNames(prefix = ''): { readonly name: string; readonly tlsSecret: string; readonly certificate: string } {
  return {
    name: prefixed(prefix, INJECTOR_NAME),
    tlsSecret: prefixed(prefix, INJECTOR_TLS_SECRET),
    certificate: prefixed(prefix, INJECTOR_CERTIFICATE),
  };
}

/**
 * The `inject` webhook server: ServiceAccount (no token, no SCC of its own: restricted-v2 admits it), Service
 * (443 -> 8443), the serving certificate (OpenShift: the service CA via the Service annotation; Kubernetes:
 * cert-manager, a self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate), a Deployment with
 * readiness/liveness on the agent's HTTP port and a PodDisruptionBudget. The MutatingWebhookConfiguration is
 * InjectorWebhook (cluster-scoped, emitted with the other cluster-scoped objects).
 */
export class Injector extends Construct {
  public readonly serviceName: string;
  public readonly serviceAccountName: string;

  public constructor(scope: Construct, id: string, props: InjectorProps) {
    super(scope, id);
    const namespace = checkDnsLabel('namespace', props.namespace);
    const platform = prop(SETTINGS.platform, props.platform);
    const image = prop(SETTINGS.agentImage, props.image, 'image');
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, props.imagePullPolicy);
    const replicas = prop(SETTINGS.injectorReplicas, props.replicas, 'replicas');
    const resources = checkResources('resources', prop(SETTINGS.injectorResources, props.resources, 'resources'));
    const policy = prop(SETTINGS.collectPolicy, props.policy, 'policy');
    const logLevel = prop(SETTINGS.logLevel, props.logLevel, 'logLevel');
    const { name: injector, tlsSecret, certificate } = injectorNames(props.namePrefix);
    this.serviceName = injector;
    const labels = componentLabels(injector, COMMANDS.inject);
    // Replicas on different nodes where possible: one node's drain never takes the webhook away.
    const scheduling = resolveInjectorScheduling(props, {
      preferredDuringSchedulingIgnoredDuringExecution: [{
        weight: 100,
        podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: injector } } },
      }],
    });

    const identity = new WorkloadIdentity(this, 'Identity', { name: injector, namespace, labels });
    this.serviceAccountName = identity.serviceAccountName;

    if (platform === 'kubernetes') {
      // cert-manager: a self-signed root only for this webhook, its CA Issuer, and the serving certificate.
      const issuer = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name, namespace, labels }, spec });
      new ApiObject(this, 'SelfSignedIssuer', issuer(`${injector}-selfsigned`, { selfSigned: {} }));
      new ApiObject(this, 'CaCertificate', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: `${injector}-ca`, namespace, labels },
        spec: {
          isCA: true,
          commonName: `${injector}-ca`,
          secretName: `${injector}-ca`,
          duration: '87600h',
          privateKey: { algorithm: 'ECDSA', size: 256 },
          issuerRef: { name: `${injector}-selfsigned`, kind: 'Issuer', group: 'cert-manager.io' },
        },
      });
      new ApiObject(this, 'CaIssuer', issuer(`${injector}-ca`, { ca: { secretName: `${injector}-ca` } }));
      new ApiObject(this, 'ServingCertificate', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: certificate, namespace, labels },
        spec: {
          secretName: tlsSecret,
          dnsNames: [`${injector}.${namespace}.svc`, `${injector}.${namespace}.svc.cluster.local`],
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          usages: ['server auth', 'digital signature'],
          issuerRef: { name: `${injector}-ca`, kind: 'Issuer', group: 'cert-manager.io' },
        },
      });
    }

    new k8s.KubeService(this, 'Service', {
      metadata: {
        name: injector,
        namespace,
        labels,
        ...(platform === 'openshift' ? { annotations: { [OPENSHIFT_SERVING_CERT_ANNOTATION]: tlsSecret } } : {}),
      },
      spec: {
        selector: { app: injector },
        ports: [{ name: INJECTOR_HTTPS_PORT_NAME, port: 443, targetPort: k8s.IntOrString.fromString(INJECTOR_HTTPS_PORT_NAME), protocol: 'TCP' }],
      },
    });

    const container: k8s.Container = {
      name: COMMANDS.inject,
      image,
      imagePullPolicy,
      args: [COMMANDS.inject],
      env: withExtraEnv(props.extraEnv, {
        setting: SETTINGS.injectorExtraEnv,
        command: COMMANDS.inject,
        env: [
          ...agentCommonEnv(COMMANDS.inject, logLevel),
          envVar(SETTINGS.shutdownTimeout, (GRACE_SECONDS - 5) * 1000),
          fieldEnv(INJECT_ENV.pipelineNamespace, 'metadata.namespace'),
          { name: INJECT_ENV.httpsPort, value: String(INJECT_HTTPS.defaultPort) },
          { name: INJECT_ENV.tlsCertFile, value: `${INJECT_HTTPS.tlsDir}/tls.crt` },
          { name: INJECT_ENV.tlsKeyFile, value: `${INJECT_HTTPS.tlsDir}/tls.key` },
          ...injectEnv(props.collect, policy),
        ],
      }),
      ports: [{ name: INJECTOR_HTTPS_PORT_NAME, containerPort: INJECT_HTTPS.defaultPort, protocol: 'TCP' }, agentPort()],
      ...agentProbes(),
      resources,
      securityContext: unprivilegedSecurityContext(),
      volumeMounts: [
        // The Secret volume is updated in place when the certificate rotates; the server re-reads the files.
        { name: 'tls', mountPath: INJECT_HTTPS.tlsDir, readOnly: true },
        { name: 'tmp', mountPath: '/tmp' },
      ],
    };

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: injector, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: { app: injector } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: GRACE_SECONDS,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            ...scheduling,
            ...imagePullSecrets(props.imagePullSecrets),
            containers: [container],
            volumes: [
              { name: 'tls', secret: { secretName: tlsSecret, defaultMode: 0o444 } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
            ],
          },
        },
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Budget', {
      metadata: { name: injector, namespace, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: { app: injector } } },
    });
  }
}
