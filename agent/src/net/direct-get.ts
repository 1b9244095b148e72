/**
 * The AWS SDK request handler of the S3 client that streams dumps to the heapdumps API's clients.
 *
 * The SDK still does everything but the bytes: endpoint, credentials, SigV4 signature, retries, error parsing.
 * A GET is sent on a connection of our own (the same agents, so the CA bundle and the proxy apply as for any S3
 * call) whose answer is read by DirectResponse; a 200/206 with a Content-Length is handed to the SDK with that
 * DirectResponse as its body, which the download sends to its client without node:http's per-chunk streams
 * (direct-response.ts says why). Any other answer (an S3 error, a chunked body) closes that connection and the same
 * signed request goes to the SDK's own handler, whose answer the SDK reads as it always does: a GET may be sent
 * twice, and S3 errors are parsed by the code that parses them everywhere else.
 */
import type * as http from 'node:http';
import type * as https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DirectResponse } from './direct-response';

/** The parts of the SDK's HttpRequest this handler reads. */
export interface SdkRequest {
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number;
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string | string[] | null>;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
  readonly username?: string;
  readonly password?: string;
  readonly fragment?: string;
}

/** The SDK's AbortSignal type also allows its own older kind (onabort only); ours are node:'s. */
interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener?(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

interface SdkHandlerOptions {
  readonly abortSignal?: AbortSignalLike;
  readonly requestTimeout?: number;
}

/** The SDK's own handler (NodeHttpHandler), to which everything else goes. */
export interface SdkHandler {
  handle(request: never, options?: SdkHandlerOptions): Promise<{ response: unknown }>;
  destroy?(): void;
  updateHttpClientConfig?(key: never, value: never): void;
  httpHandlerConfigs?(): unknown;
}

export interface DirectGetOptions {
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  readonly connectionTimeoutMs: number;
  /** S3 silent this long while we wait for it: an error. */
  readonly requestTimeoutMs: number;
}

/** RFC 3986 unreserved characters stay, everything else is %XX: the SDK's escapeUri, as the request was signed. */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function queryString(query: SdkRequest['query']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === null) parts.push(escapeUri(k));
    else for (const one of Array.isArray(v) ? v : [v]) parts.push(`${escapeUri(k)}=${escapeUri(one)}`);
  }
  return parts.join('&');
}

/** The request head as the SDK signed it; a CR or LF in a header would be a second request: refused. */
export function requestHead(request: SdkRequest): string {
  const query = queryString(request.query);
  const port = request.port === undefined ? '' : `:${request.port}`;
  let head = `GET ${request.path}${query === '' ? '' : `?${query}`} HTTP/1.1\r\n`;
  let host = false;
  for (const [name, value] of Object.entries(request.headers)) {
    if (/[\r\n]/.test(name + value)) throw new Error(`header ${JSON.stringify(name)} holds a line break`);
    if (name.toLowerCase() === 'connection') continue;
    if (name.toLowerCase() === 'host') host = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `host: ${request.hostname}${port}\r\n`;
  return `${head}connection: close\r\n\r\n`;
}

function abortError(signal: AbortSignalLike): Error {
  const reason: unknown = signal.reason;
  return Object.assign(new Error(reason instanceof Error ? reason.message : 'Request aborted'), { name: 'AbortError' });
}

export class DirectGetHandler {
  public readonly metadata = { handlerProtocol: 'http/1.1' };

  public constructor(
    private readonly fallback: SdkHandler,
    private readonly o: DirectGetOptions,
  ) {}

  public async handle(request: SdkRequest, options: SdkHandlerOptions = {}): Promise<{ response: unknown }> {
    if (request.method !== 'GET' || (request.body !== undefined && request.body !== null) || request.username || request.password || request.fragment) {
      return this.fallback.handle(request as never, options);
    }
    const signal = options.abortSignal;
    if (signal?.aborted) throw abortError(signal);
    const response = new DirectResponse();
    const onAbort = () => response.destroy(abortError(signal!));
    signal?.addEventListener?.('abort', onAbort, { once: true });
    response.once('close', () => signal?.removeEventListener?.('abort', onAbort));
    let head;
    try {
      const socket = await this.connect(request, response);
      socket.write(requestHead(request), 'latin1');
      head = await response.head;
    } catch (error) {
      response.destroy();
      if (signal?.aborted) throw abortError(signal);
      // as the SDK's handler reports them: a reset or timeout may be retried
      throw Object.assign(error as Error, ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes((error as { code?: string }).code ?? '') ? { name: 'TimeoutError' } : {});
    }
    if ((head.statusCode !== 200 && head.statusCode !== 206) || head.contentLength === undefined) {
      response.destroy();
      return this.fallback.handle(request as never, options);
    }
    return { response: { statusCode: head.statusCode, reason: head.reason, headers: head.headers, body: response } };
  }

  /** A socket to the endpoint from the S3 client's own agents (CA bundle, proxy tunnel), read by `response`. */
  private connect(request: SdkRequest, response: DirectResponse): Promise<Socket> {
    const secure = request.protocol === 'https:';
    const agent = secure ? this.o.httpsAgent : this.o.httpAgent;
    const host = request.hostname.startsWith('[') ? request.hostname.slice(1, -1) : request.hostname;
    const port = request.port ?? (secure ? 443 : 80);
    const options = {
      ...(agent as { options?: object }).options,
      host, port,
      ...(secure && isIP(host) === 0 ? { servername: host } : {}),
      onread: response.onread,
    };
    return new Promise<Socket>((resolve, reject) => {
      let settled = false;
      const done = (error: Error | null, duplex?: Duplex) => {
        if (settled) return;
        settled = true;
        if (error !== null || duplex === undefined) return reject(error ?? new Error(`no connection to ${host}:${port}`));
        const socket = duplex as Socket;
        response.attach(socket, this.o.requestTimeoutMs);
        if (socket.connecting || secure) {
          const timer = setTimeout(() => response.destroy(Object.assign(new Error(`no connection to ${host}:${port} within ${this.o.connectionTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.o.connectionTimeoutMs);
          socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(timer));
          response.once('close', () => clearTimeout(timer));
        }
        resolve(socket);
      };
      // node:net's createConnection calls its callback as a 'connect' listener, without arguments: the returned
      // socket counts; a proxy tunnel returns nothing and calls back with (error, socket) once the tunnel is up.
      const socket = agent.createConnection(options as http.ClientRequestArgs, (error, s) => {
        if (error || s) done(error ?? null, s);
      });
      if (socket) done(null, socket);
    });
  }

  public destroy(): void {
    this.fallback.destroy?.();
  }

  public updateHttpClientConfig(key: never, value: never): void {
    this.fallback.updateHttpClientConfig?.(key, value);
  }

  public httpHandlerConfigs(): unknown {
    return this.fallback.httpHandlerConfigs?.() ?? {};
  }
}
