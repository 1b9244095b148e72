import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { SETTINGS } from '../agent/src/settings';
import { checkResources, nodeNameEnv } from './agent-container';
import { demoAppSource, DEMO_APP_FILE_NAME } from './demo-app/source';
import type { ApplicationSettings, Platform } from './generated/settings';
import { Route, RouteSpecTlsInsecureEdgeTerminationPolicy, RouteSpecTlsTermination, RouteSpecToKind } from './imports/route.openshift.io';
import { componentLabels } from './labels';
import { checkSettingKeys, optionalProp, prop } from './props';
import { PipelinePropsError, withPropScope } from './validation';
import { WorkloadIdentity } from './workload-identity';

export type { AppIngressSettings, ApplicationSettings } from './generated/settings';

/**
 * Stock JDK image for the demo. Single-file source launch (`java Leak.java`) compiles in memory
 * with the jdk.compiler module, which JRE-only images lack, so this must be a JDK image; pinned
 * to a release tag so the manifests are reproducible.
 */
export const DEMO_APP_IMAGE = 'eclipse-temurin:21.0.5_11-jdk';
/** The JVM's own flags (the heap size); the dump flags are appended by collect() (agent/src/inject/collect-pod.ts). */
export function javaToolOptions(maxHeap: string): string {
  return `-Xmx${maxHeap}`;
}

export interface ApplicationProps extends Omit<ApplicationSettings, 'enabled'> {
  /** @default 'openshift' */
  readonly platform?: Platform;
  /**
   * ClusterRole granting `use` of the application's SCC.
   * @default none (plain Kubernetes)
   */
  readonly sccClusterRoleName?: string;
}

/**
 * The application Deployment (the demo leak by default) in its own namespace, its Service, and a Route
 * (OpenShift) or optional Ingress (Kubernetes). Every name comes from its settings (`app.name`,
 * `app.serviceName`, `app.namespace`). It is a plain Java Deployment: HeapDumpPipeline collects it with
 * `collect(app.deployment)`, exactly as a team's own service (its dumps land in `/mnt/dump/<namespace>/<pod>`).
 */
export class Application extends Construct {
  public readonly serviceAccountName: string;
  public readonly namespace: string;
  public readonly name: string;
  /** The Deployment, for `HeapDumpPipeline.collect()`. */
  public readonly deployment: k8s.KubeDeployment;

  public constructor(scope: Construct, id: string, props: ApplicationProps) {
    super(scope, id);
    const platform = prop(SETTINGS.platform, props.platform);
    const namespace = prop(SETTINGS.appNamespace, props.namespace, 'namespace');
    const name = prop(SETTINGS.appName, props.name, 'name');
    const serviceName = prop(SETTINGS.appServiceName, props.serviceName, 'serviceName');
    const sourceConfigMap = `${name}-source`;
    this.namespace = namespace;
    this.name = name;
    const image = optionalProp(SETTINGS.appImage, props.image);
    const maxHeap = prop(SETTINGS.appMaxHeap, props.maxHeap);
    const replicas = prop(SETTINGS.appReplicas, props.replicas);
    const port = prop(SETTINGS.appPort, props.port);
    const healthPath = prop(SETTINGS.appHealthPath, props.healthPath);
    const runAsUser = optionalProp(SETTINGS.appRunAsUser, props.runAsUser) ?? (platform === 'kubernetes' ? 1000 : undefined);
    const resources = checkResources('resources', prop(SETTINGS.appResources, props.resources));
    if (props.routeHost !== undefined) {
      if (platform !== 'openshift') throw new PipelinePropsError('routeHost', props.routeHost, 'no routeHost on platform "kubernetes" (use ingress)');
    }
    const routeHost = optionalProp(SETTINGS.appRouteHost, props.routeHost);
    if (props.ingress !== undefined && platform !== 'kubernetes') {
      throw new PipelinePropsError('ingress', props.ingress, 'no ingress on platform "openshift" (the app gets a Route)');
    }
    const ingress = props.ingress === undefined ? undefined : withPropScope('ingress', () => {
      checkSettingKeys('app.ingress', props.ingress, '');
      const className = optionalProp(SETTINGS.appIngressClassName, props.ingress?.className);
      const tlsSecretName = optionalProp(SETTINGS.appIngressTlsSecretName, props.ingress?.tlsSecretName);
      return { host: prop(SETTINGS.appIngressHost, props.ingress?.host), className, tlsSecretName };
    });

    const labels = componentLabels(name, 'application');
    const identity = new WorkloadIdentity(this, 'Identity', {
      name: name, namespace, labels, sccClusterRoleName: props.sccClusterRoleName,
    });
    this.serviceAccountName = identity.serviceAccountName;

    if (image === undefined) {
      new k8s.KubeConfigMap(this, 'Source', {
        metadata: { name: sourceConfigMap, namespace, labels },
        data: { [DEMO_APP_FILE_NAME]: demoAppSource() },
      });
    }

    const restricted: k8s.SecurityContext = {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    };
    const httpPort = k8s.IntOrString.fromString('http');

    const app: k8s.Container = {
      name: 'app',
      image: image ?? DEMO_APP_IMAGE,
      imagePullPolicy: 'IfNotPresent',
      command: image === undefined ? ['java', `/app/${DEMO_APP_FILE_NAME}`] : undefined,
      env: [
        nodeNameEnv(),
        { name: 'JAVA_TOOL_OPTIONS', value: javaToolOptions(maxHeap) },
      ],
      ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
      // The demo compiles its source at start: the first probes wait for that.
      readinessProbe: { httpGet: { path: healthPath, port: httpPort }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
      livenessProbe: { httpGet: { path: healthPath, port: httpPort }, initialDelaySeconds: 60, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
      resources,
      securityContext: restricted,
      volumeMounts: [
        { name: 'tmp', mountPath: '/tmp' },
        ...(image === undefined ? [{ name: 'app-source', mountPath: '/app', readOnly: true }] : []),
      ],
    };

    this.deployment = new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: name, namespace, labels: { ...labels, 'app.openshift.io/runtime': 'java' } },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { ...labels, 'app.openshift.io/runtime': 'java' } },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, runAsUser, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [app],
            volumes: [
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('256Mi') } },
              ...(image === undefined ? [{ name: 'app-source', configMap: { name: sourceConfigMap } }] : []),
            ],
          },
        },
      },
    });

    new k8s.KubeService(this, 'Service', {
      metadata: { name: serviceName, namespace, labels },
      spec: {
        selector: { app: name },
        ports: [{ name: 'http', port, targetPort: httpPort, protocol: 'TCP' }],
      },
    });

    if (platform === 'openshift') {
      new Route(this, 'Route', {
        metadata: { name: name, namespace, labels },
        spec: {
          host: routeHost,
          to: { kind: RouteSpecToKind.SERVICE, name: serviceName, weight: 100 },
          port: { targetPort: 'http' },
          tls: {
            termination: RouteSpecTlsTermination.EDGE,
            insecureEdgeTerminationPolicy: RouteSpecTlsInsecureEdgeTerminationPolicy.REDIRECT,
          },
        },
      });
    } else if (ingress !== undefined) {
      const ing = ingress;
      new k8s.KubeIngress(this, 'Ingress', {
        metadata: { name: name, namespace, labels },
        spec: {
          ingressClassName: ing.className,
          tls: ing.tlsSecretName === undefined ? undefined : [{ hosts: [ing.host], secretName: ing.tlsSecretName }],
          rules: [{
            host: ing.host,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: serviceName, port: { name: 'http' } } } }] },
          }],
        },
      });
    }
  }
}
