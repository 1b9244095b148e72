/**
 * The kubelet's httpGet probes against one simulated container, with the manifest's timing: after
 * initialDelaySeconds, a GET every periodSeconds that fails when it takes longer than timeoutSeconds
 * or answers outside 200-399; failureThreshold failures in a row fail the probe. A failed liveness probe
 * calls `onLivenessFailed` (node-sim restarts the container, as the kubelet does); readiness is only
 * recorded. Agent containers share the host network here with an ephemeral port: the port is the one
 * the agent logs ("http server listening"). Every probe's outcome and duration is kept for the tests.
 */
import * as http from 'http';
import type { HttpProbe } from './kubelet-resources';

export interface ProbeResult {
  readonly kind: 'liveness' | 'readiness';
  readonly at: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ProberOptions {
  readonly liveness?: HttpProbe;
  readonly readiness?: HttpProbe;
  /** The container's port (from its log), or undefined while it has not said. */
  readonly port: () => number | undefined;
  readonly onLivenessFailed: (results: readonly ProbeResult[]) => void;
}

function get(port: number, path: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, detail: `HTTP ${code}` });
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (e) => resolve({ ok: false, detail: e.message }));
  });
}

export class Prober {
  readonly results: ProbeResult[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly o: ProberOptions) {
    if (o.liveness) this.schedule('liveness', o.liveness);
    if (o.readiness) this.schedule('readiness', o.readiness);
  }

  private schedule(kind: 'liveness' | 'readiness', p: HttpProbe): void {
    let failures = 0;
    const run = async () => {
      if (this.stopped) return;
      const port = this.o.port();
      const t0 = Date.now();
      // no port logged yet counts as a failed probe (nothing listens), as it would on a node
      const r = port === undefined ? { ok: false, detail: 'not listening yet' } : await get(port, p.path, p.timeoutSeconds * 1000);
      if (this.stopped) return;
      const result: ProbeResult = { kind, at: t0, ms: Date.now() - t0, ...r };
      this.results.push(result);
      failures = r.ok ? 0 : failures + 1;
      if (kind === 'liveness' && failures >= p.failureThreshold) {
        this.stop();
        this.o.onLivenessFailed(this.results.filter((x) => x.kind === 'liveness').slice(-p.failureThreshold));
        return;
      }
      this.timers.push(setTimeout(() => void run(), p.periodSeconds * 1000));
    };
    this.timers.push(setTimeout(() => void run(), p.initialDelaySeconds * 1000));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /** Failed probes of a kind so far. */
  failures(kind: 'liveness' | 'readiness'): ProbeResult[] {
    return this.results.filter((r) => r.kind === kind && !r.ok);
  }
}
