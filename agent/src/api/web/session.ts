/**
 * The token login's session (plain Kubernetes): after a TokenReview accepted the pasted token, the user's
 * identity (name, uid, groups, extra; never the token) goes into a cookie signed with HMAC-SHA256 and valid for
 * API_SESSION_TTL. The cookie is HttpOnly, Secure, SameSite=Strict, Path=/; every request is still authorized
 * by a SubjectAccessReview, so a revoked permission takes effect within the decision cache's time, and a
 * session only ever stands for what the token's user may do.
 *
 * CSRF: the page's only state-changing requests are the login and logout POSTs. Both carry a token in the
 * form that is an HMAC of a value bound to the browser (the login's pre-session nonce cookie, the session
 * itself); SameSite=Strict keeps the cookies off cross-site requests, and a POST whose Origin is another
 * site is refused before that.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { UserInfo } from '../identity';

export const SESSION_COOKIE = 'hd_session';
export const NONCE_COOKIE = 'hd_login';
/** Browsers keep cookies up to 4096 bytes; a session that does not fit is refused with a clear message. */
export const MAX_COOKIE_BYTES = 3800;
const MIN_KEY_BYTES = 32;

export class SessionKeyError extends Error {}

/** The signing key: the mounted Secret's `key` (>= 32 bytes), or a random one for this process. */
export function loadSessionKey(file: string | undefined): { key: Buffer; shared: boolean } {
  if (file === undefined) return { key: randomBytes(32), shared: false };
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The Secret volume is optional: absent means "not created", not an error.
    if (code === 'ENOENT') return { key: randomBytes(32), shared: false };
    throw new SessionKeyError(`cannot be read (${code ?? (error as Error).message})`);
  }
  const trimmed = Buffer.from(raw.toString('utf8').trim(), 'utf8');
  if (trimmed.length < MIN_KEY_BYTES) throw new SessionKeyError(`holds ${trimmed.length} bytes: expected at least ${MIN_KEY_BYTES} (openssl rand -base64 32)`);
  return { key: trimmed, shared: true };
}

const b64 = (b: Buffer) => b.toString('base64url');

export class Sessions {
  public constructor(
    private readonly key: Buffer,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.key).update(`${purpose}\0${value}`).digest();
  }

  private checkMac(purpose: string, value: string, given: string): boolean {
    const want = this.mac(purpose, value);
    let got: Buffer;
    try {
      got = Buffer.from(given, 'base64url');
    } catch {
      return false;
    }
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** The cookie value for `user`, or undefined when it would not fit in a cookie. */
  public issue(user: UserInfo): string | undefined {
    const payload = b64(Buffer.from(JSON.stringify({ u: user.username, i: user.uid, g: user.groups, x: user.extra, e: this.now() + this.ttlMs })));
    const value = `v1.${payload}.${b64(this.mac('session', payload))}`;
    return value.length <= MAX_COOKIE_BYTES ? value : undefined;
  }

  /** The user of a valid, unexpired session cookie value. */
  public verify(value: string | undefined): UserInfo | undefined {
    const m = /^v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(value ?? '');
    if (m === null || !this.checkMac('session', m[1], m[2])) return undefined;
    let p: { u?: unknown; i?: unknown; g?: unknown; x?: unknown; e?: unknown };
    try {
      p = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as typeof p;
    } catch {
      return undefined;
    }
    if (typeof p.u !== 'string' || typeof p.e !== 'number' || p.e <= this.now()) return undefined;
    return {
      username: p.u,
      ...(typeof p.i === 'string' ? { uid: p.i } : {}),
      groups: Array.isArray(p.g) ? p.g.filter((g): g is string => typeof g === 'string') : [],
      extra: p.x !== null && typeof p.x === 'object' ? p.x as Record<string, string[]> : {},
    };
  }

  /** The login nonce (its own cookie: `current` when the browser has a well-formed one, else a fresh one) and the form token bound to it. */
  public loginForm(current?: string): { nonce: string; token: string } {
    const nonce = current !== undefined && /^[A-Za-z0-9_-]{24}$/.test(current) ? current : b64(randomBytes(18));
    return { nonce, token: b64(this.mac('login', nonce)) };
  }

  public checkLogin(nonce: string | undefined, token: string | undefined): boolean {
    return nonce !== undefined && token !== undefined && nonce !== '' && this.checkMac('login', nonce, token);
  }

  /** The logout form token of a session (bound to the session cookie's value). */
  public logoutToken(session: string): string {
    return b64(this.mac('logout', session));
  }

  public checkLogout(session: string | undefined, token: string | undefined): boolean {
    return session !== undefined && token !== undefined && this.checkMac('logout', session, token);
  }
}

/** Cookies of a request (the last value wins for a repeated name). */
export function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Strict`;
}
