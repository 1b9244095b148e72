/**
 * The web page's requests. Identity: on OpenShift the oauth-proxy sidecar's forwarded access token (this
 * listener is bound to 127.0.0.1, so only a process of the same pod can reach it, and the token is checked
 * with a TokenReview, which also gives the user's groups); on Kubernetes the token login's signed session.
 * Then the same SubjectAccessReviews as the API decide what is listed, shown and downloaded.
 */
import type * as http from 'node:http';
import { isDumpName } from '../../dump-name';
import type { ApiDeps } from '../api-handler';
import type { TokenReviewer } from '../authn';
import type { Access } from '../authz';
import type { Identity, UserInfo } from '../identity';
import { MAX_REPORT_BYTES, SIDECARS } from '../dump-index';
import { serveDownload } from '../download';
import { RESOURCE, SUBRESOURCES, WEB_PATHS } from '../paths';
import { segments } from '../route';
import { html, pageHeaders, STYLE, type Safe } from './html';
import { dumpPage, listPage, loginPage, messagePage, type Viewer } from './pages';
import { cookies, NONCE_COOKIE, SESSION_COOKIE, type Sessions, setCookie } from './session';

export interface WebDeps extends ApiDeps {
  readonly mode: 'oauth-proxy' | 'token-login';
  readonly tokens: TokenReviewer;
  readonly sessions: Sessions;
  readonly sessionTtlMs: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MAX_FORM_BYTES = 16 * 1024;

function page(res: http.ServerResponse, code: number, body: Safe, secure: boolean, extra: Record<string, string | string[]> = {}): void {
  const text = body.value;
  res.writeHead(code, { ...pageHeaders(secure), 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

function redirect(res: http.ServerResponse, to: string, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { location: to, 'cache-control': 'no-store', 'content-length': 0, ...extra });
  res.end();
}

function readForm(req: http.IncomingMessage): Promise<URLSearchParams | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_FORM_BYTES) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_FORM_BYTES ? undefined : new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', () => resolve(undefined));
  });
}

/** A POST from this site only: its Origin (or, without one, its Referer) is this host over https. */
function sameOrigin(req: http.IncomingMessage): boolean {
  const own = `https://${req.headers.host ?? ''}`;
  const origin = req.headers.origin;
  if (origin !== undefined) return origin === own;
  const referer = req.headers.referer;
  return referer !== undefined && (referer === own || referer.startsWith(`${own}/`));
}

async function identify(req: http.IncomingMessage, d: WebDeps, signal: AbortSignal): Promise<Identity | undefined | 'unavailable'> {
  if (d.mode === 'oauth-proxy') {
    const remote = req.socket.remoteAddress ?? '';
    const token = req.headers['x-forwarded-access-token'];
    if (!(remote === '127.0.0.1' || remote === '::1' || remote === '::ffff:127.0.0.1') || typeof token !== 'string' || token === '') return undefined;
    let user: UserInfo | null;
    try {
      user = await d.tokens.review(token, signal);
    } catch {
      return 'unavailable';
    }
    return user === null ? undefined : { user, via: 'oauth-proxy' };
  }
  const user = d.sessions.verify(cookies(req.headers.cookie)[SESSION_COOKIE]);
  return user === undefined ? undefined : { user, via: 'session' };
}

function viewerOf(req: http.IncomingMessage, who: Identity, d: WebDeps): Viewer {
  if (d.mode === 'oauth-proxy') return { name: who.user.username, logout: html`<a class="button secondary" href="/oauth/sign_out">Sign out</a>` };
  const session = cookies(req.headers.cookie)[SESSION_COOKIE] ?? '';
  return { name: who.user.username, logout: html`<form method="post" action="${WEB_PATHS.logout}"><input type="hidden" name="csrf" value="${d.sessions.logoutToken(session)}"><button class="secondary" type="submit">Sign out</button></form>` };
}

async function login(req: http.IncomingMessage, res: http.ServerResponse, d: WebDeps, signal: AbortSignal): Promise<void> {
  if (req.method === 'GET') {
    // The browser's nonce is kept when it has one: two login pages (two tabs) stay valid together.
    const f = d.sessions.loginForm(cookies(req.headers.cookie)[NONCE_COOKIE]);
    return page(res, 200, loginPage(f.token), true, { 'set-cookie': setCookie(NONCE_COOKIE, f.nonce, 600) });
  }
  const form = await readForm(req);
  const again = (code: number, why: string) => {
    const f = d.sessions.loginForm();
    page(res, code, loginPage(f.token, why), true, { 'set-cookie': setCookie(NONCE_COOKIE, f.nonce, 600) });
  };
  const refused = !sameOrigin(req) ? 'another origin' : form === undefined ? 'form too large'
    : !d.sessions.checkLogin(cookies(req.headers.cookie)[NONCE_COOKIE], form.get('csrf') ?? undefined) ? 'form token does not match its cookie' : undefined;
  if (refused !== undefined || form === undefined) {
    d.logger.info('web login refused', { reason: refused, origin: req.headers.origin });
    return again(403, 'The form expired or did not come from this page: sign in again.');
  }
  const token = (form.get('token') ?? '').trim();
  if (token === '' || /\s/.test(token)) return again(400, 'Paste one token (no spaces).');
  let user: UserInfo | null;
  try {
    user = await d.tokens.review(token, signal);
  } catch {
    return again(503, 'The Kubernetes API server cannot check tokens right now; try again.');
  }
  if (user === null) return again(401, 'The API server does not accept this token.');
  const session = d.sessions.issue(user);
  if (session === undefined) return again(400, 'Your identity has too many groups to fit in a browser cookie; use the kubectl plugin.');
  d.logger.info('web login', { user: user.username, groups: user.groups });
  redirect(res, WEB_PATHS.home, { 'set-cookie': [setCookie(SESSION_COOKIE, session, d.sessionTtlMs / 1000), setCookie(NONCE_COOKIE, '', 0)] });
}

export async function handleWeb(req: http.IncomingMessage, res: http.ServerResponse, d: WebDeps): Promise<string> {
  const secure = d.mode === 'token-login';
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/favicon.ico') {
    // No icon; and no redirect to the login page, which would give the browser a second login nonce.
    res.writeHead(204, { 'cache-control': 'max-age=3600' });
    res.end();
    return 'web';
  }
  if (path === WEB_PATHS.style && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(STYLE) });
    res.end(STYLE);
    return 'web';
  }
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const post = req.method === 'POST';
  if (!post && req.method !== 'GET' && req.method !== 'HEAD') {
    page(res, 405, messagePage('Not allowed', 'This page only reads.'), secure);
    return 'web';
  }
  if (d.mode === 'token-login' && path === WEB_PATHS.login && (req.method === 'GET' || post)) {
    await login(req, res, d, abort.signal);
    return 'web';
  }
  if (d.mode === 'token-login' && path === WEB_PATHS.logout && post) {
    const form = await readForm(req);
    const session = cookies(req.headers.cookie)[SESSION_COOKIE];
    if (!sameOrigin(req) || !d.sessions.checkLogout(session, form?.get('csrf') ?? undefined)) {
      page(res, 403, messagePage('Not signed out', 'The form did not come from this page.'), secure);
      return 'web';
    }
    redirect(res, WEB_PATHS.login, { 'set-cookie': setCookie(SESSION_COOKIE, '', 0) });
    return 'web';
  }
  if (post) {
    page(res, 405, messagePage('Not allowed', 'This page only reads.'), secure);
    return 'web';
  }
  const who = await identify(req, d, abort.signal);
  if (who === 'unavailable') {
    page(res, 503, messagePage('Try again', 'The Kubernetes API server cannot check who you are right now.'), secure);
    return 'web';
  }
  if (who === undefined) {
    if (d.mode === 'token-login') redirect(res, WEB_PATHS.login);
    else page(res, 401, messagePage('Not signed in', 'Open this page through its Route: the sign-in happens there.'), secure);
    return 'web';
  }
  const viewer = viewerOf(req, who, d);
  const allowed = (a: Access) => d.authz.allowed(who.user, a, abort.signal);
  const seg = segments(path === '/' ? '/' : path);
  try {
    if (path === WEB_PATHS.home) {
      const listable = await d.authz.listable(who.user, d.index.namespaces(), abort.signal);
      const groups = d.index.namespaces().filter((ns) => listable.has(ns)).map((namespace) => ({ namespace, dumps: d.index.list(namespace) })).filter((g) => g.dumps.length > 0);
      page(res, 200, listPage(viewer, groups, d.now()), secure);
      return 'web';
    }
    if (typeof seg === 'string' || seg.length < 4 || seg.length > 5 || seg[0] !== 'namespaces' || seg[2] !== RESOURCE || (seg.length === 5 && seg[4] !== SUBRESOURCES.download)) {
      page(res, typeof seg === 'string' ? 400 : 404, messagePage('Not found', 'There is no page here.', viewer), secure);
      return 'web';
    }
    const [, namespace, , name] = seg;
    if (!DNS_LABEL.test(namespace) || !isDumpName(name)) {
      page(res, 400, messagePage('Not a heap dump', 'That is not a namespace and heap dump name.', viewer), secure);
      return 'web';
    }
    const download = seg.length === 5;
    const access: Access = { verb: 'get', namespace, name, ...(download ? { subresource: SUBRESOURCES.download } : {}) };
    if (!(await allowed(access))) {
      d.logger.info('request denied', { user: who.user.username, via: who.via, verb: 'get', namespace, subresource: access.subresource });
      page(res, 403, messagePage('Forbidden', `You may not ${download ? 'download' : 'see'} heap dumps in the namespace "${namespace}".`, viewer), secure);
      return 'web';
    }
    const record = await d.index.lookup(namespace, name, abort.signal);
    if (record === undefined) {
      page(res, 404, messagePage('Not found', 'There is no such heap dump (it may have expired).', viewer), secure);
      return 'web';
    }
    const meta = await d.index.ensureMeta(record, abort.signal);
    if (download) {
      await serveDownload(req, res, record, meta, who, { store: d.store, logger: d.logger, metrics: d.metrics, now: d.now });
      return 'download';
    }
    const readJson = async (suffix: string): Promise<unknown> => JSON.parse((await d.store.small(record.key + suffix, MAX_REPORT_BYTES, abort.signal)).toString('utf8')) as unknown;
    const [canSummary, canLeaks, canDownload] = await Promise.all([SUBRESOURCES.summary, SUBRESOURCES.leaks, SUBRESOURCES.download]
      .map((subresource) => allowed({ verb: 'get', namespace, name, subresource })));
    const summary = canSummary && record.summary ? await readJson(SIDECARS.summaryJson).catch(() => undefined) : undefined;
    const leaks = canLeaks && record.leaksEtag !== undefined ? await readJson(SIDECARS.leaksJson).catch(() => undefined) : undefined;
    const cli = d.mode === 'oauth-proxy' ? 'oc' : 'kubectl';
    page(res, 200, dumpPage(viewer, { record, meta, summary, leaks, canDownload, command: `${cli} heapdump get -n ${namespace} ${name}` }, d.now()), secure);
    return 'web';
  } catch (error) {
    d.logger.warn('web page failed', { error: error as Error });
    page(res, 503, messagePage('Try again', 'The dump store or the Kubernetes API server cannot be reached right now.', viewer), secure);
    return 'web';
  }
}
