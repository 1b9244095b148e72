/**
 * `inject`: the mutating admission webhook. Serves HTTPS on INJECT_HTTPS_PORT (health, readiness and
 * metrics stay on the agent's HTTP port), re-reads the certificate files every
 * INJECT_CERT_RELOAD_INTERVAL, and stops accepting on shutdown after answering what is in flight.
 */
import type { CommandContext } from '../runtime/context';
import { runLoop } from '../runtime/loop';
import type { InjectConfig } from './config';
import { injectMetrics, startWebhookServer } from './server';

export async function runInject(config: InjectConfig, ctx: CommandContext): Promise<void> {
  const server = await startWebhookServer({
    host: config.httpHost,
    port: config.httpsPort,
    tlsCertFile: config.tlsCertFile,
    tlsKeyFile: config.tlsKeyFile,
    maxBodyBytes: config.maxBodyBytes,
    settings: { pipelineNamespace: config.pipelineNamespace, policy: config.policy, collect: config.collect },
    logger: ctx.logger,
    metrics: injectMetrics(ctx.registry),
  });
  ctx.onShutdown('close webhook server', () => server.close());
  ctx.setReady(true);
  const maxSilenceMs = 3 * config.certReloadIntervalMs + 30_000;
  await runLoop({ intervalMs: config.certReloadIntervalMs, signal: ctx.signal, clock: ctx.clock, logger: ctx.logger }, async () => {
    await server.reloadCertificate();
    ctx.heartbeat?.('certificate-reload', maxSilenceMs);
  });
}
