/**
 * The web page in a real browser (Debian's Chromium, headless, driven with playwright-core; no browser is
 * downloaded): the token login, the list of the user's dumps, a dump's page with its leak suspects and the bar
 * chart, the download button, escaping of hostile names, the strict CSP (no violation), the session cookie's
 * flags, CSRF refusals, revocation. The oauth-proxy mode is checked over HTTP as the sidecar would call it.
 * Screenshots of the list and of a dump's page are taken every run; UPDATE_SCREENSHOTS=1 writes them to docs/images.
 */
import { createHash, randomBytes, X509Certificate } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { type BrowserContext, chromium } from 'playwright-core';
import { ENV } from '../../../agent/src/contract';
import { dumpName } from '../../../agent/src/dump-name';
import { apiEnv, freePort, type InProcessApi, putDump, request, type SeededDump, startApiInProcess, startWorld, type World } from '../../support/api-world';
import { registerCleanup, repoPath } from '../../support/procs';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';

const PREFIX = 'web/';
const ALL_SUBS = ['heapdumps', 'heapdumps/download', 'heapdumps/summary', 'heapdumps/leaks'];
const HOSTILE = 'com.acme.<img src=x onerror=alert(1)>\u202eevil';
const LEAKS = {
  schema: 'heapdump-pipeline.io/leaks/v1',
  status: 'analyzed',
  headline: 'Leak suspect: static field com.acme.orders.OrderCache.ENTRIES (java.util.HashMap) retains 182 MiB (81 %): 1,204,118 × com.acme.orders.Order',
  suspects: [
    { kind: 'object', className: 'java.util.HashMap', retainedBytes: 190_840_832, retainedPercent: 81.2, headline: 'static field com.acme.orders.OrderCache.ENTRIES (java.util.HashMap) retains 182 MiB (81 %)' },
    { kind: 'class-group', className: HOSTILE, retainedBytes: 12_582_912, retainedPercent: 5.4, headline: `${HOSTILE} retains 12 MiB` },
  ],
  topDominators: [
    { className: 'java.util.HashMap', objectId: '0x7f00a', retainedBytes: 190_840_832, retainedPercent: 81.2 },
    { className: 'org.apache.catalina.session.StandardManager', objectId: '0x7f100', retainedBytes: 20_971_520, retainedPercent: 8.9 },
    { className: 'byte[]', objectId: '0x7f200', retainedBytes: 8_388_608, retainedPercent: 3.6 },
    { className: 'java.lang.Thread', objectId: '0x7f300', retainedBytes: 2_097_152, retainedPercent: 0.9 },
  ],
};
const SUMMARY = {
  schema: 'heapdump-pipeline.io/summary/v1',
  heap: {
    totals: { objects: 3_412_055, shallowBytes: 230_686_720 },
    classes: [
      { name: 'com.acme.orders.Order', instances: 1_204_118, shallowBytes: 57_797_664 },
      { name: 'java.util.HashMap$Node', instances: 1_204_300, shallowBytes: 38_537_600 },
      { name: 'byte[]', instances: 60_211, shallowBytes: 31_457_280 },
      { name: 'java.lang.String', instances: 1_300_000, shallowBytes: 31_200_000 },
    ],
  },
};
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let s3: S3Server;
let world: World;
let api: InProcessApi;
let webUrl: string;
let oauthApi: InProcessApi;
let oauthWebPort: number;
let a1: SeededDump;
let b1: SeededDump;
let tmp: string;
let context: BrowserContext;
const consoleErrors: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'web-test-'));
  registerCleanup(async () => rmSync(tmp, { recursive: true, force: true }));
  s3 = await startS3Server('s3rver');
  world = await startWorld();
  world.kube.users.set('alice-token', { username: 'alice', groups: ['team-a-devs'] });
  world.kube.rules = [{ group: 'team-a-devs', namespace: 'team-a', verbs: ['get', 'list'], resources: ALL_SUBS }];
  a1 = await putDump(s3, { prefix: PREFIX, node: 'worker-3', namespace: 'team-a', pod: 'orders-api-6f7c9d8b5-x7k2p', file: 'java_pid1.2026-11-30T01-02-03.456Z.hprof', body: randomBytes(2 * 1024 * 1024 + 1), leaks: LEAKS, summary: SUMMARY });
  await putDump(s3, { prefix: PREFIX, node: 'worker-1', namespace: 'team-a', pod: 'orders-worker-5d4c-abcde', file: 'java_pid1.2026-11-29T22-10-00.000Z.hprof', body: randomBytes(300_000), complete: false });
  b1 = await putDump(s3, { prefix: PREFIX, node: 'worker-2', namespace: 'team-b', pod: 'billing-7c9-qwert', file: 'java_pid1.2026-11-30T03-00-00.000Z.hprof', body: randomBytes(50_000), leaks: LEAKS });
  const base = { s3, prefix: PREFIX, kube: world.kube, pki: world.pki, credentials: world.credentials };
  const webPort = await freePort();
  api = await startApiInProcess(apiEnv({ ...base, httpsPort: await freePort(), webMode: 'token-login', webPort, extra: { [ENV.apiWebUrl]: `https://localhost:${webPort}` } }));
  webUrl = `https://localhost:${webPort}`;
  oauthWebPort = await freePort();
  oauthApi = await startApiInProcess(apiEnv({ ...base, httpsPort: await freePort(), webMode: 'oauth-proxy', webPort: oauthWebPort }));
  // Trust exactly the API's certificate (its SPKI), not any certificate.
  const spki = createHash('sha256').update(new X509Certificate(world.pki.apiCert.certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: '/usr/bin/chromium', headless: true, args: [...CHROMIUM_FLAGS, `--ignore-certificate-errors-spki-list=${spki}`], acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  registerCleanup(() => context.close());
  context.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
}, 180_000);

afterAll(disposeAll);

async function screenshot(page: import('playwright-core').Page, name: string): Promise<Buffer> {
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(path.join(tmp, name), png);
  if (process.env.UPDATE_SCREENSHOTS === '1') writeFileSync(path.join(repoPath('docs', 'images'), name), png);
  return png;
}

describe('token login (plain Kubernetes)', () => {
  test('login, the list of the user\'s dumps by namespace (newest first), a dump\'s page with the suspects, download', async () => {
    const page = await context.newPage();
    const first = await page.goto(`${webUrl}/`);
    expect(page.url()).toBe(`${webUrl}/login`);
    expect(first?.headers()['content-security-policy']).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    await page.fill('textarea[name=token]', 'alice-token');
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect({ url: page.url(), refused: api.events.filter((e) => e.msg === 'web login refused') }).toEqual({ url: `${webUrl}/`, refused: [] });

    const rows = await page.locator('tbody tr td.name a').allTextContents();
    expect(rows).toEqual([dumpName(a1.key), expect.stringMatching(/^orders-worker-5d4c-abcde\./)]);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Namespace team-a');
    expect(text).not.toContain('team-b');
    expect(text).not.toContain(dumpName(b1.key));
    expect(text).toContain('java.util.HashMap (81 %)');
    expect(text).toContain('truncated');
    const listPng = await screenshot(page, 'web-list.png');
    expect(listPng.subarray(1, 4).toString()).toBe('PNG');

    const cookies = await context.cookies(webUrl);
    expect(cookies.find((c) => c.name === 'hd_session')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });

    await page.click(`a:text("${dumpName(a1.key)}")`);
    await page.waitForURL(`${webUrl}/namespaces/team-a/heapdumps/${dumpName(a1.key)}`);
    const dumpText = await page.locator('main').innerText();
    expect(dumpText).toContain(LEAKS.headline);
    expect(dumpText).toContain(`kubectl heapdump get -n team-a ${dumpName(a1.key)}`);
    expect(dumpText).toContain(createHash('sha256').update(a1.body).digest('hex'));
    expect(dumpText).toContain('com.acme.orders.Order');
    expect(await page.locator('svg.chart rect.bar').count()).toBe(5);
    expect(await page.locator('svg.chart text').allTextContents()).toEqual(expect.arrayContaining(['java.util.HashMap', '182.0 MiB · 81.2 %', 'org.apache.catalina.session.StandardManager']));
    // the hostile class name is text, shown escaped, never markup
    expect(await page.locator('img').count()).toBe(0);
    expect(dumpText).toContain('com.acme.<img src=x onerror=alert(1)>\\u{202e}evil');
    const dumpPng = await screenshot(page, 'web-dump.png');
    expect(dumpPng.length).toBeGreaterThan(10_000);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.button:text("Download")')]);
    expect(download.suggestedFilename()).toBe(`${dumpName(a1.key)}.hprof`);
    const saved = path.join(tmp, 'downloaded.hprof');
    await download.saveAs(saved);
    expect(readFileSync(saved).equals(a1.body)).toBe(true);

    // nothing the CSP refused, no script error: the pages need nothing but their stylesheet
    expect(consoleErrors).toEqual([]);
    const theirs = await page.goto(`${webUrl}/namespaces/team-b/heapdumps/${dumpName(b1.key)}`);
    expect(theirs?.status()).toBe(403);
    expect(await page.locator('main').innerText()).not.toContain('billing');
    await page.close();
  }, 120_000);

  test('CSRF: a login or logout POST from another origin, or without the form\'s token, is refused', async () => {
    const ca = world.pki.servingCa.certPem;
    const form = (body: string, headers: Record<string, string>) => request(webUrl, '/login', { method: 'POST', ca, body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length), ...headers } });
    // a real form first: its nonce cookie and token
    const login = await request(webUrl, '/login', { ca });
    const nonce = /hd_login=([^;]+)/.exec(String(login.headers['set-cookie']))![1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.body.toString())![1];
    const body = `csrf=${csrf}&token=alice-token`;
    expect((await form(body, { origin: 'https://evil.example', cookie: `hd_login=${nonce}` })).status).toBe(403);
    expect((await form('csrf=forged&token=alice-token', { origin: webUrl, cookie: `hd_login=${nonce}` })).status).toBe(403);
    expect((await form(body, { origin: webUrl })).status).toBe(403);
    // the control: same origin, nonce cookie and token -> a session
    const ok = await form(body, { origin: webUrl, cookie: `hd_login=${nonce}` });
    expect([ok.status, String(ok.headers['set-cookie'])]).toEqual([303, expect.stringContaining('hd_session=v1.')]);
    const session = /hd_session=([^;]+)/.exec(String(ok.headers['set-cookie']))![1];
    const logout = await request(webUrl, '/logout', { method: 'POST', ca, body: 'csrf=xxxxx', headers: { origin: webUrl, cookie: `hd_session=${session}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10' } });
    expect(logout.status).toBe(403);
    // a forged or altered session cookie is no session
    const altered = session.replace(/\.[^.]+$/, '.AAAA');
    expect((await request(webUrl, '/', { ca, headers: { cookie: `hd_session=${altered}` } })).status).toBe(303);
  });

  test('a revoked permission empties the list on the first request after the decision cache time', async () => {
    const page = await context.newPage();
    await page.goto(`${webUrl}/`);
    expect(await page.locator('tbody tr').count()).toBe(2);
    const rules = world.kube.rules;
    world.kube.rules = [];
    try {
      await new Promise((r) => setTimeout(r, 3_100));
      await page.reload();
      expect(await page.locator('tbody tr').count()).toBe(0);
      expect(await page.locator('main').innerText()).toContain('No heap dumps you may see');
    } finally {
      world.kube.rules = rules;
      await page.close();
    }
  }, 30_000);
});

describe('behind the oauth-proxy sidecar (OpenShift)', () => {
  const get = (headers: Record<string, string>, p = '/'): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: oauthWebPort, path: p, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });

  test('the forwarded access token is checked with a TokenReview; a forwarded user name alone is nothing', async () => {
    const ok = await get({ 'x-forwarded-access-token': 'alice-token', 'x-forwarded-user': 'alice' });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain(dumpName(a1.key));
    expect(ok.body).toContain('/oauth/sign_out');
    expect((await get({ 'x-forwarded-user': 'carol', 'x-forwarded-email': 'carol@example.com' })).status).toBe(401);
    expect((await get({ 'x-forwarded-access-token': 'not-a-token' })).status).toBe(401);
    const page = await get({ 'x-forwarded-access-token': 'alice-token' }, `/namespaces/team-a/heapdumps/${dumpName(a1.key)}`);
    expect(page.body).toContain(`oc heapdump get -n team-a ${dumpName(a1.key)}`);
  });

  test('it listens on loopback only', () => {
    expect(oauthApi.events.find((e) => e.msg === 'web page listening')).toMatchObject({ mode: 'oauth-proxy', port: oauthWebPort });
    expect(api.events.find((e) => e.msg === 'web page listening')).toMatchObject({ mode: 'token-login' });
  });
});
