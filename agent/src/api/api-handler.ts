/**
 * The API port's requests, in the order a request is judged: method, identity (401; 503 when the API server
 * cannot be asked), path (400 malformed, 404 unknown), authorization for exactly this verb, namespace, name
 * and subresource (403, the same answer whether or not the dump exists), then the answer from the index, or a
 * stream from S3 (503 when S3 cannot be reached).
 */
import type * as http from 'node:http';
import type { Logger } from '../runtime/logger';
import type { Authenticator } from './authn';
import type { Access, Authorizer } from './authz';
import { DISCOVERY } from './discovery';
import { type DumpIndex, type DumpRecord, MAX_REPORT_BYTES, SIDECARS } from './dump-index';
import { StoreError, type DumpStore } from './dump-store';
import { serveDownload } from './download';
import type { Identity } from './identity';
import type { ApiMetrics } from './metrics';
import { API_GROUP, RESOURCE, SUBRESOURCES } from './paths';
import { heapDumpList, heapDumpObject, type ObjectOptions } from './resources';
import { parseLabelSelector, parseRoute } from './route';
import { type KubeStatus, SECURITY_HEADERS, sendJson, sendStatus, status } from './status';
import { type IncludeObject, tableOf } from './table';

export interface ApiDeps {
  readonly authn: Authenticator;
  readonly authz: Authorizer;
  readonly index: DumpIndex;
  readonly store: DumpStore;
  readonly metrics: ApiMetrics;
  readonly logger: Logger;
  readonly objects: ObjectOptions;
  readonly now: () => number;
}

const notFound = (name?: string) => status(404, 'NotFound', name === undefined ? 'the server could not find the requested resource' : `heapdumps.${API_GROUP} "${name}" not found`, name === undefined ? undefined : { name, group: API_GROUP, kind: RESOURCE });
const unavailable = () => status(503, 'ServiceUnavailable', 'the dump store (S3) cannot be reached right now; try again in a minute');

function forbidden(who: Identity, a: Access): KubeStatus {
  const resource = a.subresource !== undefined ? `${RESOURCE}/${a.subresource}` : RESOURCE;
  const where = a.namespace !== undefined ? ` in the namespace "${a.namespace}"` : ' at the cluster scope';
  return status(403, 'Forbidden', `${RESOURCE}.${API_GROUP} is forbidden: User "${who.user.username}" cannot ${a.verb} resource "${resource}" in API group "${API_GROUP}"${where}`, { group: API_GROUP, kind: RESOURCE });
}

/** Which Table version the client accepts (kubectl asks for v1, then v1beta1, then plain JSON), or undefined. */
export function tableVersion(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  for (const part of (accept ?? '').split(',')) {
    const p = part.replace(/\s+/g, '').toLowerCase();
    if (!p.startsWith('application/json;') || !p.includes('as=table') || !p.includes('g=meta.k8s.io')) continue;
    if (p.includes('v=v1beta1')) return 'v1beta1';
    if (p.includes('v=v1')) return 'v1';
  }
  return undefined;
}

function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => /^\s*(application\/json|application\/\*|\*\/\*)\s*(;|$)/i.test(part) && !/as=/i.test(part));
}

function wantsText(accept: string | undefined): boolean {
  return /^\s*text\/plain/i.test(accept ?? '');
}

function selectorFilter(query: URLSearchParams): ((r: DumpRecord, labels: Record<string, string>) => boolean) | KubeStatus {
  const labelRaw = query.get('labelSelector') ?? '';
  const terms = parseLabelSelector(labelRaw);
  if (terms === undefined) return status(400, 'BadRequest', `labelSelector "${labelRaw}" is not supported: expected k=v, k==v or k!=v terms`);
  const fields: Array<[string, string]> = [];
  for (const t of (query.get('fieldSelector') ?? '').split(',').filter((x) => x.trim() !== '')) {
    const m = /^\s*(metadata\.name|metadata\.namespace)\s*==?\s*([a-z0-9.-]*)\s*$/.exec(t);
    if (m === null) return status(400, 'BadRequest', `fieldSelector term "${t}" is not supported: expected metadata.name=<name> or metadata.namespace=<namespace>`);
    fields.push([m[1], m[2]]);
  }
  return (r, labels) => terms.every((t) => (labels[t.key] === t.value) === t.equal)
    && fields.every(([f, v]) => (f === 'metadata.name' ? r.name : r.namespace) === v);
}

export async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, d: ApiDeps): Promise<string> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendStatus(res, status(405, 'MethodNotAllowed', `${req.method ?? ''} is not supported: heap dumps are read-only (get, list)`));
    return 'other';
  }
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const authn = await d.authn.authenticate(req, abort.signal);
  d.metrics.reviews.inc({ kind: 'authn', outcome: authn.kind });
  if (authn.kind === 'unavailable') {
    d.logger.warn('authentication unavailable', { reason: authn.reason });
    sendStatus(res, status(503, 'ServiceUnavailable', 'the Kubernetes API server cannot be asked who you are right now; try again'));
    return 'other';
  }
  if (authn.kind !== 'ok') {
    sendStatus(res, status(401, 'Unauthorized', 'Unauthorized'), { 'www-authenticate': 'Bearer realm="heapdump-pipeline"' });
    return 'other';
  }
  const who = authn.identity;
  const route = parseRoute(req.url ?? '/');
  if (route.kind === 'malformed') {
    sendStatus(res, status(400, 'BadRequest', `malformed request path: ${route.why}`));
    return 'other';
  }
  if (route.kind === 'not-found') {
    sendStatus(res, notFound());
    return 'other';
  }
  if (route.kind === 'discovery') {
    sendJson(res, 200, DISCOVERY[route.path]);
    return 'discovery';
  }
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  if (['true', '1'].includes(query.get('watch') ?? '')) {
    sendStatus(res, status(405, 'MethodNotAllowed', 'watch is not supported for heapdumps: list again instead'));
    return 'watch';
  }
  const check = async (a: Access): Promise<boolean> => {
    let ok: boolean;
    try {
      ok = await d.authz.allowed(who.user, a, abort.signal);
    } catch (error) {
      d.logger.warn('authorization unavailable', { error: error as Error });
      sendStatus(res, status(503, 'ServiceUnavailable', 'the Kubernetes API server cannot be asked for your permissions right now; try again'));
      return false;
    }
    d.metrics.reviews.inc({ kind: 'authz', outcome: ok ? 'allowed' : 'denied' });
    if (!ok) {
      d.logger.info('request denied', { user: who.user.username, via: who.via, verb: a.verb, namespace: a.namespace, subresource: a.subresource });
      sendStatus(res, forbidden(who, a));
    }
    return ok;
  };

  if (route.kind === 'list') {
    const filter = selectorFilter(query);
    if (typeof filter !== 'function') {
      sendStatus(res, filter);
      return 'list';
    }
    let namespaces: string[];
    if (route.namespace !== undefined) {
      if (!(await check({ verb: 'list', namespace: route.namespace }))) return 'list';
      namespaces = [route.namespace];
    } else {
      try {
        const allowed = await d.authz.listable(who.user, d.index.namespaces(), abort.signal);
        namespaces = d.index.namespaces().filter((ns) => allowed.has(ns));
      } catch (error) {
        d.logger.warn('authorization unavailable', { error: error as Error });
        sendStatus(res, status(503, 'ServiceUnavailable', 'the Kubernetes API server cannot be asked for your permissions right now; try again'));
        return 'list';
      }
    }
    if (!d.index.ready) {
      sendStatus(res, unavailable());
      return 'list';
    }
    const objects = (r: DumpRecord) => heapDumpObject(r, d.objects);
    const records = namespaces.flatMap((ns) => d.index.list(ns)).filter((r) => filter(r, objects(r).metadata.labels));
    const tv = tableVersion(req.headers.accept);
    if (tv !== undefined) {
      const inc = query.get('includeObject');
      const includeObject: IncludeObject = inc === 'None' || inc === 'Object' ? inc : 'Metadata';
      sendJson(res, 200, tableOf(records, { now: d.now(), tableVersion: tv, includeObject, fullObject: objects }));
    } else if (acceptsJson(req.headers.accept)) {
      sendJson(res, 200, heapDumpList(records.map(objects)));
    } else {
      sendStatus(res, status(406, 'NotAcceptable', 'only application/json and the meta.k8s.io Table are served'));
    }
    return 'list';
  }

  // get, and the subresources
  const access: Access = { verb: 'get', namespace: route.namespace, name: route.name, ...(route.subresource !== undefined ? { subresource: route.subresource } : {}) };
  if (!(await check(access))) return route.subresource ?? 'get';
  let record: DumpRecord | undefined;
  try {
    record = await d.index.lookup(route.namespace, route.name, abort.signal);
  } catch {
    if (!d.index.ready) {
      sendStatus(res, unavailable());
      return route.subresource ?? 'get';
    }
    record = d.index.get(route.namespace, route.name);
  }
  if (record === undefined) {
    sendStatus(res, notFound(route.name));
    return route.subresource ?? 'get';
  }
  try {
    if (route.subresource === SUBRESOURCES.download) {
      await serveDownload(req, res, record, await d.index.ensureMeta(record, abort.signal), who, { store: d.store, logger: d.logger, metrics: d.metrics, now: d.now });
      return 'download';
    }
    if (route.subresource === SUBRESOURCES.summary || route.subresource === SUBRESOURCES.leaks) {
      const summary = route.subresource === SUBRESOURCES.summary;
      if (summary ? !record.summary : record.leaksEtag === undefined) {
        sendStatus(res, status(404, 'NotFound', summary ? `heapdumps "${record.name}" has no summary (the dump was not analysed)` : `heapdumps "${record.name}" has no leak report (yet)`));
        return route.subresource;
      }
      const text = wantsText(req.headers.accept);
      const suffix = summary ? (text ? SIDECARS.summaryText : SIDECARS.summaryJson) : (text ? SIDECARS.leaksText : SIDECARS.leaksJson);
      const body = await d.store.small(record.key + suffix, MAX_REPORT_BYTES, abort.signal);
      res.writeHead(200, { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': body.length, ...SECURITY_HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
      return route.subresource;
    }
    await d.index.ensureMeta(record, abort.signal);
    const tv = tableVersion(req.headers.accept);
    if (tv !== undefined) sendJson(res, 200, tableOf([record], { now: d.now(), tableVersion: tv, includeObject: 'Metadata', fullObject: (r) => heapDumpObject(r, d.objects) }));
    else sendJson(res, 200, heapDumpObject(record, d.objects));
    return 'get';
  } catch (error) {
    if (error instanceof StoreError && error.kind === 'not-found') sendStatus(res, notFound(route.name));
    else if (error instanceof StoreError) sendStatus(res, unavailable());
    else throw error;
    return route.subresource ?? 'get';
  }
}
