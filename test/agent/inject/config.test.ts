/** The inject command's settings: defaults, one-line errors, and the path through the agent's resolver. */
import { ConfigErrors, resolveConfig } from '../../../agent/src/config';
import { INJECT_ENV } from '../../../agent/src/contract';

const BASE = { NODE_NAME: 'worker-0', [INJECT_ENV.pipelineNamespace]: 'heapdump-system', [INJECT_ENV.agentImage]: 'registry.example.com/heapdump-agent:0.2.0' };

test('defaults', () => {
  const r = resolveConfig('inject', BASE);
  expect(r.command).toBe('inject');
  expect(r.config).toMatchObject({
    httpPort: 9090, httpsPort: 8443, pipelineNamespace: 'heapdump-system',
    tlsCertFile: '/etc/heapdump-inject/tls/tls.crt', tlsKeyFile: '/etc/heapdump-inject/tls/tls.key',
    certReloadIntervalMs: 30_000, maxBodyBytes: 2 * 2 ** 20, policy: 'opt-in',
    collect: {
      agentImage: 'registry.example.com/heapdump-agent:0.2.0', imagePullPolicy: 'IfNotPresent', mountPath: '/dumps', logLevel: 'info',
      waitTimeoutSeconds: 600, gzipLevel: 0, strictness: 'warn',
      annotations: { inject: 'heapdump-pipeline.io/inject', containers: 'heapdump-pipeline.io/containers' },
    },
  });
});

test('every value is parsed; empty means default', () => {
  const r = resolveConfig('inject', {
    ...BASE, [INJECT_ENV.httpsPort]: '9443', [INJECT_ENV.certReloadInterval]: '0.5', [INJECT_ENV.maxBodyBytes]: '512Ki',
    [INJECT_ENV.policy]: 'opt-out', [INJECT_ENV.dumpPath]: '/var/dumps/', [INJECT_ENV.logLevel]: 'debug', [INJECT_ENV.waitTimeout]: '0',
    [INJECT_ENV.gzipLevel]: '1', [INJECT_ENV.injectAnnotation]: 'example.com/dumps', [INJECT_ENV.containersAnnotation]: 'example.com/dump-containers',
    [INJECT_ENV.imagePullPolicy]: '',
  });
  expect(r.config).toMatchObject({
    httpsPort: 9443, certReloadIntervalMs: 500, maxBodyBytes: 512 * 1024, policy: 'opt-out',
    collect: { mountPath: '/var/dumps', logLevel: 'debug', waitTimeoutSeconds: 0, gzipLevel: 1, imagePullPolicy: 'IfNotPresent', annotations: { inject: 'example.com/dumps', containers: 'example.com/dump-containers' } },
  });
});

test.each([
  [{ [INJECT_ENV.agentImage]: undefined }, 'INJECT_AGENT_IMAGE is missing: expected a container image reference such as registry.example.com/team/heapdump-agent:0.1.0 (lowercase repository, optional :tag and @sha256: digest)'],
  [{ [INJECT_ENV.pipelineNamespace]: 'Heapdump_System' }, 'INJECT_PIPELINE_NAMESPACE="Heapdump_System" is invalid: expected a Kubernetes name (RFC 1123 label): at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit'],
  [{ [INJECT_ENV.policy]: 'always' }, 'INJECT_POLICY="always" is invalid: expected one of opt-in, opt-out'],
  [{ [INJECT_ENV.dumpPath]: '/' }, 'INJECT_DUMP_PATH="/" is invalid: expected an absolute path other than / without spaces, colons or ..'],
  [{ [INJECT_ENV.gzipLevel]: '10' }, 'INJECT_GZIP_LEVEL="10" is invalid: expected a whole number between 0 and 9 (0 = off; 1-9 need HotSpot 17+)'],
  [{ [INJECT_ENV.maxBodyBytes]: '1Gi' }, 'INJECT_MAX_BODY_BYTES="1Gi" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix between 1Ki and 64Mi'],
  [{ [INJECT_ENV.injectAnnotation]: 'not a key' }, 'INJECT_ANNOTATION="not a key" is invalid: expected a qualified annotation key such as example.com/inject (optional DNS-subdomain prefix, a name of at most 63 characters)'],
  [{ [INJECT_ENV.containersAnnotation]: 'heapdump-pipeline.io/inject' }, 'INJECT_CONTAINERS_ANNOTATION="heapdump-pipeline.io/inject" is invalid: expected a key other than INJECT_ANNOTATION'],
  [{ [INJECT_ENV.httpsPort]: '9090' }, 'INJECT_HTTPS_PORT="9090" is invalid: expected a port other than the health/metrics port'],
  [{ [INJECT_ENV.maxBodyBytes]: '512' }, 'INJECT_MAX_BODY_BYTES="512" is invalid: expected a byte count with optional Ki/Mi/Gi/Ti suffix between 1Ki and 64Mi'],
  [{ [INJECT_ENV.waitTimeout]: '86401' }, 'INJECT_WAIT_TIMEOUT="86401" is invalid: expected a whole number of seconds between 0 and 86400 (0 = wait forever)'],
])('%p: one line naming the variable', (override, message) => {
  expect(() => resolveConfig('inject', { ...BASE, ...override })).toThrow(message);
});

test('every bad inject variable is reported in one run, not only the first', () => {
  const bad = { [INJECT_ENV.policy]: 'always', [INJECT_ENV.gzipLevel]: '10', [INJECT_ENV.httpsPort]: 'https', [INJECT_ENV.agentImage]: undefined };
  let caught: unknown;
  try {
    resolveConfig('inject', { ...BASE, ...bad });
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ConfigErrors);
  expect((caught as ConfigErrors).errors.map((e) => e.variable).sort()).toEqual(['INJECT_AGENT_IMAGE', 'INJECT_GZIP_LEVEL', 'INJECT_HTTPS_PORT', 'INJECT_POLICY']);
});
