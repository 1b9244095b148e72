import * as fs from 'fs';
import * as path from 'path';
import { parser } from '@prometheus-io/lezer-promql';
import { Testing } from 'cdk8s';
import { Registry } from 'prom-client';
import { MountGuard } from '../../agent/src/mount-guard/guard';
import { CHANNELS, createNotificationMetrics } from '../../agent/src/report/metrics';
import { createRegistry } from '../../agent/src/runtime/metrics';
import { createLifecycleMetrics } from '../../agent/src/uploader/lifecycle';
import { createUploaderMetrics } from '../../agent/src/uploader/metrics';
import { HeapDumpMonitoring, HeapDumpMonitoringProps, MONITOR_NAME, OPENSHIFT_PLATFORM_MONITORING_LABEL, RULE_NAME } from '../../lib/monitoring';
import { runbookAnchor } from '../../lib/monitoring-alerts';
import { synthPipeline } from '../../lib/synth';
import { AnyObj, find, ofKind } from '../support/manifests';
import { schemaErrors } from '../support/schemas';

const NS = 'heapdump-system';
const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const RUNBOOK = path.resolve(__dirname, '..', '..', 'docs', 'runbook.md');

function synth(props: Partial<HeapDumpMonitoringProps> = {}): AnyObj[] {
  const chart = Testing.chart();
  new HeapDumpMonitoring(chart, 'monitoring', { namespace: NS, ...props });
  return Testing.synth(chart) as AnyObj[];
}

interface Rule { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> }
const rulesOf = (objects: AnyObj[]): Rule[] => find(objects as never, 'PrometheusRule', RULE_NAME).spec.groups.flatMap((g: { rules: Rule[] }) => g.rules);

/** Syntax errors (lezer's error nodes) in a PromQL expression, with the text around each. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({ enter: (n) => {
    if (n.type.isError) errors.push(`at ${n.from}: ...${expr.slice(Math.max(0, n.from - 15), n.from + 15)}...`);
  } });
  return errors;
}

/** Every vector selector of an expression: metric name and matcher texts. */
function selectors(expr: string): Array<{ metric: string; matchers: string[] }> {
  const out: Array<{ metric: string; matchers: string[] }> = [];
  parser.parse(expr).iterate({ enter: (n) => {
    if (n.name !== 'VectorSelector') return;
    const metric = n.node.getChild('Identifier');
    const matchers = n.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? [];
    out.push({ metric: metric ? expr.slice(metric.from, metric.to) : '', matchers: matchers.map((m) => expr.slice(m.from, m.to)) });
  } });
  return out;
}

/** Metric names the agents register, from the agents' own code (one registry, as in a process). */
async function agentMetricNames(): Promise<Set<string>> {
  const registry: Registry = createRegistry({ node: 'n', command: 'uploader' });
  createUploaderMetrics(registry);
  createLifecycleMetrics(registry);
  createNotificationMetrics(registry, CHANNELS);
  new MountGuard({} as never, { registry, logger: undefined } as never, {} as never);
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'. */
function anchors(markdown: string): Map<string, string> {
  const sections = new Map<string, string>();
  const parts = markdown.split(/^## /m).slice(1);
  for (const part of parts) {
    const [heading, ...body] = part.split('\n');
    sections.set(heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'), body.join('\n'));
  }
  return sections;
}

function matchesSelector(labels: Record<string, string>, sel: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values: string[] }> }): boolean {
  const okLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const okExprs = (sel.matchExpressions ?? []).every((e) => {
    if (e.operator !== 'In') throw new Error(`operator ${e.operator} not handled by the test`);
    return e.values.includes(labels[e.key]);
  });
  return okLabels && okExprs;
}

const VARIANTS: Array<[string, Partial<HeapDumpMonitoringProps>]> = [
  ['OpenShift user-workload monitoring, PodMonitor (defaults)', {}],
  ['plain Prometheus Operator, ServiceMonitor, selector labels, Prometheus RBAC', {
    stack: 'prometheus-operator', scrapeKind: 'ServiceMonitor', selectorLabels: { release: 'kube-prometheus-stack' },
    prometheusServiceAccount: { name: 'prometheus-k8s', namespace: 'monitoring' }, alertLabels: { team: 'platform' },
    runbookUrl: 'https://git.example.com/team/heapdump-pipeline/blob/main/docs/runbook.md',
  }],
  ['plain Prometheus Operator, PodMonitor', { stack: 'prometheus-operator' }],
];

describe('HeapDumpMonitoring', () => {
  test.each(VARIANTS)('%s: every object validates against its CRD or Kubernetes schema', (_name, props) => {
    const objects = synth(props);
    expect(objects.map((o) => o.kind)).toContain('PrometheusRule');
    expect(objects.flatMap((o) => schemaErrors(o))).toEqual([]);
    // Nothing here claims the namespace for OpenShift's platform monitoring.
    expect(JSON.stringify(objects)).not.toContain(OPENSHIFT_PLATFORM_MONITORING_LABEL);
  });

  test('the CRD validation is live: a misspelt or mistyped field fails', () => {
    const [monitor, rule] = [find(synth() as never, 'PodMonitor', MONITOR_NAME), find(synth() as never, 'PrometheusRule', RULE_NAME)];
    const typo = structuredClone(monitor);
    typo.spec.podMetricEndpoints = typo.spec.podMetricsEndpoints;
    expect(schemaErrors(typo).join()).toMatch(/must NOT have additional properties/);
    const badFor = structuredClone(rule);
    badFor.spec.groups[0].rules[0].for = 'ten minutes';
    expect(schemaErrors(badFor).join()).toMatch(/must match pattern/);
  });

  test('OpenShift: the rule is evaluated by the user-workload Prometheus; no selector labels are needed', () => {
    const objects = synth();
    expect(find(objects as never, 'PrometheusRule', RULE_NAME).metadata.labels).toEqual({
      'app.kubernetes.io/part-of': 'heapdump-pipeline', 'app.kubernetes.io/component': 'monitoring',
      'openshift.io/prometheus-rule-evaluation-scope': 'leaf-prometheus',
    });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([`PodMonitor/${MONITOR_NAME}`, `PrometheusRule/${RULE_NAME}`]);
    expect(objects.every((o) => o.metadata.namespace === NS)).toBe(true);
  });

  test('plain operator: selector labels on the monitor and the rule; a Role for the given Prometheus', () => {
    const objects = synth(VARIANTS[1][1]);
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      expect(ofKind(objects as never, kind)[0].metadata.labels.release).toBe('kube-prometheus-stack');
    }
    expect(find(objects as never, 'PrometheusRule', RULE_NAME).metadata.labels['openshift.io/prometheus-rule-evaluation-scope']).toBeUndefined();
    expect(find(objects as never, 'RoleBinding', 'heapdump-prometheus-discovery').subjects).toEqual([{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'monitoring' }]);
    expect(find(objects as never, 'Role', 'heapdump-prometheus-discovery').rules.flatMap((r: { verbs: string[] }) => r.verbs)).not.toContain('create');
  });

  test('the monitors select exactly the agents\' pods of a synthesized pipeline, on their metrics port', () => {
    const pipeline = synthPipeline({ agentImage: IMAGE }).objects as AnyObj[];
    const workloads = pipeline.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment');
    const podLabels = Object.fromEntries(workloads.map((w) => [w.metadata.name, w.spec.template.metadata.labels as Record<string, string>]));
    const agents = ['dump-volume-manager', 'heap-dump-s3-uploader'];
    expect(Object.keys(podLabels)).toEqual(expect.arrayContaining(agents));
    expect(Object.keys(podLabels).length).toBeGreaterThan(agents.length); // the demo app is there too

    const monitor = find(synth() as never, 'PodMonitor', MONITOR_NAME);
    const selected = Object.entries(podLabels).filter(([, l]) => matchesSelector(l, monitor.spec.selector)).map(([n]) => n);
    expect(selected.sort()).toEqual(agents);
    expect(monitor.spec.podMetricsEndpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
    for (const name of agents) {
      const ports = workloads.find((w) => w.metadata.name === name)!.spec.template.spec.containers.flatMap((c: { ports?: unknown[] }) => c.ports ?? []);
      expect(ports).toContainEqual({ name: 'http', containerPort: 9090, protocol: 'TCP' });
    }

    // ServiceMonitor: one headless Service per agent, each selecting exactly that agent.
    const sm = synth({ stack: 'prometheus-operator', scrapeKind: 'ServiceMonitor' });
    const services = ofKind(sm as never, 'Service');
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['heapdump-mount-guard-metrics', 'heapdump-uploader-metrics']);
    for (const s of services) {
      expect(s.spec.clusterIP).toBe('None');
      expect(Object.entries(podLabels).filter(([, l]) => matchesSelector(l, { matchLabels: s.spec.selector })).length).toBe(1);
      expect(matchesSelector(s.metadata.labels, find(sm as never, 'ServiceMonitor', MONITOR_NAME).spec.selector)).toBe(true);
    }
  });
});

describe('the alerts', () => {
  const rules = rulesOf(synth());

  test('cover what issue 11 asks for, each with a severity, a summary and a description', () => {
    expect(rules.map((r) => r.alert)).toEqual([
      'HeapDumpAgentDown', 'HeapDumpMountLost', 'HeapDumpMountRemounted', 'HeapDumpWaitingTooLong', 'HeapDumpUploadsFailing',
      'HeapDumpNoUploadWhileDumpsWait', 'HeapDumpNotificationsFailing', 'HeapDumpBucketLifecycleMissing', 'HeapDumpFolderFillingUp', 'HeapDumpFolderFull',
    ]);
    for (const r of rules) {
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.description.length).toBeGreaterThan(10);
    }
  });

  test('every expression is syntactically valid PromQL (Prometheus\' own grammar); the check catches errors', () => {
    for (const r of rules) expect({ alert: r.alert, errors: promqlErrors(r.expr) }).toEqual({ alert: r.alert, errors: [] });
    expect(promqlErrors('sum by (node (rate(heapdump_uploader_upload_failures_total[5m]))')).not.toEqual([]);
    expect(promqlErrors('heapdump_uploader_backlog_files{namespace="x"} > > 0')).not.toEqual([]);
  });

  test('every metric an alert reads is registered by the agents\' own code (or is Prometheus\' `up`)', async () => {
    const known = await agentMetricNames();
    expect(known.has('heapdump_uploader_files_uploaded_total')).toBe(true); // the registry is really filled
    const used = new Set(rules.flatMap((r) => selectors(r.expr).map((s) => s.metric)));
    expect(used.size).toBeGreaterThan(8);
    const unknown = [...used].filter((m) => !known.has(m) && m !== 'up');
    expect(unknown).toEqual([]);
  });

  test('every selector is scoped to the pipeline namespace', () => {
    for (const r of rules) {
      for (const s of selectors(r.expr)) expect({ alert: r.alert, metric: s.metric, scoped: s.matchers.includes(`namespace="${NS}"`) }).toEqual({ alert: r.alert, metric: s.metric, scoped: true });
    }
  });

  test('every runbook_url points to a section of docs/runbook.md with meaning, checks and actions; no stale sections', () => {
    const sections = anchors(fs.readFileSync(RUNBOOK, 'utf8'));
    for (const r of rules) {
      const [base, anchor] = r.annotations.runbook_url.split('#');
      expect(base).toBe('docs/runbook.md');
      expect(anchor).toBe(runbookAnchor(r.alert));
      const body = sections.get(anchor);
      expect({ alert: r.alert, section: body !== undefined }).toEqual({ alert: r.alert, section: true });
      for (const part of ['**Meaning.**', '**How to check.**', '**What to do.**']) expect(body).toContain(part);
    }
    expect([...sections.keys()].sort()).toEqual(rules.map((r) => runbookAnchor(r.alert)).sort());
  });

  test('thresholds and alert labels are applied; a custom runbook URL is used as given', () => {
    const custom = rulesOf(synth({
      thresholds: { pendingAgeSeconds: 900, folderWarningRatio: 0.7 }, alertLabels: { team: 'platform' },
      runbookUrl: 'https://git.example.com/t/p/blob/main/docs/runbook.md',
    }));
    const byName = Object.fromEntries(custom.map((r) => [r.alert, r]));
    expect(byName.HeapDumpWaitingTooLong.expr).toContain('> 900');
    expect(byName.HeapDumpWaitingTooLong.annotations.description).toContain('threshold 15m');
    expect(byName.HeapDumpFolderFillingUp.expr).toMatch(/> 0\.7$/);
    expect(custom.every((r) => r.labels.team === 'platform')).toBe(true);
    expect(byName.HeapDumpMountLost.annotations.runbook_url).toBe('https://git.example.com/t/p/blob/main/docs/runbook.md#heapdumpmountlost');
  });

  test('bad props fail synth with one line naming the prop', () => {
    expect(() => synth({ thresholds: { folderWarningRatio: 0.9, folderCriticalRatio: 0.85 } })).toThrow('Invalid thresholds.folderCriticalRatio: 0.85 (expected a ratio above thresholds.folderWarningRatio (0.9))');
    expect(() => synth({ thresholds: { pendingAge: 1 } as never })).toThrow(/Unknown key thresholds\.pendingAge: did you mean thresholds\.pending\w+\? \(expected a key of thresholds: /);
    expect(() => synth({ stack: 'thanos' as never })).toThrow(/Invalid stack: "thanos"/);
    expect(() => synth({ prometheusServiceAccount: { name: 'p', namespace: 'm' } })).toThrow(/Invalid prometheusServiceAccount: .*unset with stack openshift-user-workload/);
    expect(() => synth({ runbookUrl: 'docs/runbook.md#x' })).toThrow(/Invalid runbookUrl/);
    expect(() => synth({ alertLabels: { severity: 'page' } })).toThrow(/Invalid alertLabels.severity/);
    expect(() => synth({ scrapeInterval: 'often' })).toThrow(/Invalid scrapeInterval: "often"/);
  });
});
