/**
 * Environment -> the notifier's config (Kubernetes Events and the optional webhook).
 *
 * Every NOTIFY_* variable is an entry of the settings table (agent/src/settings/table.ts: kind, default,
 * documentation, and for most of them the construct prop under `uploader.notifications`); this file only
 * combines them. A bad value is a ConfigError whose message is one line. The webhook URL is a secret:
 * errors name the variable, never its value.
 */
import { ConfigError, type Env, optional, required } from '../config';
import { ENV } from '../contract';
import { DEFAULT_KUBE_CREDENTIALS_DIR, SETTINGS, WEBHOOK_FORMATS } from '../settings';
import type { NotificationEvent } from './report';
import type { RetrievalHintOptions } from './retrieval-hint';

export { DEFAULT_KUBE_CREDENTIALS_DIR, WEBHOOK_FORMATS };

/** The variables' names (from the settings table), plus the two the kubelet sets in every pod. */
export const NOTIFY_ENV = {
  kubeEvents: ENV.notifyKubeEvents,
  kubeApiUrl: ENV.notifyKubeApiUrl,
  kubeCredentialsDir: ENV.notifyKubeCredentialsDir,
  webhookUrl: ENV.notifyWebhookUrl,
  webhookUrlFile: ENV.notifyWebhookUrlFile,
  webhookFormat: ENV.notifyWebhookFormat,
  webhookEvents: ENV.notifyWebhookEvents,
  clusterName: ENV.notifyClusterName,
  timeout: ENV.notifyTimeout,
  maxAttempts: ENV.notifyMaxAttempts,
  queueSize: ENV.notifyQueueSize,
  shutdownGrace: ENV.notifyShutdownGrace,
  /** Set by the kubelet in every pod (the `kubernetes` Service), also with enableServiceLinks false. */
  kubernetesServiceHost: 'KUBERNETES_SERVICE_HOST',
  kubernetesServicePort: 'KUBERNETES_SERVICE_PORT',
} as const;

export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

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
  /** The command (and web page) the Event and the notifications give for getting a dump; absent: the S3 URI only. */
  readonly retrieval?: RetrievalHintOptions;
}

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Parses a webhook URL (from the env or the file) the same way; undefined when it is not one. */
export function parseWebhookUrl(s: string): URL | undefined {
  const kind = SETTINGS.notifyWebhookUrl.kind.env!;
  try {
    return new URL(kind.parse(s));
  } catch {
    return undefined;
  }
}

function kubeApiUrl(env: Env, explicit: string | undefined): string {
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
  // Every variable that is set is validated, also when the channel that reads it is off: a typo in a value
  // fails at start rather than when the channel is turned on.
  const explicitApiUrl = optional(env, SETTINGS.notifyKubeApiUrl);
  const credentialsDir = required(env, SETTINGS.notifyKubeCredentialsDir);
  const kubeEvents = required(env, SETTINGS.notifyKubeEvents)
    ? { apiUrl: kubeApiUrl(env, explicitApiUrl), credentialsDir }
    : undefined;

  const inline = optional(env, SETTINGS.notifyWebhookUrl);
  const file = optional(env, SETTINGS.notifyWebhookUrlFile);
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(NOTIFY_ENV.webhookUrl, `${NOTIFY_ENV.webhookUrl} is invalid: expected it unset because ${NOTIFY_ENV.webhookUrlFile} is set (set one of the two)`);
  }
  const format = required(env, SETTINGS.notifyWebhookFormat);
  const events = [...required(env, SETTINGS.notifyWebhookEvents)] as NotificationEvent[];
  const source: WebhookUrlSource | undefined =
    inline !== undefined ? { kind: 'env', url: inline } : file !== undefined ? { kind: 'file', path: file } : undefined;
  const cluster = optional(env, SETTINGS.notifyClusterName);
  const cli = required(env, SETTINGS.notifyRetrievalCli);
  const webUrl = optional(env, SETTINGS.apiWebUrl);

  return {
    ...(kubeEvents ? { kubeEvents } : {}),
    ...(source ? { webhook: { url: source, format, events } } : {}),
    ...(cluster !== undefined ? { clusterName: cluster } : {}),
    timeoutMs: required(env, SETTINGS.notifyTimeout),
    maxAttempts: required(env, SETTINGS.notifyMaxAttempts),
    queueSize: required(env, SETTINGS.notifyQueueSize),
    shutdownGraceMs: required(env, SETTINGS.notifyShutdownGrace),
    ...(cli !== 'off' ? { retrieval: { cli, ...(webUrl !== undefined ? { webUrl } : {}) } } : {}),
  };
}
