/**
 * Environment -> the notifier's config (Kubernetes Events and the optional webhook).
 *
 * Kept apart from ../config.ts so the notifier can be reviewed on its own; every variable is in
 * NOTIFY_VARIABLES (name, default, what is expected) and a bad value is a ConfigError whose message
 * is one line. The webhook URL is a secret: errors name the variable, never its value.
 */
import { ConfigError, type Env } from '../config';
import { NOTIFICATION_EVENTS, type NotificationEvent } from './report';

export const NOTIFY_ENV = {
  kubeEvents: 'NOTIFY_KUBE_EVENTS',
  kubeApiUrl: 'NOTIFY_KUBE_API_URL',
  kubeCredentialsDir: 'NOTIFY_KUBE_CREDENTIALS_DIR',
  webhookUrl: 'NOTIFY_WEBHOOK_URL',
  webhookUrlFile: 'NOTIFY_WEBHOOK_URL_FILE',
  webhookFormat: 'NOTIFY_WEBHOOK_FORMAT',
  webhookEvents: 'NOTIFY_WEBHOOK_EVENTS',
  clusterName: 'NOTIFY_CLUSTER_NAME',
  timeout: 'NOTIFY_TIMEOUT',
  maxAttempts: 'NOTIFY_MAX_ATTEMPTS',
  queueSize: 'NOTIFY_QUEUE_SIZE',
  shutdownGrace: 'NOTIFY_SHUTDOWN_GRACE',
  /** Set by the kubelet in every pod (the `kubernetes` Service), also with enableServiceLinks false. */
  kubernetesServiceHost: 'KUBERNETES_SERVICE_HOST',
  kubernetesServicePort: 'KUBERNETES_SERVICE_PORT',
} as const;

/** Where the kubelet mounts a ServiceAccount token, its CA bundle and the namespace. */
export const DEFAULT_KUBE_CREDENTIALS_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Each variable once: default (raw, parsed like a user value), what is expected, whether secret. */
export const NOTIFY_VARIABLES: Readonly<Record<string, { readonly default?: string; readonly expected: string; readonly doc: string; readonly secret?: boolean }>> = {
  [NOTIFY_ENV.kubeEvents]: { default: 'false', expected: 'true or false', doc: 'Create a Kubernetes Event (reason HeapDumpUploaded, type Warning) on the pod that wrote each uploaded dump. Needs a ServiceAccount token in the pod and RBAC to create events.k8s.io events and get pods in the collected namespaces.' },
  [NOTIFY_ENV.kubeApiUrl]: { expected: 'an https:// URL', doc: 'API server URL. Default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (set by the kubelet in every pod).' },
  [NOTIFY_ENV.kubeCredentialsDir]: { default: DEFAULT_KUBE_CREDENTIALS_DIR, expected: 'an absolute path', doc: 'Directory with the ServiceAccount `token` (re-read for every request: projected tokens rotate) and `ca.crt`.' },
  [NOTIFY_ENV.webhookUrl]: { expected: 'an https:// or http:// URL', secret: true, doc: 'Webhook URL (from a Secret via secretKeyRef). Never logged: logs show scheme://host only. Mutually exclusive with NOTIFY_WEBHOOK_URL_FILE.' },
  [NOTIFY_ENV.webhookUrlFile]: { expected: 'an absolute path', doc: 'File holding the webhook URL (a mounted Secret key); re-read for every delivery, so a rotated Secret applies without a restart.' },
  [NOTIFY_ENV.webhookFormat]: { default: 'json', expected: `one of ${WEBHOOK_FORMATS.join(', ')}`, doc: '`json`: the generic JSON document (schema heapdump-pipeline.io/notification/v1); `slack`: a Slack incoming-webhook message (text + blocks).' },
  [NOTIFY_ENV.webhookEvents]: { default: NOTIFICATION_EVENTS.join(','), expected: `a comma-separated subset of ${NOTIFICATION_EVENTS.join(', ')}`, doc: 'Which uploads are posted to the webhook: complete dumps, truncated ones, or both.' },
  [NOTIFY_ENV.clusterName]: { expected: 'a short cluster name without control characters (at most 63 characters)', doc: 'Optional cluster name shown in webhook messages (several clusters may post to one channel).' },
  [NOTIFY_ENV.timeout]: { default: '10', expected: 'a number of seconds > 0', doc: 'Timeout of one delivery attempt: the webhook POST, or for an Event the pod GET and the Event POST together.' },
  [NOTIFY_ENV.maxAttempts]: { default: '5', expected: 'an integer 1..20', doc: 'Attempts per notification and channel (backoff 1 s doubling to 60 s, full jitter) before it counts as failed. 4xx answers other than 408/429 are not retried.' },
  [NOTIFY_ENV.queueSize]: { default: '100', expected: 'an integer 1..10000', doc: 'Pending notifications per channel; when full the oldest is dropped and counted.' },
  [NOTIFY_ENV.shutdownGrace]: { default: '5', expected: 'a number of seconds >= 0', doc: 'At shutdown, pending notifications get this long to go out; then they are dropped with a log line.' },
};

export interface KubeEventsConfig {
  /** API server base URL, no trailing slash. */
  readonly apiUrl: string;
  /** Directory holding `token` and `ca.crt`. */
  readonly credentialsDir: string;
}

export type WebhookUrlSource =
  | { readonly kind: 'env'; readonly url: string }
  | { readonly kind: 'file'; readonly path: string };

export interface WebhookConfig {
  readonly url: WebhookUrlSource;
  readonly format: WebhookFormat;
  readonly events: readonly NotificationEvent[];
}

export interface NotifyConfig {
  /** Absent: no Kubernetes Events. */
  readonly kubeEvents?: KubeEventsConfig;
  /** Absent: no webhook. */
  readonly webhook?: WebhookConfig;
  readonly clusterName?: string;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly queueSize: number;
  readonly shutdownGraceMs: number;
}

class Invalid extends Error {}

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

function read<T>(env: Env, name: string, parse: (s: string) => T): T | undefined {
  const spec = NOTIFY_VARIABLES[name];
  const value = raw(env, name) ?? spec.default;
  if (value === undefined) return undefined;
  try {
    return parse(value);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const shown = spec.secret ? '' : `="${value}"`;
    throw new ConfigError(name, `${name}${shown} is invalid: expected ${spec.expected}`);
  }
}

function must<T>(env: Env, name: string, parse: (s: string) => T): T {
  const v = read(env, name, parse);
  if (v === undefined) throw new ConfigError(name, `${name} is missing: expected ${NOTIFY_VARIABLES[name].expected}`);
  return v;
}

const bool = (s: string): boolean => {
  const v = s.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new Invalid();
};

const seconds = (positive: boolean) => (s: string): number => {
  if (!/^\d+(\.\d+)?$/.test(s)) throw new Invalid();
  const ms = Math.round(Number(s) * 1000);
  if (positive && ms <= 0) throw new Invalid();
  return ms;
};

const integer = (min: number, max: number) => (s: string): number => {
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new Invalid();
  return Number(s);
};

const absolutePath = (s: string): string => {
  if (!s.startsWith('/') || s.includes('\0')) throw new Invalid();
  return s.length > 1 ? s.replace(/\/+$/, '') : s;
};

const url = (protocols: readonly string[]) => (s: string): string => {
  let u: URL;
  try {
    u = new URL(s.trim());
  } catch {
    throw new Invalid();
  }
  if (!protocols.includes(u.protocol) || u.hostname === '') throw new Invalid();
  return s.trim();
};

function events(s: string): NotificationEvent[] {
  const list = s.split(',').map((p) => p.trim());
  if (list.some((e) => !(NOTIFICATION_EVENTS as readonly string[]).includes(e))) throw new Invalid();
  return [...new Set(list)] as NotificationEvent[];
}

function clusterName(s: string): string {
  if (s.length > 63 || /[\u0000-\u001f\u007f]/.test(s)) throw new Invalid();
  return s;
}

/** Parses a webhook URL (from the env or the file) the same way; throws Invalid-free errors for callers. */
export function parseWebhookUrl(s: string): URL | undefined {
  try {
    return new URL(url(['https:', 'http:'])(s));
  } catch {
    return undefined;
  }
}

function kubeApiUrl(env: Env): string {
  const explicit = read(env, NOTIFY_ENV.kubeApiUrl, url(['https:']));
  if (explicit !== undefined) return explicit.replace(/\/+$/, '');
  const host = raw(env, NOTIFY_ENV.kubernetesServiceHost);
  const port = raw(env, NOTIFY_ENV.kubernetesServicePort) ?? '443';
  if (host === undefined) {
    throw new ConfigError(NOTIFY_ENV.kubeApiUrl, `${NOTIFY_ENV.kubeApiUrl} is missing: expected it to be set because ${NOTIFY_ENV.kubeEvents} is true and ${NOTIFY_ENV.kubernetesServiceHost} is not set (not running in a pod?)`);
  }
  // IPv6 service addresses need brackets in a URL.
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function resolveNotifyConfig(env: Env): NotifyConfig {
  const kubeEvents = must(env, NOTIFY_ENV.kubeEvents, bool)
    ? { apiUrl: kubeApiUrl(env), credentialsDir: must(env, NOTIFY_ENV.kubeCredentialsDir, absolutePath) }
    : undefined;

  const inline = read(env, NOTIFY_ENV.webhookUrl, url(['https:', 'http:']));
  const file = read(env, NOTIFY_ENV.webhookUrlFile, absolutePath);
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(NOTIFY_ENV.webhookUrl, `${NOTIFY_ENV.webhookUrl} is invalid: expected it unset because ${NOTIFY_ENV.webhookUrlFile} is set (set one of the two)`);
  }
  const source: WebhookUrlSource | undefined =
    inline !== undefined ? { kind: 'env', url: inline } : file !== undefined ? { kind: 'file', path: file } : undefined;
  const webhook = source
    ? { url: source, format: must(env, NOTIFY_ENV.webhookFormat, (s) => {
      if (!(WEBHOOK_FORMATS as readonly string[]).includes(s)) throw new Invalid();
      return s as WebhookFormat;
    }), events: must(env, NOTIFY_ENV.webhookEvents, events) }
    : undefined;
  const cluster = read(env, NOTIFY_ENV.clusterName, clusterName);

  return {
    ...(kubeEvents ? { kubeEvents } : {}),
    ...(webhook ? { webhook } : {}),
    ...(cluster !== undefined ? { clusterName: cluster } : {}),
    timeoutMs: must(env, NOTIFY_ENV.timeout, seconds(true)),
    maxAttempts: must(env, NOTIFY_ENV.maxAttempts, integer(1, 20)),
    queueSize: must(env, NOTIFY_ENV.queueSize, integer(1, 10_000)),
    shutdownGraceMs: must(env, NOTIFY_ENV.shutdownGrace, seconds(false)),
  };
}
