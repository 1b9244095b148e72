/**
 * The S3 client's connections: extra trusted CAs, and an HTTP proxy honoured the way Go (and so OpenShift's
 * cluster-wide proxy) reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
 *
 * Node's http/https agents ignore the proxy variables, and so does the AWS SDK for JavaScript v3 (it has no
 * AWS_CA_BUNDLE either: neither name appears in @aws-sdk or @smithy). The SDK's NodeHttpHandler takes agents,
 * so these agents do it: for a host that does not bypass the proxy, `createConnection` opens a CONNECT tunnel
 * through the proxy (node:http's own CONNECT client) and runs TLS to the S3 endpoint inside it, so the
 * endpoint's certificate is verified exactly as without a proxy. Sockets stay pooled and kept alive per
 * endpoint as usual. Plain-http endpoints are tunnelled too (HTTP_PROXY), so every request keeps its normal form.
 *
 * No new dependency: ~150 lines instead of a proxy-agent package in the bundle.
 */
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import type { Duplex } from 'stream';
import * as tls from 'tls';

export interface ProxyConfig {
  /** For https:// endpoints; `http://[user:password@]host:port`. */
  readonly httpsProxy?: string;
  /** For http:// endpoints. */
  readonly httpProxy?: string;
  /** NO_PROXY entries (validated by the settings table's noProxyList kind). */
  readonly noProxy: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// NO_PROXY, as golang.org/x/net/http/httpproxy reads it

/** IPv6 hosts come bracketed in URLs and Host headers. */
function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

type Entry =
  | { readonly kind: 'all' }
  | { readonly kind: 'cidr'; readonly list: net.BlockList }
  | { readonly kind: 'ip'; readonly ip: string; readonly port?: number }
  | { readonly kind: 'domain'; readonly name: string; readonly subdomainsOnly: boolean; readonly port?: number };

function parseEntry(raw: string): Entry {
  const e = raw.trim().toLowerCase();
  if (e === '*') return { kind: 'all' };
  const slash = e.indexOf('/');
  if (slash >= 0) {
    const addr = bare(e.slice(0, slash));
    const list = new net.BlockList();
    list.addSubnet(addr, Number(e.slice(slash + 1)), net.isIPv6(addr) ? 'ipv6' : 'ipv4');
    return { kind: 'cidr', list };
  }
  // host, host:port, [v6]:port, or a bare IPv6 address (two or more colons)
  let host = e;
  let port: number | undefined;
  const m = /^\[(.*)\]:(\d+)$/.exec(e) ?? (e.split(':').length === 2 ? /^(.*):(\d+)$/.exec(e) : null);
  if (m) {
    host = m[1];
    port = Number(m[2]);
  }
  host = bare(host);
  if (net.isIP(host) !== 0) return { kind: 'ip', ip: host, ...(port !== undefined ? { port } : {}) };
  const subdomainsOnly = host.startsWith('.') || host.startsWith('*.');
  const name = host.replace(/^\*?\./, '');
  return { kind: 'domain', name, subdomainsOnly, ...(port !== undefined ? { port } : {}) };
}

/** Decides, per host and port, whether a connection goes direct. */
export class NoProxy {
  private readonly entries: readonly Entry[];

  public constructor(list: readonly string[]) {
    this.entries = list.filter((e) => e.trim() !== '').map(parseEntry);
  }

  /** True: connect directly. Loopback hosts always do (as in Go: a proxy cannot reach this pod's loopback). */
  public bypasses(hostRaw: string, port: number): boolean {
    const host = bare(hostRaw.toLowerCase()).replace(/\.$/, '');
    const family = net.isIP(host);
    if (host === 'localhost' || (family === 4 && host.startsWith('127.')) || (family === 6 && host === '::1')) return true;
    return this.entries.some((e) => {
      switch (e.kind) {
        case 'all':
          return true;
        case 'cidr':
          return family !== 0 && e.list.check(host, family === 6 ? 'ipv6' : 'ipv4');
        case 'ip':
          return family !== 0 && host === e.ip && (e.port === undefined || e.port === port);
        case 'domain':
          if (e.port !== undefined && e.port !== port) return false;
          return host.endsWith(`.${e.name}`) || (!e.subdomainsOnly && host === e.name);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// CONNECT tunnels

/** `host:port` of a proxy URL, for messages (never its credentials). */
export function proxyLabel(proxy: URL): string {
  return `${proxy.hostname}:${proxy.port || '80'}`;
}

/** A socket connected to `host:port` through `proxy` (CONNECT), or an error naming the proxy and its answer. */
export function openTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  const target = net.isIPv6(bare(host)) ? `[${bare(host)}]:${port}` : `${host}:${port}`;
  const headers: Record<string, string> = { host: target };
  if (proxy.username !== '' || proxy.password !== '') {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: bare(proxy.hostname), port: Number(proxy.port || 80), method: 'CONNECT', path: target, headers, agent: false });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new Error(`proxy ${proxyLabel(proxy)}: CONNECT ${target} ${why}`));
    };
    req.setTimeout(timeoutMs, () => fail(`timed out after ${timeoutMs} ms`));
    req.once('error', (err) => fail(`failed: ${err.message}`));
    req.once('connect', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(`refused: ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trimEnd());
        return;
      }
      settled = true;
      req.setTimeout(0);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.end();
  });
}

/** Where a connection to `host:port` goes: through `proxy`, unless there is none or NO_PROXY says direct. */
function route(proxy: URL | undefined, noProxy: NoProxy, host: string | null | undefined, port: number): URL | undefined {
  return proxy === undefined || noProxy.bypasses(host ?? 'localhost', port) ? undefined : proxy;
}

const TUNNEL_TIMEOUT_MS = 10_000;

/** https:// endpoints: TLS directly, or TLS inside a CONNECT tunnel. */
class ProxyHttpsAgent extends https.Agent {
  public constructor(opts: https.AgentOptions, private readonly proxy: URL | undefined, private readonly noProxy: NoProxy) {
    super(opts);
  }

  public override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const port = Number(options.port ?? 443);
    const via = route(this.proxy, this.noProxy, options.host, port);
    if (via === undefined) return super.createConnection(options, callback);
    openTunnel(via, options.host ?? 'localhost', port, TUNNEL_TIMEOUT_MS).then(
      (socket) => callback?.(null, tls.connect({ ...(options as tls.ConnectionOptions), socket })),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** http:// endpoints: a plain socket, or a CONNECT tunnel. */
class ProxyHttpAgent extends http.Agent {
  public constructor(opts: http.AgentOptions, private readonly proxy: URL | undefined, private readonly noProxy: NoProxy) {
    super(opts);
  }

  public override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const port = Number(options.port ?? 80);
    const via = route(this.proxy, this.noProxy, options.host, port);
    if (via === undefined) return super.createConnection(options, callback);
    openTunnel(via, options.host ?? 'localhost', port, TUNNEL_TIMEOUT_MS).then(
      (socket) => callback?.(null, socket),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

export interface AgentsOptions {
  readonly keepAlive: boolean;
  readonly maxSockets: number;
  /** Extra trusted CAs (PEM), added to Node's built-in roots. */
  readonly caPem?: string;
  readonly proxy?: ProxyConfig;
}

/** The S3 client's agents, for the SDK's NodeHttpHandler. */
export function createAgents(o: AgentsOptions): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const noProxy = new NoProxy(o.proxy?.noProxy ?? []);
  const url = (u: string | undefined) => (u === undefined ? undefined : new URL(u));
  // One secure context for every connection (not one parse of ~150 roots per handshake).
  const secureContext = o.caPem === undefined ? undefined : tls.createSecureContext({ ca: [...tls.rootCertificates, o.caPem] });
  const base = { keepAlive: o.keepAlive, maxSockets: o.maxSockets };
  return {
    httpAgent: new ProxyHttpAgent(base, url(o.proxy?.httpProxy), noProxy),
    httpsAgent: new ProxyHttpsAgent({ ...base, ...(secureContext !== undefined ? { secureContext } : {}) }, url(o.proxy?.httpsProxy), noProxy),
  };
}
