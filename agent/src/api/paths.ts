/**
 * The heapdumps API as the world sees it: group, version, resource, kinds, the resource paths (the same with
 * the aggregation layer in front and without it) and the web page's paths. Shared by the server, the
 * `kubectl-heapdump` plugin, the constructs (APIService, RBAC) and the Event's retrieval hint.
 */
export const API_GROUP = 'heapdump-pipeline.io';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;
export const RESOURCE = 'heapdumps';
export const SINGULAR = 'heapdump';
export const KIND = 'HeapDump';
export const LIST_KIND = 'HeapDumpList';
export const SHORT_NAMES = ['hd'] as const;
/** `oc get heapdump-pipeline` lists them (not `all`: a dump is not a workload). */
export const CATEGORIES = ['heapdump-pipeline'] as const;
/** Read-only: the dumps are written by the uploader, never through this API. */
export const VERBS = ['get', 'list'] as const;

/** Subresources, each its own RBAC resource (`heapdumps/download`, ...), as the API server authorizes them. */
export const SUBRESOURCES = {
  /** The dump's bytes (Range, Digest, ETag). */
  download: 'download',
  /** `<key>.summary.json` (the uploader's triage summary). */
  summary: 'summary',
  /** `<key>.leaks.json` (the analyzer's leak report). */
  leaks: 'leaks',
} as const;
export type Subresource = (typeof SUBRESOURCES)[keyof typeof SUBRESOURCES];
export const SUBRESOURCE_NAMES: readonly Subresource[] = Object.values(SUBRESOURCES);

/** `/apis/heapdump-pipeline.io/v1alpha1[/namespaces/<ns>]/heapdumps[/<name>[/<sub>]]` */
export function resourcePath(namespace?: string, name?: string, subresource?: Subresource): string {
  let p = `/apis/${GROUP_VERSION}`;
  if (namespace !== undefined) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${RESOURCE}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (name !== undefined && subresource !== undefined) p += `/${subresource}`;
  return p;
}

/** Paths of the web page (below its base URL). */
export const WEB_PATHS = {
  home: '/',
  login: '/login',
  logout: '/logout',
  style: '/static/app.css',
} as const;

/** The web page of one dump: `<base>/namespaces/<ns>/heapdumps/<name>` (base without a trailing slash). */
export function webDumpPath(namespace: string, name: string): string {
  return `/namespaces/${encodeURIComponent(namespace)}/${RESOURCE}/${encodeURIComponent(name)}`;
}

/** The absolute URL of a dump's web page, from the configured base URL (`api.web.url`). */
export function webDumpUrl(baseUrl: string, namespace: string, name: string): string {
  return baseUrl.replace(/\/+$/, '') + webDumpPath(namespace, name);
}
