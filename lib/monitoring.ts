/**
 * Monitoring as objects: how Prometheus finds the agents (a PodMonitor, or a ServiceMonitor with
 * headless Services) and what it alerts on (a PrometheusRule whose every alert links to its section
 * of docs/runbook.md). Two stacks:
 *
 * - `openshift-user-workload`: OpenShift's user-workload monitoring (the cluster admin enables it in
 *   `cluster-monitoring-config`). It scrapes monitors in every namespace that does NOT carry
 *   `openshift.io/cluster-monitoring: "true"`: that label is for platform namespaces only, and with it
 *   the platform Prometheus, not user-workload monitoring, owns the namespace (and needs RBAC there).
 *   The rule is evaluated by the user-workload Prometheus itself (`leaf-prometheus`): its metrics are
 *   all in this namespace. Nothing else is needed (its Prometheus may read pods in any namespace).
 * - `prometheus-operator`: plain Prometheus Operator. Its Prometheus selects monitors and rules by
 *   labels (`selectorLabels`, e.g. `release: kube-prometheus-stack`) and needs permission to discover
 *   pods here (`prometheusServiceAccount`, unless it has a ClusterRole for that).
 *
 * Why a PodMonitor by default: the agents are DaemonSets with a named port and no Service; a
 * PodMonitor scrapes them as they are. A ServiceMonitor is offered for Prometheus setups that select
 * only ServiceMonitors (e.g. a `podMonitorSelector` left unset); it needs one headless Service per agent.
 */
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { COMMANDS, HTTP } from '../agent/src/contract';
import { AGENT_PORT_NAME } from './agent-container';
import { PodMonitor } from './imports/podmonitors-monitoring.coreos.com';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr } from './imports/prometheusrules-monitoring.coreos.com';
import { ServiceMonitor } from './imports/servicemonitors-monitoring.coreos.com';
import { PART_OF } from './labels';
import { AlertThresholds, heapDumpAlertRules, resolveThresholds } from './monitoring-alerts';
import { oneOf } from '../agent/src/settings/kinds';
import { checkDnsLabel, checkDnsSubdomain, checkKind, checkKnownKeys, PipelinePropsError } from './validation';

// The choices are the settings table's (`monitoring.stack`, `monitoring.scrapeKind`).
import { MONITORING_STACKS, SCRAPE_KINDS } from '../agent/src/settings';
import type { MonitoringStack, ScrapeKind } from './generated/settings';
export { MONITORING_STACKS, SCRAPE_KINDS };
export type { MonitoringStack, ScrapeKind };

/** Namespace label by which OpenShift's PLATFORM monitoring claims a namespace; never set it on the pipeline's. */
export const OPENSHIFT_PLATFORM_MONITORING_LABEL = 'openshift.io/cluster-monitoring';
/** PrometheusRule label: evaluate in the user-workload Prometheus (not Thanos Ruler). */
export const OPENSHIFT_RULE_SCOPE_LABEL = 'openshift.io/prometheus-rule-evaluation-scope';

/** Agents that serve /metrics: their `app.kubernetes.io/component` label equals their container name. */
export const SCRAPED_COMPONENTS: readonly string[] = [COMMANDS.mountGuard, COMMANDS.uploader];
/** The same with the injector (`inject`), when the pipeline has one. */
export const SCRAPED_COMPONENTS_WITH_INJECTOR: readonly string[] = [...SCRAPED_COMPONENTS, COMMANDS.inject];

export const MONITOR_NAME = 'heapdump-agents';
export const RULE_NAME = 'heapdump-pipeline-alerts';
/** Label of the headless Services a ServiceMonitor selects. */
export const METRICS_SERVICE_LABEL = 'heapdump-pipeline.io/metrics';

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function checkLabels(prop: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PipelinePropsError(prop, value, 'an object of label names to string values');
  for (const [k, v] of Object.entries(value)) {
    const [prefix, name] = k.includes('/') ? k.split(/\/(.*)/s, 2) : [undefined, k];
    if (prefix !== undefined) checkDnsSubdomain(`${prop} key prefix`, prefix);
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name) || typeof v !== 'string' || !/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(v)) {
      throw new PipelinePropsError(`${prop}.${k}`, v, 'a Kubernetes label: name and value of at most 63 letters, digits, \'-\', \'_\' and \'.\'');
    }
  }
  return { ...(value as Record<string, string>) };
}

export interface HeapDumpMonitoringProps {
  /** The pipeline namespace (where the agents run); the monitor and the rule are created there. */
  readonly namespace: string;
  /** @default 'openshift-user-workload' */
  readonly stack?: MonitoringStack;
  /** @default 'PodMonitor' */
  readonly scrapeKind?: ScrapeKind;
  /**
   * Labels on the monitor and the rule, for a Prometheus that selects them by label
   * (plain operator; e.g. `{ release: 'kube-prometheus-stack' }`).
   * @default none
   */
  readonly selectorLabels?: Record<string, string>;
  /**
   * Scrape interval (a Prometheus duration).
   * @default '30s'
   */
  readonly scrapeInterval?: string;
  /**
   * Where the team reads docs/runbook.md (e.g. its rendered URL in your Git host); each alert's
   * `runbook_url` is this plus `#<alert name in lower case>`.
   * @default 'docs/runbook.md' (the path in this repository)
   */
  readonly runbookUrl?: string;
  /** @default see AlertThresholds */
  readonly thresholds?: AlertThresholds;
  /**
   * Labels added to every alert (routing in Alertmanager, e.g. `{ team: 'platform' }`).
   * @default none
   */
  readonly alertLabels?: Record<string, string>;
  /**
   * `prometheus-operator` only: the Prometheus ServiceAccount to allow to discover and scrape pods
   * (and Services) in this namespace, with a Role and RoleBinding.
   * @default none (its Prometheus already may, e.g. kube-prometheus-stack's ClusterRole)
   */
  readonly prometheusServiceAccount?: { readonly name: string; readonly namespace: string };
  /**
   * The agents scraped (their component label = container name), also the containers HeapDumpAgentDown watches.
   * @default SCRAPED_COMPONENTS (mount guard and uploader)
   */
  readonly components?: readonly string[];
  /** Prefix of every name (the settings table's `namePrefix`). @default '' */
  readonly namePrefix?: string;
}

/** The pipeline's PodMonitor (or ServiceMonitor + Services) and PrometheusRule; see the file comment for the two stacks. */
export class HeapDumpMonitoring extends Construct {
  public readonly stack: MonitoringStack;
  public readonly scrapeKind: ScrapeKind;
  public readonly ruleName: string;
  public readonly monitorName: string;

  public constructor(scope: Construct, id: string, props: HeapDumpMonitoringProps) {
    super(scope, id);
    checkKnownKeys('', props, ['namespace', 'stack', 'scrapeKind', 'selectorLabels', 'scrapeInterval', 'runbookUrl', 'thresholds', 'alertLabels', 'prometheusServiceAccount', 'components', 'namePrefix']);
    const prefix = props.namePrefix ?? '';
    this.monitorName = `${prefix}${MONITOR_NAME}`;
    this.ruleName = `${prefix}${RULE_NAME}`;
    const components = props.components ?? SCRAPED_COMPONENTS;
    const namespace = checkDnsLabel('namespace', props.namespace);
    this.stack = checkKind(oneOf(MONITORING_STACKS), 'stack', props.stack ?? 'openshift-user-workload');
    this.scrapeKind = checkKind(oneOf(SCRAPE_KINDS), 'scrapeKind', props.scrapeKind ?? 'PodMonitor');
    const selectorLabels = checkLabels('selectorLabels', props.selectorLabels);
    const alertLabels = checkLabels('alertLabels', props.alertLabels);
    if ('severity' in alertLabels) throw new PipelinePropsError('alertLabels.severity', alertLabels.severity, 'no severity: each alert sets its own');
    const interval = props.scrapeInterval ?? '30s';
    if (typeof interval !== 'string' || !DURATION.test(interval)) throw new PipelinePropsError('scrapeInterval', interval, 'a Prometheus duration such as 30s or 1m');
    const runbookUrl = props.runbookUrl ?? 'docs/runbook.md';
    if (typeof runbookUrl !== 'string' || runbookUrl === '' || runbookUrl.includes('#') || /\s/.test(runbookUrl)) {
      throw new PipelinePropsError('runbookUrl', runbookUrl, 'a URL or path of docs/runbook.md without a #fragment');
    }
    const thresholds = resolveThresholds(props.thresholds);
    if (props.prometheusServiceAccount !== undefined && this.stack !== 'prometheus-operator') {
      throw new PipelinePropsError('prometheusServiceAccount', props.prometheusServiceAccount, 'unset with stack openshift-user-workload (its Prometheus needs no Role here)');
    }

    const labels = { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'monitoring', ...selectorLabels };
    const endpoint = { port: AGENT_PORT_NAME, path: HTTP.metrics, interval };
    // The component label also matches pods of the demo app's or other parts' `http` ports: only the agents'.
    const podSelector = {
      matchLabels: { 'app.kubernetes.io/part-of': PART_OF },
      matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: [...components] }],
    };

    if (this.scrapeKind === 'PodMonitor') {
      new PodMonitor(this, 'PodMonitor', {
        metadata: { name: this.monitorName, namespace, labels },
        spec: { selector: podSelector, podMetricsEndpoints: [endpoint] },
      });
    } else {
      for (const component of components) {
        new k8s.KubeService(this, `Service-${component}`, {
          metadata: { name: `${prefix}heapdump-${component}-metrics`, namespace, labels: { ...labels, [METRICS_SERVICE_LABEL]: 'true', 'app.kubernetes.io/component': component } },
          spec: {
            clusterIp: 'None', // headless: endpoints only, no virtual IP
            selector: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': component },
            ports: [{ name: AGENT_PORT_NAME, port: HTTP.defaultPort, targetPort: k8s.IntOrString.fromString(AGENT_PORT_NAME), protocol: 'TCP' }],
          },
        });
      }
      new ServiceMonitor(this, 'ServiceMonitor', {
        metadata: { name: this.monitorName, namespace, labels },
        spec: { selector: { matchLabels: { [METRICS_SERVICE_LABEL]: 'true' } }, endpoints: [endpoint] },
      });
    }

    const rules = heapDumpAlertRules({ namespace, runbookUrl, thresholds, alertLabels, containers: components });
    new PrometheusRule(this, 'Resource', {
      metadata: {
        name: this.ruleName,
        namespace,
        labels: { ...labels, ...(this.stack === 'openshift-user-workload' ? { [OPENSHIFT_RULE_SCOPE_LABEL]: 'leaf-prometheus' } : {}) },
      },
      spec: {
        groups: [{
          name: 'heapdump-pipeline',
          rules: rules.map((r) => ({ ...r, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(r.expr), annotations: { ...r.annotations } })),
        }],
      },
    });

    if (props.prometheusServiceAccount !== undefined) {
      const sa = props.prometheusServiceAccount;
      checkKnownKeys('prometheusServiceAccount', sa, ['name', 'namespace']);
      const saName = checkDnsSubdomain('prometheusServiceAccount.name', sa.name);
      const saNamespace = checkDnsLabel('prometheusServiceAccount.namespace', sa.namespace);
      new k8s.KubeRole(this, 'PrometheusDiscovery', {
        metadata: { name: `${prefix}heapdump-prometheus-discovery`, namespace, labels },
        rules: [
          { apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        ],
      });
      new k8s.KubeRoleBinding(this, 'PrometheusDiscoveryBinding', {
        metadata: { name: `${prefix}heapdump-prometheus-discovery`, namespace, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${prefix}heapdump-prometheus-discovery` },
        subjects: [{ kind: 'ServiceAccount', name: saName, namespace: saNamespace }],
      });
    }
  }
}
