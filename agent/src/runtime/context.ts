/** What main.ts hands to every sub-command: everything a loop touches, injected. */
import type { Registry } from 'prom-client';
import type { Clock } from './clock';
import type { StuckReads } from '../fs/stuck-io';
import type { Logger } from './logger';

export interface CommandContext {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Prometheus registry served on /metrics. */
  readonly registry: Registry;
  /** Aborted when shutdown begins: loops finish their current step and return. */
  readonly signal: AbortSignal;
  /** Readiness reported on /readyz (false until the command says otherwise). */
  setReady(ready: boolean, reason?: string): void;
  /**
   * Register a shutdown step. After `signal` aborts and the command's promise settles,
   * steps run one at a time in registration order, under the shutdown deadline.
   */
  onShutdown(name: string, step: () => Promise<void> | void): void;
  /**
   * Optional liveness: a loop calls this after every iteration. Once a loop has reported,
   * /healthz fails (503) when it stays silent longer than `maxSilenceMs` (e.g. stuck in a hung
   * NFS call), so the kubelet restarts the container. Loops that never call it do not affect /healthz.
   */
  heartbeat?(loop: string, maxSilenceMs: number): void;
  /**
   * Reads of hung storage that timed out and never returned: a command records them here, and main.ts
   * ends the process with a signal instead of an exit that would wait for them forever.
   */
  readonly stuckReads: StuckReads;
  /** How to start this agent again (Node binary, script): the uploader's analysis process runs it. */
  readonly agentCommand?: readonly string[];
  /**
   * Optional: answer `method path` on the agent's HTTP port besides the probes and metrics (the
   * analyzer's POST /wake). The handler must be cheap: it runs on the thread that answers the probes.
   */
  httpRoute?(method: 'POST', path: string, handler: HttpRouteHandler): void;
}

/** An extra HTTP route's answer. */
export type HttpRouteHandler = () => { readonly status: number; readonly body: string };
