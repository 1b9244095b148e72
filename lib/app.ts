import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { PATHS, POD_DUMP_SUBPATH_EXPR } from '../agent/src/contract';
import { SETTINGS } from '../agent/src/settings';
import { checkResources, nodeNameEnv, podIdentityEnv, waitReadyInitContainer } from './agent-container';
import { demoAppSource, DEMO_APP_FILE_NAME } from './demo-app/source';
import type { ApplicationSettings, ImagePullPolicy, Platform } from './generated/settings';
import { Route, RouteSpecTlsInsecureEdgeTerminationPolicy, RouteSpecTlsTermination, RouteSpecToKind } from './imports/route.openshift.io';
import { componentLabels } from './labels';
import { checkSettingKeys, optionalProp, prop } from './props';
import { PipelinePropsError, withPropScope } from './validation';
import { WorkloadIdentity } from './workload-identity';

export type { AppIngressSettings, ApplicationSettings } from './generated/settings';

export const APP_NAME = 'memory-leak-app';
export const APP_SERVICE_NAME = 'memory-leak-service';
export const APP_SOURCE_CONFIGMAP_NAME = 'memory-leak-app-source';
/**
 * Stock JDK image for the demo. Single-file source launch (`java Leak.java`) compiles in memory
 * with the jdk.compiler module, which JRE-only images lack, so this must be a JDK image; pinned
 * to a release tag so the manifests are reproducible.
 */
export const DEMO_APP_IMAGE = 'eclipse-temurin:21.0.5_11-jdk';
/**
 * Per-pod dump folder below the node's /mnt/dump: every JVM is PID 1, so one folder per pod. Expanded
 * from the pipeline's own downward-API variables (HEAPDUMP_POD_NAMESPACE / HEAPDUMP_POD_NAME), so an
 * application's own POD_NAME never changes where its dumps go.
 */
export const POD_DUMP_SUBPATH = POD_DUMP_SUBPATH_EXPR;

/** The JVM flags: heap dump into the per-pod folder on OOM, then exit so the pod restarts. */
export function javaToolOptions(maxHeap: string): string {
  return [
    `-Xmx${maxHeap}`,
    '-XX:+HeapDumpOnOutOfMemoryError',
    `-XX:HeapDumpPath=${PATHS.appDumpDir}`,
    '-XX:+ExitOnOutOfMemoryError',
  ].join(' ');
}

export interface ApplicationProps extends Omit<ApplicationSettings, 'enabled'> {
  readonly namespace: string;
  /** The agent image, for the wait-ready init container. */
  readonly agentImage: string;
  /** @default 'openshift' */
  readonly platform?: Platform;
  /**
   * ClusterRole granting `use` of the application's SCC.
   * @default none (plain Kubernetes)
   */
  readonly sccClusterRoleName?: string;
  /** Pull policy of the agent image. @default 'IfNotPresent' */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Seconds the init container waits for the mount guard's marker (0 = forever). @default 600 */
  readonly waitTimeoutSeconds?: number;
  /** Agent log level of the init container. @default 'info' */
  readonly logLevel?: string;
}

/**
 * The application Deployment (the demo leak by default), its Service, and a Route (OpenShift) or
 * optional Ingress (Kubernetes). Its dumps land in `/mnt/dump/<namespace>/<pod>` on the node.
 */
export class Application extends Construct {
  public readonly serviceAccountName: string;

  public constructor(scope: Construct, id: string, props: ApplicationProps) {
    super(scope, id);
    const platform = prop(SETTINGS.platform, props.platform);
    const namespace = props.namespace;
    const agentImage = prop(SETTINGS.agentImage, props.agentImage);
    const image = optionalProp(SETTINGS.appImage, props.image);
    const maxHeap = prop(SETTINGS.appMaxHeap, props.maxHeap);
    const replicas = prop(SETTINGS.appReplicas, props.replicas);
    const port = prop(SETTINGS.appPort, props.port);
    const healthPath = prop(SETTINGS.appHealthPath, props.healthPath);
    const runAsUser = optionalProp(SETTINGS.appRunAsUser, props.runAsUser) ?? (platform === 'kubernetes' ? 1000 : undefined);
    const resources = checkResources('resources', prop(SETTINGS.appResources, props.resources));
    const imagePullPolicy = prop(SETTINGS.imagePullPolicy, props.imagePullPolicy);
    const waitTimeoutMs = prop(SETTINGS.waitTimeout, props.waitTimeoutSeconds);
    const logLevel = prop(SETTINGS.logLevel, props.logLevel, 'logLevel');
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

    const labels = componentLabels(APP_NAME, 'application');
    const identity = new WorkloadIdentity(this, 'Identity', {
      name: APP_NAME, namespace, labels, sccClusterRoleName: props.sccClusterRoleName,
    });
    this.serviceAccountName = identity.serviceAccountName;

    if (image === undefined) {
      new k8s.KubeConfigMap(this, 'Source', {
        metadata: { name: APP_SOURCE_CONFIGMAP_NAME, namespace, labels },
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
        ...podIdentityEnv(),
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
        {
          name: 'host-dump',
          mountPath: PATHS.appDumpDir,
          // Resolved at main-container start, after wait-ready verified the mount and created the folder.
          subPathExpr: POD_DUMP_SUBPATH,
          mountPropagation: 'HostToContainer',
        },
        { name: 'tmp', mountPath: '/tmp' },
        ...(image === undefined ? [{ name: 'app-source', mountPath: '/app', readOnly: true }] : []),
      ],
    };

    new k8s.KubeDeployment(this, 'Resource', {
      metadata: { name: APP_NAME, namespace, labels: { ...labels, 'app.openshift.io/runtime': 'java' } },
      spec: {
        replicas,
        selector: { matchLabels: { app: APP_NAME } },
        template: {
          metadata: { labels: { ...labels, 'app.openshift.io/runtime': 'java' } },
          spec: {
            serviceAccountName: identity.serviceAccountName,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { runAsNonRoot: true, runAsUser, seccompProfile: { type: 'RuntimeDefault' } },
            initContainers: [waitReadyInitContainer({
              image: agentImage, imagePullPolicy, volumeName: 'host-dump', timeoutMs: waitTimeoutMs,
              logLevel, securityContext: restricted,
              // wait-ready creates the per-pod folder as the app's UID once the mount is verified.
              createPodFolder: true,
            })],
            containers: [app],
            // Why not a hostPath of /mnt/dump/<namespace> (as the first design sketched): the kubelet creates
            // a DirectoryOrCreate hostPath before init containers run, possibly on the node's root
            // disk before the guard has mounted. The node's /mnt/dump must already exist (type
            // Directory) and the per-pod subPath is resolved only at main-container start, after
            // wait-ready has verified the marker.
            volumes: [
              { name: 'host-dump', hostPath: { path: PATHS.hostDumpDir, type: 'Directory' } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('256Mi') } },
              ...(image === undefined ? [{ name: 'app-source', configMap: { name: APP_SOURCE_CONFIGMAP_NAME } }] : []),
            ],
          },
        },
      },
    });

    new k8s.KubeService(this, 'Service', {
      metadata: { name: APP_SERVICE_NAME, namespace, labels },
      spec: {
        selector: { app: APP_NAME },
        ports: [{ name: 'http', port, targetPort: httpPort, protocol: 'TCP' }],
      },
    });

    if (platform === 'openshift') {
      new Route(this, 'Route', {
        metadata: { name: APP_NAME, namespace, labels },
        spec: {
          host: routeHost,
          to: { kind: RouteSpecToKind.SERVICE, name: APP_SERVICE_NAME, weight: 100 },
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
        metadata: { name: APP_NAME, namespace, labels },
        spec: {
          ingressClassName: ing.className,
          tls: ing.tlsSecretName === undefined ? undefined : [{ hosts: [ing.host], secretName: ing.tlsSecretName }],
          rules: [{
            host: ing.host,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: APP_SERVICE_NAME, port: { name: 'http' } } } }] },
          }],
        },
      });
    }
  }
}
