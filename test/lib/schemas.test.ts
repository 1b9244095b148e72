import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { CRD_DIR, loadCrdValidators, REQUIRED_CRDS, schemaErrors } from '../support/schemas';

const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const VARIANTS: [string, HeapDumpPipelineProps][] = [
  ['default', { agentImage: IMAGE }],
  ['customised', {
    agentImage: IMAGE, namespace: 'dumps', storage: { size: '1Ti', storageClassName: 'cephfs', accessMode: 'ReadWriteOnce' },
    uploader: { afterUpload: 'delete', endpoint: 'https://s3.example.com', credentials: { secretValues: { accessKeyId: 'a', secretAccessKey: 'b' } } },
    app: { image: 'registry.example.com/team/api:1.0.0', routeHost: 'api.apps.example.com' },
  }],
  ['workload identity', { agentImage: IMAGE, uploader: { credentials: { source: 'workload-identity', roleArn: 'arn:aws:iam::123456789012:role/r' } } }],
  ['kubernetes with ingress', { agentImage: IMAGE, platform: 'kubernetes', app: { ingress: { host: 'leak.example.com', className: 'nginx', tlsSecretName: 'tls' } } }],
];

describe('every synthesized object validates against its schema', () => {
  test.each(VARIANTS)('%s', (_name, props) => {
    const { objects } = synthPipeline(props);
    expect(objects.length).toBeGreaterThan(5);
    expect(objects.flatMap(schemaErrors)).toEqual([]);
  });

  test('the validators catch real mistakes (Kubernetes and CRD kinds)', () => {
    const { objects } = synthPipeline({ agentImage: IMAGE });
    const ds = JSON.parse(JSON.stringify(objects.find((o) => o.kind === 'DaemonSet'))) as { spec: { template: { spec: { containers: { ports: unknown[] }[] } } } };
    ds.spec.template.spec.containers[0].ports = [{ containerPort: 'ninety' }];
    expect(schemaErrors(ds as never).join()).toMatch(/containerPort must be integer/);

    const scc = JSON.parse(JSON.stringify(objects.find((o) => o.kind === 'SecurityContextConstraints'))) as Record<string, unknown>;
    scc.allowPrivilegedContainers = true; // misspelt field
    expect(schemaErrors(scc as never).join()).toMatch(/must NOT have additional properties/);
    const route = JSON.parse(JSON.stringify(objects.find((o) => o.kind === 'Route'))) as { spec: { tls: { termination: string } } };
    route.spec.tls.termination = 'edgy';
    expect(schemaErrors(route as never).join()).toMatch(/must be equal to one of the allowed values/);
    expect(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual(['Widget/w: no schema for example.com/v1 Widget']);
  });

  test('the CRD schemas are read from <repo>/crds and a missing folder fails loudly', () => {
    expect(CRD_DIR).toBe(path.resolve(__dirname, '..', '..', 'crds'));
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-crds-'));
    try {
      expect(() => loadCrdValidators(empty)).toThrow(/CRD schema security.openshift.io_securitycontextconstraints.crd.yaml not found/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  test('every vendored CRD is listed in crds/SOURCES.md with its sha256, and each one loads', () => {
    const sources = fs.readFileSync(path.join(CRD_DIR, 'SOURCES.md'), 'utf8');
    const files = fs.readdirSync(CRD_DIR).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(expect.arrayContaining(REQUIRED_CRDS));
    for (const f of files) {
      const sha = createHash('sha256').update(fs.readFileSync(path.join(CRD_DIR, f))).digest('hex');
      expect({ f, listed: new RegExp(`^\\| ${f.replace(/\./g, '\\.')} \\|.*\`${sha}\``, 'm').test(sources) }).toEqual({ f, listed: true });
    }
    const v = loadCrdValidators();
    expect(v.kinds).toEqual(expect.arrayContaining([
      'security.openshift.io/v1/SecurityContextConstraints', 'route.openshift.io/v1/Route',
      'monitoring.coreos.com/v1/PodMonitor', 'monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule',
    ]));
    const rule = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'r' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up == 0' }] }] } };
    expect(schemaErrors(rule as never)).toEqual([]);
    expect(schemaErrors({ ...rule, spec: { groups: [{ name: "g", rulez: [] }] } } as never).join()).toMatch(/must NOT have additional properties/);
  });
});
