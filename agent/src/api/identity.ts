/** Who is asking: the user as the API server knows it, and how we learnt it. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

/**
 * - `front-proxy`: the aggregation layer authenticated the user and forwarded the request with its client
 *   certificate and the X-Remote-* headers;
 * - `token`: a bearer token on the request, resolved by a TokenReview;
 * - `oauth-proxy`: the web page's OpenShift oauth-proxy sidecar, over loopback, with the user's access token;
 * - `session`: the web page's signed session cookie (made at a token login).
 */
export type AuthSource = 'front-proxy' | 'token' | 'oauth-proxy' | 'session';

export interface Identity {
  readonly user: UserInfo;
  readonly via: AuthSource;
}

/** A TokenReview's answer, as the API server sends it. */
export interface TokenReviewStatus {
  readonly authenticated?: boolean;
  readonly user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  readonly error?: string;
}

/** The user of an authenticated TokenReview, or undefined. */
export function userOfReview(status: TokenReviewStatus | undefined): UserInfo | undefined {
  const u = status?.user;
  if (status?.authenticated !== true || u === undefined || typeof u.username !== 'string' || u.username === '') return undefined;
  return {
    username: u.username,
    ...(typeof u.uid === 'string' && u.uid !== '' ? { uid: u.uid } : {}),
    groups: Array.isArray(u.groups) ? u.groups.filter((g) => typeof g === 'string') : [],
    extra: u.extra !== null && typeof u.extra === 'object' ? u.extra : {},
  };
}
