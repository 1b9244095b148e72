/**
 * One HTTP(S) POST over node:http / node:https, for the webhook notifications.
 *
 * Why not Node's `fetch`: it is undici, whose HTTP parser is WebAssembly, and the uploader runs with
 * NODE_OPTIONS=--jitless (agent/src/contract.ts), which removes WebAssembly: every fetch failed with
 * "WebAssembly is not defined" on the image's Node 24. node:http's parser is native. The connections use the
 * agent's own agents (agent/src/net/proxy.ts): the extra CAs of S3_CA_BUNDLE_FILE on top of Node's roots, and
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY as the S3 client reads them (a webhook such as Slack is outside the
 * cluster, where a cluster-wide proxy is the way out).
 *
 * The shape is the subset of fetch the webhook channel uses (status, a header, the body as text), so the
 * channel does not care which one it is given. Redirects are never followed (node:http does not).
 */
import * as http from 'http';
import * as https from 'https';
import { createAgents, type ProxyConfig } from './proxy';

export interface PostInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal: AbortSignal;
}

export interface PostResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type Post = (url: string, init: PostInit) => Promise<PostResponse>;

/** A failed request: `code` is the system error (ECONNREFUSED, ...) or AbortError, as fetch's `cause.code`. */
export class PostError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'PostError';
  }
}

/** At most this much of an answer is kept (the channel reads its first 200 characters, to log why). */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface PostTransportOptions {
  /** Extra trusted CAs (PEM), on top of Node's built-in roots. */
  readonly caPem?: string;
  readonly proxy?: ProxyConfig;
}

/** A POST function with its own agents (no keep-alive: a notification is one request, rarely). */
export function createPost(opts: PostTransportOptions = {}): Post {
  const agents = createAgents({ keepAlive: false, maxSockets: 4, ...(opts.caPem !== undefined ? { caPem: opts.caPem } : {}), ...(opts.proxy ? { proxy: opts.proxy } : {}) });
  return (url, init) => post(new URL(url), init, agents);
}

function post(url: URL, init: PostInit, agents: { httpAgent: http.Agent; httpsAgent: https.Agent }): Promise<PostResponse> {
  const secure = url.protocol === 'https:';
  const body = Buffer.from(init.body, 'utf8');
  return new Promise((resolve, reject) => {
    if (init.signal.aborted) {
      reject(new PostError('the request was aborted', 'AbortError'));
      return;
    }
    // The agent makes the connection (direct, or a CONNECT tunnel: proxy.ts), with the extra CAs.
    const req = (secure ? https : http).request(url, {
      method: init.method,
      headers: { ...init.headers, 'content-length': String(body.length) },
      agent: secure ? agents.httpsAgent : agents.httpAgent,
    });
    let settled = false;
    const fail = (error: Error & { code?: unknown }) => {
      if (settled) return;
      settled = true;
      init.signal.removeEventListener('abort', onAbort);
      reject(error instanceof PostError ? error : new PostError(error.message, typeof error.code === 'string' ? error.code : error.name));
    };
    const onAbort = () => {
      req.destroy();
      fail(new PostError('the request was aborted', 'AbortError'));
    };
    init.signal.addEventListener('abort', onAbort, { once: true });
    req.once('error', fail);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        if (kept < MAX_ANSWER_BYTES) chunks.push(c.subarray(0, MAX_ANSWER_BYTES - kept));
        kept += c.length;
      });
      res.once('error', fail);
      res.once('end', () => {
        if (settled) return;
        settled = true;
        init.signal.removeEventListener('abort', onAbort);
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: { get: (name) => header(res, name) },
          text: async () => text,
        });
      });
    });
    req.end(body);
  });
}

function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name.toLowerCase()];
  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
}
