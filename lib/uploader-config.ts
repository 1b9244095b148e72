/**
 * Uploader settings -> the ConfigMap data the agent reads. Every uploader prop that has an agent
 * variable in the settings table travels through the ConfigMap, validated and rendered by the table
 * (lib/props.ts), so a bad config fails synth with one message and the agent parses exactly what was
 * validated.
 */
import {
  type AgentLogLevel, type CaBundleSource, type S3CaBundleSettings, type S3EncryptionSettings, type S3ProxySettings, type StaticS3Credentials, type UploaderCredentials, type UploaderNotifications, type UploaderSettings,
} from './generated/settings';
import { groupMembers, type Setting, SETTINGS, TRUSTED_CA_BUNDLE_KEY } from '../agent/src/settings';
import { checkSettingKeys, envString, optionalProp, prop } from './props';
import { PipelinePropsError, withPropScope } from './validation';

export { CHECKSUM_MODES, S3_STORAGE_CLASSES } from '../agent/src/settings';
export type {
  AgentLogLevel, ChecksumMode, S3StorageClass, StaticS3Credentials, UploaderCredentials, UploaderSettings,
} from './generated/settings';

/** Credentials after defaults and validation. */
export type ResolvedCredentials =
  | { readonly source: 'secret'; readonly secretName: string; readonly secretValues?: StaticS3Credentials }
  | { readonly source: 'workload-identity'; readonly serviceAccountAnnotations: Record<string, string> };

/** Notifications after defaults and validation (their agent variables are in `configData`). */
export interface ResolvedNotifications {
  readonly kubernetesEvents: boolean;
  /** The Secret key holding the webhook URL, mounted as a file (NOTIFY_WEBHOOK_URL_FILE); absent: no webhook. */
  readonly webhook?: { readonly secretName: string; readonly secretKey: string };
}

/** `uploader.caBundle` after validation; the default ConfigMap name (prefixed) is the Uploader's. */
export interface ResolvedCaBundle {
  readonly source: CaBundleSource;
  /** @default the Uploader's: `heapdump-trusted-ca-bundle` with the name prefix (`openshift-trusted` only) */
  readonly configMapName?: string;
  readonly key: string;
}

/** Settings after defaults and validation. */
export interface ResolvedUploaderSettings {
  /** The ConfigMap data: every uploader setting that has an agent variable, as the agent parses it. */
  readonly configData: Readonly<Record<string, string>>;
  readonly logLevel: AgentLogLevel;
  /** `afterUpload` other than `keep`, or a retention limit: the uploader needs write access and DAC_OVERRIDE. */
  readonly removesLocalDumps: boolean;
  readonly credentials: ResolvedCredentials;
  readonly notifications: ResolvedNotifications;
  /**
   * Extra CAs for the S3 endpoint.
   * @default none: Node's built-in roots only
   */
  readonly caBundle?: ResolvedCaBundle;
}

function resolveCredentials(c: UploaderCredentials | undefined): ResolvedCredentials {
  const source = prop(SETTINGS.credentialsSource, c?.source);
  if (source === 'secret') {
    if (c?.roleArn !== undefined || c?.serviceAccountAnnotations !== undefined) {
      throw new PipelinePropsError('source', source, '"workload-identity" when roleArn or serviceAccountAnnotations is set');
    }
    const secretName = prop(SETTINGS.credentialsSecretName, c?.secretName);
    const v = c?.secretValues;
    if (v === undefined) return { source, secretName };
    // Values here are secrets: errors name the key but never echo the value (the table marks them secret).
    const secretValues = withPropScope('secretValues', () => {
      const region = optionalProp(SETTINGS.secretRegion, v.region);
      const endpointUrl = optionalProp(SETTINGS.secretEndpointUrl, v.endpointUrl);
      return {
        accessKeyId: prop(SETTINGS.secretAccessKeyId, v.accessKeyId),
        secretAccessKey: prop(SETTINGS.secretSecretAccessKey, v.secretAccessKey),
        ...(region !== undefined ? { region } : {}),
        ...(endpointUrl !== undefined ? { endpointUrl } : {}),
      };
    });
    return { source, secretName, secretValues };
  }
  if (c?.secretName !== undefined || c?.secretValues !== undefined) {
    throw new PipelinePropsError('source', source, '"secret" when secretName or secretValues is set');
  }
  const annotations: Record<string, string> = { ...(optionalProp(SETTINGS.credentialsServiceAccountAnnotations, c?.serviceAccountAnnotations) ?? {}) };
  const roleArn = optionalProp(SETTINGS.credentialsRoleArn, c?.roleArn);
  if (roleArn !== undefined) annotations['eks.amazonaws.com/role-arn'] = roleArn;
  if (Object.keys(annotations).length === 0) {
    throw new PipelinePropsError('roleArn', c?.roleArn, 'a role ARN or serviceAccountAnnotations when source is "workload-identity"');
  }
  return { source, serviceAccountAnnotations: annotations };
}

/** Whether these settings move or remove local dumps (archive or delete after upload, or a retention limit): the uploader then writes in the dump tree. Validates those three. */
export function uploaderRemovesLocalDumps(s: UploaderSettings = {}): boolean {
  return prop(SETTINGS.afterUpload, s.afterUpload) !== 'keep'
    || prop(SETTINGS.retentionMaxAge, s.retentionMaxAgeSeconds) > 0
    || prop(SETTINGS.retentionMaxBytes, s.retentionMaxBytes) > 0;
}

/** Applies the defaults (the prototype's where it was right) and validates every value. */
export function resolveUploaderSettings(s: UploaderSettings = {}): ResolvedUploaderSettings {
  checkSettingKeys('uploader', s, '');
  const values = s as Record<string, unknown>;
  const configData: Record<string, string> = {};
  const endpoint = optionalProp(SETTINGS.s3EndpointUrl, s.endpoint);
  for (const m of groupMembers('uploader')) {
    if (m.type !== 'setting' || m.setting.env === undefined) continue;
    let value: unknown = optionalProp(m.setting, values[m.key]);
    // The one computed default: S3-compatible servers on a custom endpoint rarely have virtual-host DNS.
    if (m.setting === SETTINGS.s3ForcePathStyle && value === undefined) value = endpoint !== undefined;
    // Unset without a default (the endpoint): no key at all, an empty value would mean something else.
    if (value !== undefined) configData[m.setting.env] = envString(m.setting, value);
  }
  const notifications = withPropScope('notifications', () => resolveNotifications(s.notifications, configData));
  withPropScope('proxy', () => resolveProxy(s.proxy, configData));
  withPropScope('encryption', () => resolveEncryption(s.encryption, configData));
  const caBundle = s.caBundle === undefined ? undefined : withPropScope('caBundle', () => resolveCaBundle(s.caBundle!));
  return {
    configData,
    notifications,
    ...(caBundle !== undefined ? { caBundle } : {}),
    logLevel: prop(SETTINGS.logLevel, s.logLevel),
    removesLocalDumps: uploaderRemovesLocalDumps(s),
    credentials: withPropScope('credentials', () => resolveCredentials(s.credentials)),
  };
}

/** Validates `uploader.notifications` and adds its agent variables to `configData` (the webhook's only with a webhook). */
function resolveNotifications(n: UploaderNotifications | undefined, configData: Record<string, string>): ResolvedNotifications {
  const set = <T>(st: Setting<T, unknown>, value: T | undefined) => {
    if (value !== undefined) configData[st.env!] = envString(st, value);
  };
  const kubernetesEvents = prop(SETTINGS.notifyKubeEvents, n?.kubernetesEvents);
  set(SETTINGS.notifyKubeEvents, kubernetesEvents);
  set(SETTINGS.notifyClusterName, optionalProp(SETTINGS.notifyClusterName, n?.clusterName));
  set(SETTINGS.notifyTimeout, prop(SETTINGS.notifyTimeout, n?.timeoutSeconds));
  set(SETTINGS.notifyMaxAttempts, prop(SETTINGS.notifyMaxAttempts, n?.maxAttempts));
  if (n?.webhook === undefined) return { kubernetesEvents };
  const w = n.webhook;
  return withPropScope('webhook', () => {
    set(SETTINGS.notifyWebhookFormat, prop(SETTINGS.notifyWebhookFormat, w.format));
    set(SETTINGS.notifyWebhookEvents, prop(SETTINGS.notifyWebhookEvents, w.events));
    return {
      kubernetesEvents,
      webhook: { secretName: prop(SETTINGS.notifyWebhookSecretName, w.secretName), secretKey: prop(SETTINGS.notifyWebhookSecretKey, w.secretKey) },
    };
  });
}

/**
 * Adds the proxy variables to `configData` (HTTPS_PROXY, HTTP_PROXY, and NO_PROXY with them): in the ConfigMap, so
 * a changed proxy rolls the uploader pods. `noProxy` without a proxy would do nothing: refused.
 */
function resolveProxy(p: S3ProxySettings | undefined, configData: Record<string, string>): void {
  const httpsProxy = optionalProp(SETTINGS.httpsProxy, p?.httpsProxy);
  const httpProxy = optionalProp(SETTINGS.httpProxy, p?.httpProxy);
  if (httpsProxy === undefined && httpProxy === undefined) {
    if (p?.noProxy !== undefined) throw new PipelinePropsError('noProxy', p.noProxy, 'unset without httpsProxy or httpProxy (it would change nothing)');
    return;
  }
  if (httpsProxy !== undefined) configData[SETTINGS.httpsProxy.env!] = envString(SETTINGS.httpsProxy, httpsProxy);
  if (httpProxy !== undefined) configData[SETTINGS.httpProxy.env!] = envString(SETTINGS.httpProxy, httpProxy);
  const noProxy = prop(SETTINGS.noProxy, p?.noProxy);
  if (noProxy.length > 0) configData[SETTINGS.noProxy.env!] = envString(SETTINGS.noProxy, noProxy);
}

/** Adds S3_SERVER_SIDE_ENCRYPTION (and the KMS key, which only SSE-KMS takes) to `configData`. */
function resolveEncryption(e: S3EncryptionSettings | undefined, configData: Record<string, string>): void {
  const mode = prop(SETTINGS.s3Encryption, e?.mode);
  const kmsKeyId = optionalProp(SETTINGS.s3KmsKeyId, e?.kmsKeyId);
  if (kmsKeyId !== undefined && mode !== 'SSE-KMS') {
    throw new PipelinePropsError('kmsKeyId', kmsKeyId, `unset unless mode is "SSE-KMS" (it is "${mode}")`);
  }
  configData[SETTINGS.s3Encryption.env!] = envString(SETTINGS.s3Encryption, mode);
  if (kmsKeyId !== undefined) configData[SETTINGS.s3KmsKeyId.env!] = envString(SETTINGS.s3KmsKeyId, kmsKeyId);
}

/** `uploader.caBundle`: its source, the ConfigMap (required for `configmap`) and the key (OpenShift's for `openshift-trusted`). */
function resolveCaBundle(c: S3CaBundleSettings): ResolvedCaBundle {
  const source = prop(SETTINGS.caBundleSource, c.source);
  const configMapName = optionalProp(SETTINGS.caBundleConfigMapName, c.configMapName);
  const key = prop(SETTINGS.caBundleKey, c.key);
  if (source === 'configmap' && configMapName === undefined) {
    throw new PipelinePropsError('configMapName', undefined, 'the ConfigMap (in the pipeline namespace) that holds the PEM bundle; it is required with source "configmap"');
  }
  if (source === 'openshift-trusted' && key !== TRUSTED_CA_BUNDLE_KEY) {
    throw new PipelinePropsError('key', key, `"${TRUSTED_CA_BUNDLE_KEY}" with source "openshift-trusted" (the key the Cluster Network Operator writes)`);
  }
  return { source, key, ...(configMapName !== undefined ? { configMapName } : {}) };
}
