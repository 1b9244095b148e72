/**
 * The API server calls the heapdumps server makes with its own ServiceAccount: TokenReview and
 * SubjectAccessReview (granted by `system:auth-delegator`) and GET of the `extension-apiserver-authentication`
 * ConfigMap in kube-system (granted by the `extension-apiserver-authentication-reader` Role). Plain node:https
 * and JSON: three requests do not need a client library. The token is re-read for every request (the kubelet
 * rotates projected tokens); the CA is read once.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';

export interface KubeClientOptions {
  /** `https://host:port` of the API server. */
  readonly apiUrl: string;
  /** Directory holding `token` and `ca.crt` (the projected ServiceAccount volume). */
  readonly credentialsDir: string;
  readonly timeoutMs: number;
}

/** A failed call: the HTTP status when there was an answer, and one line saying what failed. */
export class KubeCallError extends Error {
  public constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'KubeCallError';
  }
}

export interface KubeClient {
  post<T>(apiPath: string, body: unknown, signal?: AbortSignal): Promise<T>;
  get<T>(apiPath: string, signal?: AbortSignal): Promise<T>;
  close(): void;
}

/** Largest answer read (a review or the ConfigMap is a few KiB). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export function createKubeClient(o: KubeClientOptions): KubeClient {
  const base = new URL(o.apiUrl);
  const agent = new https.Agent({ ca: readFileSync(path.join(o.credentialsDir, 'ca.crt')), keepAlive: true, maxSockets: 16 });
  const tokenFile = path.join(o.credentialsDir, 'token');

  async function call<T>(method: 'GET' | 'POST', apiPath: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const token = (await fsp.readFile(tokenFile, 'utf8')).trim();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const what = `${method} ${apiPath}`;
    return new Promise<T>((resolve, reject) => {
      const req = https.request({
        host: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port || 443,
        method,
        path: apiPath,
        agent,
        signal,
        timeout: o.timeoutMs,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new KubeCallError(`${what}: answer larger than ${MAX_ANSWER_BYTES} bytes`, res.statusCode));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            let message = '';
            try {
              message = String((JSON.parse(text) as { message?: unknown }).message ?? '');
            } catch {
              // not a Status document
            }
            reject(new KubeCallError(`${what}: HTTP ${status}${message ? `: ${message.slice(0, 300)}` : ''}`, status));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch {
            reject(new KubeCallError(`${what}: the answer is not JSON`, status));
          }
        });
        res.on('error', (e) => reject(new KubeCallError(`${what}: ${e.message}`)));
      });
      req.on('timeout', () => req.destroy(new KubeCallError(`${what}: no answer within ${o.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof KubeCallError ? e : new KubeCallError(`${what}: ${e.message}`)));
      req.end(payload);
    });
  }

  return {
    post: (p, body, signal) => call('POST', p, body, signal),
    get: (p, signal) => call('GET', p, undefined, signal),
    close: () => agent.destroy(),
  };
}
