/** Environment -> the `api` command's settings (every variable is an entry of the settings table). */
import type { CommonConfig, Env, S3Config } from '../config';
import { ConfigError, optional, required, resolveS3Config } from '../config';
import { ENV } from '../contract';
import { SETTINGS } from '../settings';
import type { WEB_MODES } from '../settings/table';
import { loadSessionKey, SessionKeyError } from './web/session';

export type WebMode = (typeof WEB_MODES)[number];

export interface ApiConfig extends CommonConfig {
  readonly s3: S3Config;
  readonly httpsPort: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly decisionCacheMs: number;
  readonly indexIntervalMs: number;
  readonly webMode: WebMode;
  readonly webPort: number;
  readonly webUrl?: string;
  /** The token login's signing key: the mounted Secret's (shared by the replicas), else random for this process. */
  readonly sessionKey: { readonly key: Buffer; readonly shared: boolean };
  readonly sessionTtlMs: number;
  readonly kubeUrl: string;
  readonly kubeCredentialsDir: string;
}

/** The API server URL: API_KUBE_URL, else the service variables the kubelet sets in every pod. */
function kubeUrl(env: Env): string {
  const explicit = optional(env, SETTINGS.apiKubeUrl);
  if (explicit !== undefined) return explicit;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (host === undefined || host === '') {
    throw new ConfigError(ENV.apiKubeUrl, `${ENV.apiKubeUrl} is missing: expected it, or KUBERNETES_SERVICE_HOST (set by the kubelet in a pod)`);
  }
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function sessionKey(file: string | undefined): ApiConfig['sessionKey'] {
  try {
    return loadSessionKey(file);
  } catch (error) {
    if (!(error instanceof SessionKeyError)) throw error;
    throw new ConfigError(ENV.apiSessionKeyFile, `${ENV.apiSessionKeyFile}="${file}" ${error.message}`);
  }
}

export function resolveApiConfig(env: Env, common: CommonConfig): ApiConfig {
  const webUrl = optional(env, SETTINGS.apiWebUrl);
  const sessionKeyFile = optional(env, SETTINGS.apiSessionKeyFile);
  const config: ApiConfig = {
    ...common,
    s3: resolveS3Config(env),
    httpsPort: required(env, SETTINGS.apiHttpsPort),
    tlsCertFile: required(env, SETTINGS.apiTlsCertFile),
    tlsKeyFile: required(env, SETTINGS.apiTlsKeyFile),
    decisionCacheMs: required(env, SETTINGS.apiDecisionCache),
    indexIntervalMs: required(env, SETTINGS.apiIndexInterval),
    webMode: required(env, SETTINGS.apiWebMode),
    webPort: required(env, SETTINGS.apiWebPort),
    ...(webUrl !== undefined ? { webUrl } : {}),
    sessionKey: sessionKey(sessionKeyFile),
    sessionTtlMs: required(env, SETTINGS.apiSessionTtl),
    kubeUrl: kubeUrl(env),
    kubeCredentialsDir: required(env, SETTINGS.apiKubeCredentialsDir),
  };
  const ports: Array<[string, number]> = [[ENV.apiHttpsPort, config.httpsPort], ...(config.webMode !== 'off' ? [[ENV.apiWebPort, config.webPort] as [string, number]] : [])];
  for (const [name, port] of ports) {
    if (port !== 0 && port === common.httpPort) throw new ConfigError(name, `${name}="${port}" is invalid: expected a port other than the health/metrics port`);
  }
  if (config.webMode !== 'off' && config.webPort !== 0 && config.webPort === config.httpsPort) {
    throw new ConfigError(ENV.apiWebPort, `${ENV.apiWebPort}="${config.webPort}" is invalid: expected a port other than ${ENV.apiHttpsPort}`);
  }
  return config;
}
