/**
 * The webhook's HTTP client (agent/src/net/http-post.ts) against loopback servers with real TLS: the agent's CA
 * bundle on top of Node's roots, a CONNECT proxy with NO_PROXY, no redirect followed, aborts, a bounded answer.
 * That it works without WebAssembly (--jitless, the image's Node 24) is test/e2e/notify-as-deployed.test.ts.
 */
import * as http from 'http';
import * as https from 'https';
import type { AddressInfo } from 'net';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createPost, PostError } from '../../../agent/src/net/http-post';
import { type ConnectProxy, startConnectProxy } from '../../support/connect-proxy';
import { issueServerCert, makeCa, type TestCa } from '../../support/tls';

const HIDDEN = 'hooks.test.invalid';
let tmp: string;
let ca: TestCa;
let server: https.Server;
let port: number;
let proxy: ConnectProxy;
const received: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'http-post-'));
  ca = makeCa(tmp, 'heapdump test webhook CA');
  const cert = issueServerCert(ca, tmp, [HIDDEN, 'localhost'], 'hook');
  server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (req.url === '/redirect') res.writeHead(302, { location: 'https://elsewhere.test.invalid/' }).end();
      else if (req.url === '/big') res.writeHead(500).end('x'.repeat(1024 * 1024));
      else if (req.url === '/hang') return;
      else res.writeHead(200, { 'retry-after': '7' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  proxy = await startConnectProxy([HIDDEN]);
}, 60_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await proxy.close();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  received.length = 0;
  proxy.tunnels.length = 0;
});

const init = (body = '{"a":1}', signal = new AbortController().signal) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });

test('HTTPS with the agent\'s CA bundle: delivered, body and headers as sent; without the bundle the certificate is refused', async () => {
  const res = await createPost({ caPem: ca.certPem })(`https://127.0.0.1:${port}/hook`, init('{"ü":"✓"}'));
  expect({ status: res.status, retryAfter: res.headers.get('Retry-After'), text: await res.text() }).toEqual({ status: 200, retryAfter: '7', text: 'ok' });
  expect(received).toMatchObject([{ method: 'POST', url: '/hook', body: '{"ü":"✓"}', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength('{"ü":"✓"}')) } }]);
  const refused = await createPost()(`https://127.0.0.1:${port}/hook`, init()).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(PostError);
  expect((refused as PostError).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('HTTPS_PROXY: a CONNECT tunnel, TLS verified end to end; NO_PROXY goes direct', async () => {
  const viaProxy = createPost({ caPem: ca.certPem, proxy: { httpsProxy: proxy.url, noProxy: [] } });
  const res = await viaProxy(`https://${HIDDEN}:${port}/hook`, init());
  expect(res.status).toBe(200);
  expect(proxy.tunnels).toEqual([`${HIDDEN}:${port}`]);
  const direct = createPost({ caPem: ca.certPem, proxy: { httpsProxy: proxy.url, noProxy: ['127.0.0.1'] } });
  expect((await direct(`https://127.0.0.1:${port}/hook`, init())).status).toBe(200);
  expect(proxy.tunnels).toHaveLength(1);
});

test('a redirect is answered, not followed; a long answer is kept to 64 KiB', async () => {
  const post = createPost({ caPem: ca.certPem });
  const redirect = await post(`https://127.0.0.1:${port}/redirect`, init());
  expect({ status: redirect.status, location: redirect.headers.get('location') }).toEqual({ status: 302, location: 'https://elsewhere.test.invalid/' });
  expect(received.map((r) => r.url)).toEqual(['/redirect']);
  const big = await post(`https://127.0.0.1:${port}/big`, init());
  expect({ status: big.status, length: (await big.text()).length }).toEqual({ status: 500, length: 64 * 1024 });
});

test('an abort ends the request with AbortError; a refused connection says ECONNREFUSED', async () => {
  const post = createPost({ caPem: ca.certPem });
  const ac = new AbortController();
  const pending = post(`https://127.0.0.1:${port}/hang`, init('{}', ac.signal)).catch((e: unknown) => e);
  setTimeout(() => ac.abort(), 200);
  expect(await pending).toMatchObject({ name: 'PostError', code: 'AbortError' });
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const free = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  expect(await post(`http://127.0.0.1:${free}/`, init()).catch((e: unknown) => e)).toMatchObject({ name: 'PostError', code: 'ECONNREFUSED' });
});
