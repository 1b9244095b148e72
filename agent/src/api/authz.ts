/**
 * Authorization: a SubjectAccessReview for the caller's own identity, for exactly what the request does
 * (group heapdump-pipeline.io, resource heapdumps or its subresource, verb get/list, the namespace and name),
 * as the API server itself would authorize it. Decisions, allowed or denied, are cached for `ttlMs` (a few
 * seconds): a revoked permission is effective on the first request after that.
 *
 * A list across namespaces (`-A`, the web page) is allowed whole by one cluster-wide SubjectAccessReview;
 * otherwise it is narrowed to the namespaces whose own review allows `list`, asked only for the namespaces
 * that have dumps. Nobody learns of a namespace's dumps without `list` there.
 */
import type { UserInfo } from './identity';
import type { KubeClient } from './kube-client';
import { API_GROUP, API_VERSION, RESOURCE, type Subresource } from './paths';
import { TtlCache } from './ttl-cache';

export interface Access {
  readonly verb: 'get' | 'list';
  /** Absent: cluster-wide. */
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: Subresource;
}

export interface ResourceAttributes {
  readonly namespace: string;
  readonly verb: string;
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly name?: string;
}

/** The review's spec for `user` doing `access` (pure: also what the tests' stand-in checks). */
export function reviewSpec(user: UserInfo, access: Access): { user: string; uid?: string; groups: string[]; extra: Record<string, string[]>; resourceAttributes: ResourceAttributes } {
  return {
    user: user.username,
    ...(user.uid !== undefined ? { uid: user.uid } : {}),
    groups: [...user.groups],
    extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])),
    resourceAttributes: {
      namespace: access.namespace ?? '',
      verb: access.verb,
      group: API_GROUP,
      version: API_VERSION,
      resource: RESOURCE,
      ...(access.subresource !== undefined ? { subresource: access.subresource } : {}),
      ...(access.name !== undefined ? { name: access.name } : {}),
    },
  };
}

/** Reviews asked at once for one list across namespaces. */
const NAMESPACE_REVIEW_CONCURRENCY = 8;

export class Authorizer {
  private readonly cache: TtlCache<boolean>;

  public constructor(private readonly kube: KubeClient, readonly ttlMs: number, now?: () => number) {
    this.cache = new TtlCache(ttlMs, 50_000, now);
  }

  /** Throws when the API server cannot be asked (the caller answers 503, never "allowed"). */
  public async allowed(user: UserInfo, access: Access, signal?: AbortSignal): Promise<boolean> {
    const spec = reviewSpec(user, access);
    return this.cache.get(JSON.stringify(spec), async () => {
      const out = await this.kube.post<{ status?: { allowed?: boolean; denied?: boolean } }>(
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
        signal,
      );
      return out.status?.allowed === true && out.status?.denied !== true;
    });
  }

  /** Of `namespaces`, those whose dumps `user` may list (all of them after one cluster-wide review). */
  public async listable(user: UserInfo, namespaces: readonly string[], signal?: AbortSignal): Promise<Set<string>> {
    if (await this.allowed(user, { verb: 'list' }, signal)) return new Set(namespaces);
    const out = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < namespaces.length) {
        const ns = namespaces[next++];
        if (await this.allowed(user, { verb: 'list', namespace: ns }, signal)) out.add(ns);
      }
    };
    await Promise.all(Array.from({ length: Math.min(NAMESPACE_REVIEW_CONCURRENCY, namespaces.length) }, worker));
    return out;
  }
}
