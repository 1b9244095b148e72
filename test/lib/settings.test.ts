/**
 * Every construct prop of the settings table, through the real constructs: a valid value synthesizes
 * and, for a setting the agent reads, reaches the manifests as a string the agent's own parser turns
 * back into the same value; an invalid value stops synth with one message naming the prop path. The
 * JSON Schema editors use agrees with the constructs on every sample. Generic: a new entry is covered
 * with no new test code (a prop that needs other props set gives them in CONTEXT).
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { resolveEnv, type Container } from '../e2e/kubelet-sim';
import { propDefault, propSettings, type Setting, SETTINGS, GROUPS, propGroup } from '../../agent/src/settings';
import { HeapDumpPipelineProps } from '../../lib/pipeline';
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';
import { find, podSpec } from '../support/manifests';

const ROOT = path.resolve(__dirname, '..', '..');
const IMAGE = 'registry.example.com/platform/heapdump-agent:0.1.0';
const ARN = 'arn:aws:iam::123456789012:role/heap-dump-uploader';

type Props = Record<string, unknown>;

function setAt(target: Props, dotted: string, value: unknown): Props {
  const keys = dotted.split('.');
  const out: Props = { ...target };
  let cur = out;
  for (const k of keys.slice(0, -1)) {
    cur[k] = { ...((cur[k] as Props | undefined) ?? {}) };
    cur = cur[k] as Props;
  }
  cur[keys[keys.length - 1]] = value;
  return out;
}

/** Other props a prop needs to be meaningful (e.g. an Ingress only exists on plain Kubernetes). */
const CONTEXT: Record<string, (value: unknown) => Props> = {
  'app.ingress.host': () => ({ platform: 'kubernetes' }),
  'app.ingress.className': () => ({ platform: 'kubernetes', app: { ingress: { host: 'leak.example.com' } } }),
  'app.ingress.tlsSecretName': () => ({ platform: 'kubernetes', app: { ingress: { host: 'leak.example.com' } } }),
  // The demo's namespace must differ from the pipeline's.
  namespace: (v) => (v === 'memory-leak-demo' ? { app: { namespace: 'demo' } } : {}),
  'uploader.notifications.webhook.format': () => ({ uploader: { notifications: { webhook: { secretName: 'notify-webhook' } } } }),
  'uploader.notifications.webhook.events': () => ({ uploader: { notifications: { webhook: { secretName: 'notify-webhook' } } } }),
  'uploader.notifications.webhook.secretKey': () => ({ uploader: { notifications: { webhook: { secretName: 'notify-webhook' } } } }),
  'uploader.credentials.source': (v) => (v === 'workload-identity' ? { uploader: { credentials: { roleArn: ARN } } } : {}),
  'uploader.credentials.roleArn': () => ({ uploader: { credentials: { source: 'workload-identity' } } }),
  'uploader.credentials.serviceAccountAnnotations': () => ({ uploader: { credentials: { source: 'workload-identity', roleArn: ARN } } }),
  'uploader.credentials.secretValues.accessKeyId': () => ({ uploader: { credentials: { secretValues: { secretAccessKey: 'b' } } } }),
  'uploader.credentials.secretValues.secretAccessKey': () => ({ uploader: { credentials: { secretValues: { accessKeyId: 'a' } } } }),
  'uploader.credentials.secretValues.region': () => ({ uploader: { credentials: { secretValues: { accessKeyId: 'a', secretAccessKey: 'b' } } } }),
  'uploader.credentials.secretValues.endpointUrl': () => ({ uploader: { credentials: { secretValues: { accessKeyId: 'a', secretAccessKey: 'b' } } } }),
  // A bundle of your own needs its ConfigMap named; the other keys need a source.
  'uploader.caBundle.source': (v) => (v === 'configmap' ? { uploader: { caBundle: { configMapName: 's3-ca' } } } : {}),
  'uploader.caBundle.configMapName': () => ({ uploader: { caBundle: { source: 'configmap' } } }),
  'uploader.caBundle.key': () => ({ uploader: { caBundle: { source: 'configmap', configMapName: 's3-ca' } } }),
  // A KMS key only goes with SSE-KMS.
  'uploader.encryption.kmsKeyId': () => ({ uploader: { encryption: { mode: 'SSE-KMS' } } }),
  // The web page's Route host is OpenShift's; workload identity needs a role or annotations.
  'api.credentials.source': (v) => (v === 'workload-identity' ? { api: { credentials: { roleArn: ARN } } } : {}),
  'api.credentials.roleArn': () => ({ api: { credentials: { source: 'workload-identity' } } }),
  'api.credentials.serviceAccountAnnotations': () => ({ api: { credentials: { source: 'workload-identity', roleArn: ARN } } }),
  // NO_PROXY only goes with a proxy.
  'uploader.proxy.noProxy': () => ({ uploader: { proxy: { httpsProxy: 'http://proxy.example.com:3128' } } }),
};

function propsWith(s: Setting & { prop: string }, value: unknown): HeapDumpPipelineProps {
  const context = CONTEXT[s.prop]?.(value) ?? {};
  return setAt({ agentImage: IMAGE, ...context }, s.prop, value) as unknown as HeapDumpPipelineProps;
}

const PROPS = propSettings().map(([id, s]) => [`${s.prop} (${id})`, s] as const);

describe.each(PROPS)('%s', (_name, s) => {
  test('every valid sample synthesizes; an invalid one fails with one line naming the prop', () => {
    for (const v of s.kind.samples.valid) {
      expect(() => synthPipeline(propsWith(s, v))).not.toThrow();
    }
    for (const v of s.kind.samples.invalid) {
      let message = '';
      try {
        synthPipeline(propsWith(s, v));
      } catch (e) {
        expect(e).toBeInstanceOf(PipelinePropsError);
        message = (e as Error).message;
      }
      // A key the value must not have is named as such (lib/validation.ts): "Unknown key <prop>.<key>".
      const named = message.startsWith(`Invalid ${s.prop}`) || message.startsWith(`Unknown key ${s.prop}`);
      expect({ v, message: named && !message.includes('\n') }).toEqual({ v, message: true });
      if (s.secret) expect({ v, message }).toEqual({ v, message: expect.stringMatching(/^Invalid \S+: "<redacted>" \(expected /) });
    }
  });

  if (s.env !== undefined) {
    const env = s.env;
    test(`reaches ${env} as a string the agent parses back to the same value`, () => {
      const d = propDefault(s);
      const sample = s.kind.samples.valid.find((v) => d === undefined || JSON.stringify(s.kind.fromProp(v)) !== JSON.stringify(s.kind.fromProp(d)));
      expect(sample).toBeDefined();
      const { objects } = synthPipeline(propsWith(s, sample));
      const configMaps: Record<string, Record<string, string>> = {};
      for (const o of objects.filter((x) => x.kind === 'ConfigMap')) configMaps[o.metadata.name] = (o.data ?? {}) as Record<string, string>;
      const credentials = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' };
      const ctx = { nodeName: 'worker-0', namespace: 'ns', podName: 'pod-0', configMaps, secrets: { 's3-credentials': credentials, 'heapdump-api-s3-credentials': credentials } };
      const seen: unknown[] = [];
      for (const [kind, name] of [['DaemonSet', 'dump-volume-manager'], ['DaemonSet', 'heap-dump-s3-uploader'], ['Deployment', 'memory-leak-app'], ['Deployment', 'heapdump-api'], ['Deployment', 'heapdump-analyzer']]) {
        if (kind === 'Deployment' && name === 'heapdump-api' && !objects.some((o) => o.kind === kind && o.metadata.name === name)) continue;
        const spec = podSpec(find(objects, kind, name));
        for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
          if (c.image !== IMAGE) continue;
          const raw = resolveEnv(c, ctx)[env];
          if (raw !== undefined) seen.push(s.kind.env!.parse(raw));
        }
      }
      const expected = s.kind.fromProp(sample);
      expect(seen.length).toBeGreaterThan(0);
      // The mount guard always logs at info (uploader.logLevel sets the uploader and the wait-ready containers).
      if (s === SETTINGS.logLevel) expect(seen).toContainEqual(expected);
      else expect(seen.every((v) => JSON.stringify(v) === JSON.stringify(expected))).toBe(true);
    });
  }
});

describe('pipeline.config.schema.json', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipeline.config.schema.json'), 'utf8'));
  const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);

  test('is a strict draft-07 schema that accepts the committed pipeline.config.json, $schema key included', () => {
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'pipeline.config.json'), 'utf8'));
    expect(config.$schema).toBe('./pipeline.config.schema.json');
    expect(validate(config)).toBe(true);
  });

  test('agrees with the constructs on every sample of every config-file prop', () => {
    const configFileProps = propSettings().filter(([, s]) => !GROUPS[propGroup(s)].codeOnly);
    for (const [, s] of configFileProps) {
      for (const v of s.kind.samples.valid) {
        const props = propsWith(s, v);
        expect({ prop: s.prop, v, schema: validate(props) ? 'valid' : validate.errors }).toEqual({ prop: s.prop, v, schema: 'valid' });
      }
      for (const v of s.kind.samples.invalid) {
        expect({ prop: s.prop, v, schema: validate(propsWith(s, v)) }).toEqual({ prop: s.prop, v, schema: false });
      }
    }
  });

  test('refuses unknown keys, a missing agentImage and code-only settings', () => {
    expect(validate({ agentImage: IMAGE, uploader: { bukcet: 'x' } })).toBe(false);
    expect(validate({ platform: 'openshift' })).toBe(false);
    expect(validate({ agentImage: IMAGE, uploader: { credentials: { secretValues: { accessKeyId: 'a', secretAccessKey: 'b' } } } })).toBe(false);
  });
});
