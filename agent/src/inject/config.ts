/**
 * Environment -> the `inject` command's settings. A small resolver of its own (same rules as
 * agent/src/config.ts: empty = unset, one-line ConfigError naming variable, value and what was expected)
 * so that its rows can move into the shared settings table unchanged.
 */
import type { CommonConfig, Env } from '../config';
import { ConfigError } from '../config';
import { INJECT_ANNOTATIONS, INJECT_ENV, INJECT_HTTPS, PATHS } from '../contract';
import { LOG_LEVELS, type LogLevel } from '../runtime/logger';
import { INJECT_POLICIES } from '../settings/table';
import type { CollectOptions, ImagePullPolicy } from './collect-pod';
import { IMAGE_PULL_POLICIES } from './collect-pod';

// The choices are the settings table's (`collect.policy`), where the constructs read them too.
export { INJECT_POLICIES };
export type InjectPolicy = (typeof INJECT_POLICIES)[number];

export interface InjectConfig extends CommonConfig {
  /** Pods of this namespace are never mutated (the pipeline's own). */
  readonly pipelineNamespace: string;
  readonly httpsPort: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** How often the certificate files are re-read (a rotated Secret is served without a restart). */
  readonly certReloadIntervalMs: number;
  /** AdmissionReview bodies above this are answered 413. */
  readonly maxBodyBytes: number;
  readonly policy: InjectPolicy;
  /** What collected pods get (the collectPod options). */
  readonly collect: CollectOptions & { readonly annotations: { readonly inject: string; readonly containers: string } };
}

class Invalid extends Error {}

interface Row<T> {
  readonly name: string;
  readonly default?: string;
  readonly expected: string;
  readonly parse: (raw: string) => T;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A qualified annotation key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
const ANNOTATION_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const SIZE_UNITS: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20 };

function integer(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new Invalid();
    const n = Number(raw);
    if (n < min || n > max) throw new Invalid();
    return n;
  };
}

function seconds(raw: string): number {
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new Invalid();
  const ms = Math.round(Number(raw) * 1000);
  if (ms <= 0) throw new Invalid();
  return ms;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Invalid();
    return raw as T;
  };
}

function absolutePath(raw: string): string {
  if (!raw.startsWith('/') || raw.includes('\0')) throw new Invalid();
  return raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
}

function dumpPath(raw: string): string {
  const p = absolutePath(raw);
  if (p === '/' || /[\s:]/.test(p) || p.split('/').includes('..')) throw new Invalid();
  return p;
}

function byteSize(raw: string): number {
  const m = /^(\d+)(Ki|Mi)?$/.exec(raw);
  if (!m) throw new Invalid();
  const n = Number(m[1]) * SIZE_UNITS[m[2] ?? ''];
  if (n < 1024 || n > 64 * 2 ** 20) throw new Invalid();
  return n;
}

function namespace(raw: string): string {
  if (!DNS1123_LABEL.test(raw)) throw new Invalid();
  return raw;
}

function image(raw: string): string {
  if (/\s/.test(raw)) throw new Invalid();
  return raw;
}

function annotationKey(raw: string): string {
  if (raw.length > 317 || !ANNOTATION_KEY.test(raw)) throw new Invalid();
  return raw;
}

export const INJECT_VARIABLES = {
  pipelineNamespace: { name: INJECT_ENV.pipelineNamespace, expected: 'the webhook\'s own namespace (downward API metadata.namespace), a DNS-1123 label', parse: namespace },
  httpsPort: { name: INJECT_ENV.httpsPort, default: String(INJECT_HTTPS.defaultPort), expected: 'a TCP port 0..65535 (0 = any free port)', parse: integer(0, 65535) },
  tlsCertFile: { name: INJECT_ENV.tlsCertFile, default: `${INJECT_HTTPS.tlsDir}/tls.crt`, expected: 'an absolute path of a PEM certificate (chain)', parse: absolutePath },
  tlsKeyFile: { name: INJECT_ENV.tlsKeyFile, default: `${INJECT_HTTPS.tlsDir}/tls.key`, expected: 'an absolute path of a PEM private key', parse: absolutePath },
  certReloadInterval: { name: INJECT_ENV.certReloadInterval, default: '30', expected: 'a number of seconds > 0', parse: seconds },
  maxBodyBytes: { name: INJECT_ENV.maxBodyBytes, default: '2Mi', expected: 'a byte count 1Ki..64Mi with optional Ki/Mi suffix', parse: byteSize },
  policy: { name: INJECT_ENV.policy, default: 'opt-in', expected: `one of ${INJECT_POLICIES.join(', ')}`, parse: oneOf(INJECT_POLICIES) },
  agentImage: { name: INJECT_ENV.agentImage, expected: 'the agent image reference for the injected init container', parse: image },
  imagePullPolicy: { name: INJECT_ENV.imagePullPolicy, default: 'IfNotPresent', expected: `one of ${IMAGE_PULL_POLICIES.join(', ')}`, parse: oneOf<ImagePullPolicy>(IMAGE_PULL_POLICIES) },
  dumpPath: { name: INJECT_ENV.dumpPath, default: PATHS.appDumpDir, expected: 'an absolute path other than / without spaces, colons or ..', parse: dumpPath },
  logLevel: { name: INJECT_ENV.logLevel, default: 'info', expected: `one of ${LOG_LEVELS.join(', ')}`, parse: oneOf<LogLevel>(LOG_LEVELS) },
  waitTimeout: { name: INJECT_ENV.waitTimeout, default: '600', expected: 'an integer number of seconds 0..86400 (0 = wait forever)', parse: integer(0, 86_400) },
  gzipLevel: { name: INJECT_ENV.gzipLevel, default: '0', expected: 'an integer 0..9 (0 = off; 1-9 need HotSpot 17+)', parse: integer(0, 9) },
  injectAnnotation: { name: INJECT_ENV.injectAnnotation, default: INJECT_ANNOTATIONS.inject, expected: 'a qualified annotation key (e.g. example.com/inject)', parse: annotationKey },
  containersAnnotation: { name: INJECT_ENV.containersAnnotation, default: INJECT_ANNOTATIONS.containers, expected: 'a qualified annotation key (e.g. example.com/containers)', parse: annotationKey },
} satisfies Record<string, Row<unknown>>;

function read<T>(env: Env, row: Row<T>): T {
  const given = env[row.name];
  const raw = given === undefined || given === '' ? row.default : given;
  if (raw === undefined) throw new ConfigError(row.name, `${row.name} is missing: expected ${row.expected}`);
  try {
    return row.parse(raw);
  } catch (e) {
    if (e instanceof Invalid) throw new ConfigError(row.name, `${row.name}="${raw}" is invalid: expected ${row.expected}`);
    throw e;
  }
}

/** The `inject` settings; `common` are the settings every command has (resolved by agent/src/config.ts). */
export function resolveInjectConfig(env: Env, common: CommonConfig): InjectConfig {
  const v = INJECT_VARIABLES;
  const injectAnnotation = read(env, v.injectAnnotation);
  const containersAnnotation = read(env, v.containersAnnotation);
  if (injectAnnotation === containersAnnotation) {
    throw new ConfigError(v.containersAnnotation.name, `${v.containersAnnotation.name}="${containersAnnotation}" is invalid: expected a key other than ${v.injectAnnotation.name}`);
  }
  const cert = read(env, v.tlsCertFile);
  const key = read(env, v.tlsKeyFile);
  const config: InjectConfig = {
    ...common,
    pipelineNamespace: read(env, v.pipelineNamespace),
    httpsPort: read(env, v.httpsPort),
    tlsCertFile: cert,
    tlsKeyFile: key,
    certReloadIntervalMs: read(env, v.certReloadInterval),
    maxBodyBytes: read(env, v.maxBodyBytes),
    policy: read(env, v.policy),
    collect: {
      agentImage: read(env, v.agentImage),
      imagePullPolicy: read(env, v.imagePullPolicy),
      mountPath: read(env, v.dumpPath),
      logLevel: read(env, v.logLevel),
      waitTimeoutSeconds: read(env, v.waitTimeout),
      gzipLevel: read(env, v.gzipLevel),
      strictness: 'warn',
      annotations: { inject: injectAnnotation, containers: containersAnnotation },
    },
  };
  if (config.httpsPort !== 0 && config.httpsPort === common.httpPort) {
    throw new ConfigError(v.httpsPort.name, `${v.httpsPort.name}="${config.httpsPort}" is invalid: expected a port other than the health/metrics port`);
  }
  return config;
}
