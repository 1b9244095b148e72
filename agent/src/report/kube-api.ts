/**
 * The two Kubernetes API calls the notifier makes, with the official client @kubernetes/client-node.
 *
 * The ONLY module that imports the client, and it is loaded with a dynamic import() only when
 * Kubernetes Events are enabled (see kube-events.ts). It imports the client's generated
 * `EventsV1Api` request factory / response processor and its HTTP layer directly, not the package
 * index: the index (with KubeConfig) loads every API group and auth provider, ~27-31 MiB of resident
 * memory when bundled against ~10 MiB for these modules (measured; the uploader's budget is 80 MiB
 * peak). The version is pinned exactly in package.json because these paths are the client's
 * internal layout; test/agent/report/kube-events.test.ts exercises them against an HTTPS stand-in
 * for the API server.
 *
 * Credentials are the pod's ServiceAccount token and CA bundle (what KubeConfig.loadFromCluster
 * reads): the token is re-read for every request because projected tokens are rotated by the kubelet.
 */
import { readFileSync } from 'fs';
import { Agent } from 'https';
import * as path from 'path';
import { EventsV1ApiRequestFactory, EventsV1ApiResponseProcessor } from '@kubernetes/client-node/dist/gen/apis/EventsV1Api.js';
import { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
import { HttpMethod, type RequestContext, type ResponseContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import type { EventsV1Event } from '@kubernetes/client-node/dist/gen/models/EventsV1Event.js';
import { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
import type { KubeApi, KubeApiOptions } from './kube-events';

/** A failed API call: `status` is the HTTP status (absent for network errors), `reason` the Status reason or error code. */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** A Kubernetes `Status` body -> one line (e.g. `events.events.k8s.io is forbidden: User ... cannot create ...`). */
async function statusError(resp: ResponseContext, what: string): Promise<KubeApiError> {
  let reason = `HTTP ${resp.httpStatusCode}`;
  let message = '';
  try {
    const body = JSON.parse(await resp.body.text()) as { reason?: unknown; message?: unknown };
    if (typeof body.reason === 'string' && body.reason !== '') reason = body.reason;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not a Status document (e.g. a proxy's HTML page): the status code says enough
  }
  return new KubeApiError(`${what}: HTTP ${resp.httpStatusCode}${message ? `: ${message.slice(0, 500)}` : ''}`, resp.httpStatusCode, reason);
}

/** node-fetch's FetchError carries `code` (ECONNREFUSED, ...); an abort is an AbortError. */
function transportError(error: unknown, what: string): KubeApiError {
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  const reason = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  return new KubeApiError(`${what}: ${typeof e.message === 'string' ? e.message : String(error)}`, undefined, reason);
}

export function createKubeApi(opts: KubeApiOptions): KubeApi {
  const ca = readFileSync(path.join(opts.credentialsDir, 'ca.crt'));
  const tokenFile = path.join(opts.credentialsDir, 'token');
  // One agent (the CA is read once); no keep-alive: a notification is two requests, rarely.
  const agent = new Agent({ ca, keepAlive: false });
  const config = createConfiguration({
    baseServer: new ServerConfiguration(opts.apiUrl, {}),
    authMethods: {
      default: {
        getName: () => 'serviceaccount token',
        applySecurityAuthentication: (ctx: RequestContext) => {
          ctx.setHeaderParam('Authorization', `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`);
          ctx.setAgent(agent);
        },
      },
    },
  });
  const events = new EventsV1ApiRequestFactory(config);
  const eventResponses = new EventsV1ApiResponseProcessor();

  async function send(ctx: RequestContext, signal: AbortSignal, what: string): Promise<ResponseContext> {
    ctx.setSignal(signal);
    try {
      return await config.httpApi.send(ctx).toPromise();
    } catch (error) {
      throw transportError(error, what);
    }
  }

  return {
    async getPodUid(namespace, name, signal) {
      const what = `get pod ${namespace}/${name}`;
      const ctx = config.baseServer.makeRequestContext(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, HttpMethod.GET);
      ctx.setHeaderParam('Accept', 'application/json');
      await config.authMethods.default?.applySecurityAuthentication(ctx);
      const resp = await send(ctx, signal, what);
      if (resp.httpStatusCode === 404) return undefined;
      if (resp.httpStatusCode !== 200) throw await statusError(resp, what);
      const pod = JSON.parse(await resp.body.text()) as { metadata?: { uid?: unknown } };
      return typeof pod.metadata?.uid === 'string' ? pod.metadata.uid : undefined;
    },

    async createEvent(namespace, body, signal) {
      const what = `create event in ${namespace}`;
      const ctx = await events.createNamespacedEvent(namespace, body as unknown as EventsV1Event);
      const resp = await send(ctx, signal, what);
      if (resp.httpStatusCode === 409) return 'exists';
      if (resp.httpStatusCode < 200 || resp.httpStatusCode > 299) throw await statusError(resp, what);
      await eventResponses.createNamespacedEventWithHttpInfo(resp);
      return 'created';
    },
  };
}
