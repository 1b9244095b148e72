/**
 * `api`: the heapdumps API server. Wires the S3 reader and the bucket index, the Kubernetes API client
 * (TokenReview, SubjectAccessReview, the requestheader ConfigMap), the API listener (HTTPS, for the aggregation
 * layer and bearer tokens) and the web page's listener; two loops keep the index and the TLS material fresh.
 * Health, readiness and metrics stay on the agent's HTTP port.
 */
import { createS3Client } from '../net/s3-client';
import { tuneV8ForFlatMemory } from '../uploader/file-source';
import type { CommandContext } from '../runtime/context';
import { runLoop } from '../runtime/loop';
import { handleApi } from './api-handler';
import { Authenticator, TokenReviewer } from './authn';
import { Authorizer } from './authz';
import type { ApiConfig } from './config';
import { DumpIndex } from './dump-index';
import { DumpStore } from './dump-store';
import { AUTH_CONFIGMAP, parseRequestHeaderConfig, type RequestHeaderConfig } from './front-proxy';
import { createKubeClient, type KubeClient } from './kube-client';
import { instrument } from './instrument';
import { apiMetrics } from './metrics';
import { type Listener, startLoopbackListener, startTlsListener } from './tls-server';
import { startWeb } from './web/web-command';

/** How often the certificate files and the requestheader ConfigMap are read again. */
export const TLS_RELOAD_MS = 30_000;

async function readRequestHeader(kube: KubeClient, ctx: CommandContext): Promise<RequestHeaderConfig | undefined> {
  try {
    const cm = await kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${AUTH_CONFIGMAP.namespace}/configmaps/${AUTH_CONFIGMAP.name}`, ctx.signal);
    const config = parseRequestHeaderConfig(cm.data);
    if (config === undefined) ctx.logger.warn('no requestheader client CA in the ConfigMap: only bearer tokens are accepted', { configMap: `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name}` });
    return config;
  } catch (error) {
    ctx.logger.warn('requestheader ConfigMap not readable: only bearer tokens are accepted until it is', { error: error as Error });
    return undefined;
  }
}

export async function runApi(config: ApiConfig, ctx: CommandContext): Promise<void> {
  // Grow the heap less eagerly (as the uploader does): downloads stream, nothing here needs a large heap.
  tuneV8ForFlatMemory();
  const logger = ctx.logger;
  const metrics = apiMetrics(ctx.registry);
  const kube = createKubeClient({ apiUrl: config.kubeUrl, credentialsDir: config.kubeCredentialsDir, timeoutMs: 10_000 });
  ctx.onShutdown('kubernetes client', () => kube.close());
  const client = createS3Client(config.s3, 64, logger.child('aws-sdk'));
  ctx.onShutdown('s3 client', () => client.destroy());
  const bodies = createS3Client(config.s3, 64, logger.child('aws-sdk'), { directGets: true });
  ctx.onShutdown('s3 client for downloads', () => bodies.destroy());
  const store = new DumpStore(client, config.s3.bucket, config.s3.prefix, bodies);
  const index = new DumpIndex(store, logger.child('index'));
  let requestHeader = await readRequestHeader(kube, ctx);
  const tokens = new TokenReviewer(kube, config.decisionCacheMs);
  const authz = new Authorizer(kube, config.decisionCacheMs);
  const deps = {
    authn: new Authenticator(() => requestHeader, tokens),
    authz, index, store, metrics,
    logger: logger.child('api'),
    objects: { bucket: config.s3.bucket, ...(config.webUrl !== undefined ? { webUrl: config.webUrl } : {}) },
    now: () => ctx.clock.now(),
  };
  const files = { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile };
  const listeners: Listener[] = [];
  ctx.onShutdown('close listeners', async () => void (await Promise.all(listeners.map((l) => l.close()))));
  const api = await startTlsListener({
    host: config.httpHost, port: config.httpsPort, files, requestClientCert: true, logger,
    ...(requestHeader !== undefined ? { clientCa: requestHeader.clientCa } : {}),
    handler: instrument(metrics, logger, (req, res) => handleApi(req, res, deps)),
  });
  listeners.push(api);
  logger.info('api listening', { host: config.httpHost, port: api.port, frontProxy: requestHeader !== undefined });
  if (config.webMode !== 'off') {
    const web = await startWeb(config, { ...deps, tokens, logger: logger.child('web') }, {
      tls: (handler) => startTlsListener({ host: config.httpHost, port: config.webPort, files, requestClientCert: false, logger, handler }),
      loopback: (handler) => startLoopbackListener({ host: '127.0.0.1', port: config.webPort, handler }),
    });
    listeners.push(web);
    logger.info('web page listening', { mode: config.webMode, port: web.port });
  }
  ctx.setReady(true);

  const indexLoop = runLoop({ intervalMs: config.indexIntervalMs, signal: ctx.signal, clock: ctx.clock, logger }, async () => {
    const end = metrics.indexRefreshSeconds.startTimer();
    try {
      await index.refresh(ctx.signal);
    } catch (error) {
      metrics.indexErrors.inc();
      logger.warn('bucket listing failed: lists are answered from the last one', { error: error as Error, dumps: index.size });
    } finally {
      end();
      metrics.indexDumps.set(index.size);
      ctx.heartbeat?.('index', 3 * config.indexIntervalMs + 120_000);
    }
  });
  const tlsLoop = (async () => {
    for (;;) {
      await ctx.clock.sleep(TLS_RELOAD_MS, ctx.signal);
      if (ctx.signal.aborted) return;
      const next = await readRequestHeader(kube, ctx);
      if (next !== undefined) requestHeader = next;
      for (const l of listeners) await l.reload(l === api ? requestHeader?.clientCa : undefined);
    }
  })();
  await Promise.all([indexLoop, tlsLoop]);
}
