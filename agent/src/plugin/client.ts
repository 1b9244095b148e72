/**
 * Requests to the API server as the user: the kubeconfig's CA (or the system roots), its client certificate,
 * or a bearer token from the kubeconfig, its token file or its exec credential plugin (run once per invocation,
 * again after a 401 if its credential expired). Kubernetes `Status` answers become one-line errors with an exit
 * code (usage.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { KubeconfigError, type ResolvedContext } from './kubeconfig';

export class ApiError extends Error {
  public constructor(message: string, readonly status: number, readonly reason?: string) {
    super(message);
    this.name = 'ApiError';
  }
}

interface ExecCredential { token?: string; cert?: Buffer; key?: Buffer; expires?: number }

function runExec(ctx: ResolvedContext, interactive: boolean): ExecCredential {
  const e = ctx.exec!;
  const command = e.command.includes('/') ? path.resolve(e.dir, e.command) : e.command;
  const info = { apiVersion: e.apiVersion, kind: 'ExecCredential', spec: { interactive, ...(e.provideClusterInfo ? { cluster: { server: ctx.server, ...(ctx.ca !== undefined ? { 'certificate-authority-data': ctx.ca.toString('base64') } : {}) } } : {}) } };
  const env = { ...process.env, ...Object.fromEntries(e.env.map((x) => [x.name, x.value])), KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  const r = spawnSync(command, [...e.args], { env, encoding: 'utf8', stdio: ['inherit', 'pipe', 'inherit'], timeout: 120_000 });
  if (r.error !== undefined) throw new KubeconfigError(`exec credential plugin "${e.command}" could not run: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) throw new KubeconfigError(`exec credential plugin "${e.command}" exited with ${r.status ?? r.signal}`);
  let out: { status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string } };
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch {
    throw new KubeconfigError(`exec credential plugin "${e.command}" printed no ExecCredential JSON`);
  }
  const s = out.status ?? {};
  if (s.token === undefined && s.clientCertificateData === undefined) throw new KubeconfigError(`exec credential plugin "${e.command}" returned neither a token nor a client certificate`);
  return {
    ...(s.token !== undefined ? { token: s.token } : {}),
    ...(s.clientCertificateData !== undefined ? { cert: Buffer.from(s.clientCertificateData), key: Buffer.from(s.clientKeyData ?? '') } : {}),
    ...(s.expirationTimestamp !== undefined ? { expires: Date.parse(s.expirationTimestamp) } : {}),
  };
}

export class KubeClient {
  private exec: ExecCredential | undefined;

  public constructor(readonly ctx: ResolvedContext, private readonly interactive: boolean) {}

  private credential(): { token?: string; cert?: Buffer; key?: Buffer } {
    const c = this.ctx;
    if (c.token !== undefined) return { token: c.token, ...(c.cert !== undefined ? { cert: c.cert, key: c.key } : {}) };
    if (c.tokenFile !== undefined) {
      try {
        return { token: readFileSync(c.tokenFile, 'utf8').trim() };
      } catch (error) {
        throw new KubeconfigError(`tokenFile ${c.tokenFile} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    if (c.exec !== undefined) {
      if (this.exec === undefined || (this.exec.expires !== undefined && this.exec.expires < Date.now() + 10_000)) this.exec = runExec(c, this.interactive);
      return this.exec;
    }
    if (c.cert !== undefined) return { cert: c.cert, key: c.key };
    return {};
  }

  /** Sends a GET and hands over the answer (any status); retries once with a fresh exec credential after a 401. */
  public async open(apiPath: string, headers: Record<string, string> = {}, retried = false): Promise<http.IncomingMessage> {
    const cred = this.credential();
    const url = new URL(this.ctx.server + apiPath);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = https.request({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 443,
        path: url.pathname + url.search,
        method: 'GET',
        agent: false,
        rejectUnauthorized: !this.ctx.insecure,
        ...(this.ctx.ca !== undefined ? { ca: this.ctx.ca } : {}),
        ...(this.ctx.tlsServerName !== undefined ? { servername: this.ctx.tlsServerName } : {}),
        ...(cred.cert !== undefined ? { cert: cred.cert, key: cred.key } : {}),
        headers: { 'user-agent': 'kubectl-heapdump', ...(cred.token !== undefined ? { authorization: `Bearer ${cred.token}` } : {}), ...headers },
      }, resolve);
      req.on('error', (e) => reject(new ApiError(`cannot reach ${this.ctx.server}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, 0)));
      req.end();
    });
    if (res.statusCode === 401 && this.ctx.exec !== undefined && !retried) {
      res.resume();
      this.exec = undefined;
      return this.open(apiPath, headers, true);
    }
    return res;
  }

  /** The answer's body as text (small answers only). */
  public static async text(res: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  /** A 2xx answer's JSON, else an ApiError with the server's own message. */
  public async json<T>(apiPath: string, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.open(apiPath, { accept: 'application/json', ...headers });
    const text = await KubeClient.text(res);
    if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) return JSON.parse(text) as T;
    throw errorOf(res.statusCode ?? 0, text);
  }
}

/** A Kubernetes Status (or anything else) -> one line, as kubectl prints it. */
export function errorOf(status: number, body: string): ApiError {
  let message = '';
  let reason: string | undefined;
  try {
    const s = JSON.parse(body) as { message?: unknown; reason?: unknown };
    if (typeof s.message === 'string') message = s.message;
    if (typeof s.reason === 'string') reason = s.reason;
  } catch {
    // not a Status
  }
  if (message === '') message = status === 401 ? 'Unauthorized: log in again (oc login / your credential plugin)' : `HTTP ${status}`;
  return new ApiError(`Error from server (${reason ?? status}): ${message.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')}`, status, reason);
}
