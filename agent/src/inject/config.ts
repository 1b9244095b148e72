/**
 * Environment -> the `inject` command's settings. The variables are entries of the settings table
 * (agent/src/settings/inject-table.ts); this adds the checks between them.
 */
import type { CommonConfig } from '../config';
import { ConfigError, type Env, reportConfigError, required } from '../config-read';
import { ENV } from '../contract';
import { INJECT_POLICIES, SETTINGS } from '../settings';
import type { CollectOptions } from './collect-pod';

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

/** `-XX:HeapDumpPath` must be a plain absolute folder: the JVM option and the volume mount take it verbatim. */
function checkDumpPath(p: string | undefined): void {
  if (p === undefined) return;
  if (p === '/' || /[\s:]/.test(p) || p.split('/').includes('..')) {
    reportConfigError(new ConfigError(ENV.injectDumpPath, `${ENV.injectDumpPath}="${p}" is invalid: expected an absolute path other than / without spaces, colons or ..`));
  }
}

/** The `inject` settings; `common` are the settings every command has (resolved by agent/src/config.ts). */
export function resolveInjectConfig(env: Env, common: CommonConfig): InjectConfig {
  const injectAnnotation = required(env, SETTINGS.injectAnnotation);
  const containersAnnotation = required(env, SETTINGS.injectContainersAnnotation);
  if (injectAnnotation !== undefined && injectAnnotation === containersAnnotation) {
    reportConfigError(new ConfigError(ENV.injectContainersAnnotation, `${ENV.injectContainersAnnotation}="${containersAnnotation}" is invalid: expected a key other than ${ENV.injectAnnotation}`));
  }
  const mountPath = required(env, SETTINGS.injectDumpPath);
  checkDumpPath(mountPath);
  const config: InjectConfig = {
    ...common,
    pipelineNamespace: required(env, SETTINGS.injectPipelineNamespace),
    httpsPort: required(env, SETTINGS.injectHttpsPort),
    tlsCertFile: required(env, SETTINGS.injectTlsCertFile),
    tlsKeyFile: required(env, SETTINGS.injectTlsKeyFile),
    certReloadIntervalMs: required(env, SETTINGS.injectCertReloadInterval),
    maxBodyBytes: required(env, SETTINGS.injectMaxBodyBytes),
    policy: required(env, SETTINGS.injectPolicy),
    collect: {
      agentImage: required(env, SETTINGS.injectAgentImage),
      imagePullPolicy: required(env, SETTINGS.injectImagePullPolicy),
      mountPath,
      logLevel: required(env, SETTINGS.injectLogLevel),
      waitTimeoutSeconds: required(env, SETTINGS.injectWaitTimeout),
      gzipLevel: required(env, SETTINGS.injectGzipLevel),
      strictness: 'warn',
      annotations: { inject: injectAnnotation, containers: containersAnnotation },
    },
  };
  if (config.httpsPort !== 0 && config.httpsPort === common.httpPort) {
    reportConfigError(new ConfigError(ENV.injectHttpsPort, `${ENV.injectHttpsPort}="${config.httpsPort}" is invalid: expected a port other than the health/metrics port`));
  }
  return config;
}
