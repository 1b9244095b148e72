/**
 * The `inject` command's variables (the admission webhook, lib/injector.ts sets them): part of THE
 * settings table (table.ts spreads them in), kept in their own file because they form one block that
 * only the webhook reads. Like every agent-only entry they have no prop: the constructs write them from
 * the props named in `setBy`, validated there with the same kinds.
 */
import { COMMANDS, INJECT_ANNOTATIONS, INJECT_HTTPS, PATHS } from '../contract';
import { LOG_LEVELS } from '../runtime/logger';
import { absolutePath, annotationKey, byteSize, dnsLabel, image, integer, oneOf, seconds } from './kinds';
import { setting } from './setting';

const INJECT = [COMMANDS.inject];

/** The `inject` webhook's policies: only annotated pods, or every pod unless annotated "false". */
export const INJECT_POLICIES = ['opt-in', 'opt-out'] as const;
/** Pull policies of a container (the agent image's, and the injected init container's). */
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

export const INJECT_SETTINGS = {
  injectPipelineNamespace: setting({
    env: 'INJECT_PIPELINE_NAMESPACE',
    kind: dnsLabel(),
    required: true,
    readBy: INJECT,
    doc: 'The webhook\'s own namespace: pods there are never mutated.',
    setBy: '`injector`, from the downward API `metadata.namespace`',
  }),
  injectHttpsPort: setting({
    env: 'INJECT_HTTPS_PORT',
    kind: integer({ min: 0, max: 65_535, zero: 'any free port' }),
    default: INJECT_HTTPS.defaultPort,
    readBy: INJECT,
    doc: 'HTTPS port of the webhook (`/mutate-pods`); must differ from AGENT_HTTP_PORT.',
    setBy: '`injector` (8443, port name `https`)',
  }),
  injectTlsCertFile: setting({
    env: 'INJECT_TLS_CERT_FILE',
    kind: absolutePath(),
    default: `${INJECT_HTTPS.tlsDir}/tls.crt`,
    readBy: INJECT,
    doc: 'PEM certificate (chain) the webhook serves; re-read every INJECT_CERT_RELOAD_INTERVAL.',
    setBy: '`injector`: the serving certificate Secret (service-ca or cert-manager) mounted at the default',
  }),
  injectTlsKeyFile: setting({
    env: 'INJECT_TLS_KEY_FILE',
    kind: absolutePath(),
    default: `${INJECT_HTTPS.tlsDir}/tls.key`,
    readBy: INJECT,
    doc: 'PEM private key of the served certificate.',
    setBy: '`injector`: the serving certificate Secret mounted at the default',
  }),
  injectCertReloadInterval: setting({
    env: 'INJECT_CERT_RELOAD_INTERVAL',
    kind: seconds({ min: 0.001 }),
    default: 30,
    readBy: INJECT,
    doc: 'How often the certificate files are re-read, so a rotated Secret is served without a restart.',
    setBy: 'not set',
  }),
  injectMaxBodyBytes: setting({
    env: 'INJECT_MAX_BODY_BYTES',
    kind: byteSize({ min: 1024, max: 64 * 2 ** 20 }),
    default: '2Mi',
    readBy: INJECT,
    doc: 'AdmissionReview requests larger than this are answered 413.',
    setBy: 'not set',
  }),
  injectPolicy: setting({
    env: 'INJECT_POLICY',
    kind: oneOf(INJECT_POLICIES),
    default: 'opt-in',
    readBy: INJECT,
    doc: '`opt-in`: only pods annotated INJECT_ANNOTATION "true" are collected; `opt-out`: every pod of a collected namespace '
      + 'unless annotated "false".',
    setBy: '`injector`, from `collect.policy`',
  }),
  injectAgentImage: setting({
    env: 'INJECT_AGENT_IMAGE',
    kind: image(),
    required: true,
    readBy: INJECT,
    doc: 'Image of the `heapdump-wait-ready` init container the webhook adds to collected pods.',
    setBy: '`injector`, from `agentImage`',
  }),
  injectImagePullPolicy: setting({
    env: 'INJECT_IMAGE_PULL_POLICY',
    kind: oneOf(IMAGE_PULL_POLICIES),
    default: 'IfNotPresent',
    readBy: INJECT,
    doc: 'Pull policy of the injected init container.',
    setBy: '`injector`, from `imagePullPolicy`',
  }),
  injectDumpPath: setting({
    env: 'INJECT_DUMP_PATH',
    kind: absolutePath(),
    default: PATHS.appDumpDir,
    readBy: INJECT,
    doc: 'Where an instrumented container sees its dump folder (`-XX:HeapDumpPath`): an absolute path other than / without '
      + 'spaces, colons or `..`.',
    setBy: '`injector`, from `collect.mountPath`',
  }),
  injectLogLevel: setting({
    env: 'INJECT_LOG_LEVEL',
    kind: oneOf(LOG_LEVELS),
    default: 'info',
    readBy: INJECT,
    doc: 'LOG_LEVEL of the injected init container.',
    setBy: '`injector`, from `uploader.logLevel`',
  }),
  injectWaitTimeout: setting({
    env: 'INJECT_WAIT_TIMEOUT',
    kind: integer({ min: 0, max: 86_400, unit: 'seconds', zero: 'wait forever' }),
    default: 600,
    readBy: INJECT,
    doc: 'WAIT_TIMEOUT of the injected init container.',
    setBy: '`injector`, from `waitTimeoutSeconds`',
  }),
  injectGzipLevel: setting({
    env: 'INJECT_GZIP_LEVEL',
    kind: integer({ min: 0, max: 9, zero: 'off; 1-9 need HotSpot 17+' }),
    default: 0,
    readBy: INJECT,
    doc: '`-XX:HeapDumpGzipLevel` added to collected JVMs.',
    setBy: '`injector`, from `collect.gzipLevel`',
  }),
  injectAnnotation: setting({
    env: 'INJECT_ANNOTATION',
    kind: annotationKey(),
    default: INJECT_ANNOTATIONS.inject,
    readBy: INJECT,
    doc: 'Pod annotation that opts a pod in ("true") or out ("false").',
    setBy: 'not set',
  }),
  injectContainersAnnotation: setting({
    env: 'INJECT_CONTAINERS_ANNOTATION',
    kind: annotationKey(),
    default: INJECT_ANNOTATIONS.containers,
    readBy: INJECT,
    doc: 'Pod annotation listing the containers to instrument (comma-separated; default every container); must differ from '
      + 'INJECT_ANNOTATION.',
    setBy: 'not set',
  }),
};
