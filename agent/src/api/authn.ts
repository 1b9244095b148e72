/**
 * Who is asking, for the API port: the aggregation layer's forwarded user (front-proxy certificate + headers),
 * else a bearer token resolved by a TokenReview (the same paths without aggregation: a port-forward, a Route).
 * TokenReviews are cached for the decision cache's time (keyed by the token's sha256, never the token).
 */
import { createHash } from 'node:crypto';
import type * as http from 'node:http';
import { frontProxyUser, type RequestHeaderConfig } from './front-proxy';
import { type Identity, type TokenReviewStatus, type UserInfo, userOfReview } from './identity';
import type { KubeClient } from './kube-client';
import { TtlCache } from './ttl-cache';

export type AuthnResult =
  | { readonly kind: 'ok'; readonly identity: Identity }
  /** No usable credential (or a front proxy that named no user, or a token the API server does not know). */
  | { readonly kind: 'unauthenticated'; readonly reason: string }
  /** The API server could not be asked. */
  | { readonly kind: 'unavailable'; readonly reason: string };

/** `Bearer <token>`, or undefined. */
export function bearerToken(req: http.IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

export class TokenReviewer {
  private readonly cache: TtlCache<UserInfo | null>;

  public constructor(private readonly kube: KubeClient, ttlMs: number, now?: () => number) {
    this.cache = new TtlCache(ttlMs, 10_000, now);
  }

  /** The token's user, null when the API server says it is not authenticated; throws when it cannot be asked. */
  public async review(token: string, signal?: AbortSignal): Promise<UserInfo | null> {
    const key = createHash('sha256').update(token).digest('hex');
    return this.cache.get(key, async () => {
      const out = await this.kube.post<{ status?: TokenReviewStatus }>('/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      }, signal);
      return userOfReview(out.status) ?? null;
    });
  }
}

export class Authenticator {
  public constructor(
    private readonly requestHeader: () => RequestHeaderConfig | undefined,
    private readonly tokens: TokenReviewer,
  ) {}

  public async authenticate(req: http.IncomingMessage, signal?: AbortSignal): Promise<AuthnResult> {
    const proxied = frontProxyUser(req, this.requestHeader());
    if (proxied.kind === 'user') return { kind: 'ok', identity: { user: proxied.user, via: 'front-proxy' } };
    if (proxied.kind === 'no-user') return { kind: 'unauthenticated', reason: 'the front proxy named no user' };
    const token = bearerToken(req);
    if (token === undefined) return { kind: 'unauthenticated', reason: 'no credentials' };
    let user: UserInfo | null;
    try {
      user = await this.tokens.review(token, signal);
    } catch (error) {
      return { kind: 'unavailable', reason: `token review failed: ${(error as Error).message}` };
    }
    return user === null ? { kind: 'unauthenticated', reason: 'token not authenticated' } : { kind: 'ok', identity: { user, via: 'token' } };
  }
}
