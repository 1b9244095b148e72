/**
 * A loopback stand-in for the kube-apiserver's aggregation layer in front of an aggregated API server, doing
 * what kube-aggregator does for `/apis/heapdump-pipeline.io/...`: authenticate the caller's bearer token (the
 * fake API server's users), drop the caller's Authorization and any X-Remote-* headers it sent, and forward the
 * request over TLS (verifying the backend against its CA, as the APIService's caBundle does) with the front-proxy
 * client certificate and X-Remote-User / X-Remote-Group / X-Remote-Extra-* headers. Answers stream through
 * unchanged, both ways. It does not authorize (the real one does): what the tests see is the backend's own
 * authorization. Other paths answer 404 unless `routes` serves them.
 */
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo } from 'net';
import type { FakeKubeApi, FakeUser } from './kube-api-server';
import { sarAllowed, statusBody } from './kube-api-server';
import type { TLSSocket } from 'tls';
import type { ClientCert } from './tls';

export interface AggregatorOptions {
  readonly kube: FakeKubeApi;
  /** The aggregator's own serving certificate (what kubeconfig's certificate-authority-data trusts). */
  readonly serverCert: { readonly certPem: string; readonly keyPem: string };
  /** The front-proxy client certificate (signed by the requestheader client CA). */
  readonly clientCert: ClientCert;
  /** Where the APIService points, and the CA that signed its serving certificate. */
  readonly backend: () => { readonly url: string; readonly ca: string };
  /**
   * Authorize as kube-apiserver does before it proxies (RBAC on the resource, from the path, with the fake API
   * server's rules): a list across namespaces then needs a cluster-wide grant. @default false (only the backend decides)
   */
  readonly authorize?: boolean;
  /** Users may also authenticate with a client certificate of this CA (user = CN, groups = O). */
  readonly userCa?: string;
  /** Extra paths the stand-in answers itself (e.g. OpenShift's project list), by exact path. */
  readonly routes?: Readonly<Record<string, (user: FakeUser) => { status: number; body: unknown }>>;
}

export interface Aggregator {
  readonly url: string;
  /** Requests forwarded, with the identity headers sent. */
  readonly forwarded: Array<{ readonly path: string; readonly user: string }>;
  close(): Promise<void>;
}

const GROUP_PREFIX = '/apis/heapdump-pipeline.io';

/** RequestInfo of a heapdumps path, as kube-apiserver derives it (undefined: not a resource request). */
function requestAttributes(target: string): { namespace: string; verb: string; group: string; resource: string; subresource?: string; name?: string } | undefined {
  const s = target.split('?')[0].split('/').slice(1);
  if (s[0] !== 'apis' || s[1] !== 'heapdump-pipeline.io' || s.length < 4) return undefined;
  const base = { group: 'heapdump-pipeline.io', resource: 'heapdumps' };
  if (s.length === 4) return { ...base, namespace: '', verb: 'list' };
  if (s[3] !== 'namespaces') return undefined;
  const namespace = decodeURIComponent(s[4] ?? '');
  if (s.length === 6) return { ...base, namespace, verb: 'list' };
  return { ...base, namespace, verb: 'get', name: decodeURIComponent(s[6] ?? ''), ...(s[7] !== undefined ? { subresource: s[7] } : {}) };
}

export async function startAggregator(o: AggregatorOptions): Promise<Aggregator> {
  const forwarded: Array<{ path: string; user: string }> = [];
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const tlsOptions = { cert: o.serverCert.certPem, key: o.serverCert.keyPem, ...(o.userCa !== undefined ? { requestCert: true, rejectUnauthorized: false, ca: o.userCa } : {}) };
  const server = https.createServer(tlsOptions, (req, res) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    let user: FakeUser | undefined = m ? o.kube.users.get(m[1]) : undefined;
    const socket = req.socket as TLSSocket;
    if (user === undefined && o.userCa !== undefined && socket.authorized) {
      const subject = socket.getPeerCertificate().subject;
      const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
      if (first(subject?.CN) !== undefined) user = { username: first(subject.CN)!, groups: subject.O === undefined ? [] : ([] as string[]).concat(subject.O) };
    }
    if (user === undefined) return json(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
    const path = req.url ?? '/';
    const own = o.routes?.[path.split('?')[0]];
    if (own !== undefined) {
      const a = own(user);
      return json(res, a.status, a.body);
    }
    if (o.authorize === true) {
      const attrs = requestAttributes(path);
      if (attrs !== undefined && !sarAllowed(o.kube.rules, { user: user.username, groups: [...(user.groups ?? []), 'system:authenticated'], resourceAttributes: attrs })) {
        return json(res, 403, statusBody(403, 'Forbidden', `heapdumps.heapdump-pipeline.io is forbidden: User "${user.username}" cannot ${attrs.verb} resource "heapdumps" in API group "heapdump-pipeline.io"${attrs.namespace ? ` in the namespace "${attrs.namespace}"` : ' at the cluster scope'}`));
      }
    }
    const bare = path.split('?')[0];
    if (bare !== '/apis' && bare !== GROUP_PREFIX && !bare.startsWith(`${GROUP_PREFIX}/`)) {
      return json(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k === 'authorization' || k.startsWith('x-remote-') || k === 'host' || k === 'connection') continue;
      headers[k] = v;
    }
    headers['x-remote-user'] = user.username;
    headers['x-remote-group'] = [...(user.groups ?? []), 'system:authenticated'];
    for (const [k, vs] of Object.entries(user.extra ?? {})) headers[`x-remote-extra-${encodeURIComponent(k.toLowerCase())}`] = [...vs];
    forwarded.push({ path, user: user.username });
    const backend = new URL(o.backend().url);
    const up = https.request({
      host: backend.hostname, port: backend.port, method: req.method, path, headers,
      ca: o.backend().ca, cert: o.clientCert.certPem, key: o.clientCert.keyPem, servername: 'localhost', agent: false,
    }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    up.on('error', (e) => (res.headersSent ? res.destroy() : json(res, 503, statusBody(503, 'ServiceUnavailable', `backend: ${e.message}`))));
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
