/**
 * How the uploader reaches S3 (issue 10, item 6): an endpoint behind a private CA (S3_CA_BUNDLE_FILE) and an
 * HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY), which the AWS SDK ignores by itself.
 *
 * Real parts: s3rver behind a loopback HTTPS terminator (node:https) with a certificate from a CA made here, a
 * loopback CONNECT proxy (node:http) that counts its tunnels, and the uploader loop itself with the config the
 * agent resolves from its environment. The endpoint `s3.test.invalid` does not resolve: only the proxy knows
 * where it is (127.0.0.1), so an upload to it proves the tunnel was used, and a direct attempt fails in DNS.
 * s3rver runs in this process without virtual-host buckets (it would take the host name `s3.test.invalid` for a
 * bucket name: requests here are path-style, as the uploader sends them to an S3-compatible endpoint).
 */
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError, resolveUploaderConfig, type UploaderConfig } from '../../agent/src/config';
import { ENV } from '../../agent/src/contract';
import { createAgents, NoProxy, openTunnel } from '../../agent/src/net/proxy';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';
import { makeS3Client, TEST_REGION } from '../support/s3';
import { issueServerCert, makeCa, type TestCa } from '../support/tls';
import { eventually, startUploader } from './uploader/harness';

const HIDDEN_HOST = 's3.test.invalid';
const BUCKET = 'transport-bucket';
const KEYS = 'S3RVER';

/** s3rver's programmatic API (the package has no types). */
interface S3rverServer {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => S3rverServer;

let s3Port: number;
let s3: S3Client;
let tmp: string;
let ca: TestCa;
let otherCa: TestCa;
let tlsPort: number;
const closers: (() => Promise<void>)[] = [];

/** Closes a server and every connection it still has (keep-alive sockets, tunnels). */
function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** TLS in front of s3rver: an on-premises S3 behind a private CA. */
async function startTlsTerminator(cert: string, key: string, backendPort: number): Promise<number> {
  const server = https.createServer({ cert, key }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const sockets = track(server);
  const port = await listen(server);
  closers.push(closer(server, sockets));
  return port;
}

interface ConnectProxy {
  readonly url: string;
  /** `host:port` of every tunnel opened, in order. */
  readonly tunnels: string[];
  /** Proxy-Authorization headers seen. */
  readonly authorizations: (string | undefined)[];
}

/** A CONNECT proxy on loopback; `s3.test.invalid` is 127.0.0.1 to it. With `basic`, it wants those credentials. */
async function startConnectProxy(basic?: { user: string; password: string }): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    authorizations.push(req.headers['proxy-authorization']);
    if (basic && req.headers['proxy-authorization'] !== `Basic ${Buffer.from(`${basic.user}:${basic.password}`).toString('base64')}`) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    tunnels.push(req.url ?? '');
    const m = /^(.*):(\d+)$/.exec(req.url ?? '');
    const host = m?.[1] === HIDDEN_HOST ? '127.0.0.1' : (m?.[1] ?? '');
    const upstream = net.connect(Number(m?.[2]), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  const sockets = track(server);
  const port = await listen(server);
  closers.push(closer(server, sockets));
  return { url: `http://127.0.0.1:${port}`, tunnels, authorizations };
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 's3-transport-'));
  mkdirSync(path.join(tmp, 'ca'));
  mkdirSync(path.join(tmp, 'other-ca'));
  ca = makeCa(path.join(tmp, 'ca'), 'heapdump test S3 CA');
  otherCa = makeCa(path.join(tmp, 'other-ca'), 'some other CA');
  const server = issueServerCert(ca, path.join(tmp, 'ca'), [HIDDEN_HOST, 'localhost'], 's3');
  const s3rver = new S3rver({
    address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3rver'), vhostBuckets: false, configureBuckets: [{ name: BUCKET }],
  });
  s3Port = (await s3rver.run()).port;
  closers.push(() => s3rver.close());
  s3 = makeS3Client(`http://127.0.0.1:${s3Port}`, KEYS, KEYS);
  tlsPort = await startTlsTerminator(server.certPem, server.keyPem, s3Port);
}, 60_000);

afterAll(async () => {
  s3.destroy();
  for (const c of closers.reverse()) await c();
  rmSync(tmp, { recursive: true, force: true });
});

async function listKeys(prefix: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key ?? '');
}

let n = 0;

/** The uploader's config as the agent resolves it from its environment: `env` on top of the test server's. */
function agentConfig(root: string, env: Record<string, string>): UploaderConfig {
  return resolveUploaderConfig({
    [ENV.s3Bucket]: BUCKET,
    [ENV.awsAccessKeyId]: KEYS,
    [ENV.awsSecretAccessKey]: KEYS,
    [ENV.awsDefaultRegion]: TEST_REGION,
    [ENV.s3ForcePathStyle]: 'true',
    [ENV.nodeName]: `node-${n}`,
    [ENV.dumpRoot]: root,
    [ENV.uploaderStateDir]: `${root}.state`,
    [ENV.s3Prefix]: 'transport/',
    [ENV.watchInterval]: '1',
    [ENV.fileStableTime]: '1',
    [ENV.afterUpload]: 'keep',
    [ENV.retentionMaxAge]: '0',
    [ENV.retentionMaxBytes]: '0',
    [ENV.dumpAnalysis]: 'false',
    [ENV.logLevel]: 'debug',
    ...env,
  });
}

/** Writes a dump (not an HPROF: uploaded once quiet for FILE_STABLE_TIME) and returns the key prefix it lands under. */
function writeDump(root: string): string {
  n++;
  const dir = path.join(root, 'shop', `web-${n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'core.phd'), Buffer.alloc(64 * 1024, n));
  return `transport/node-${n}/shop/web-${n}/core.`;
}

async function uploads(env: Record<string, string>): Promise<{ uploaded: boolean; log: string }> {
  const root = path.join(tmp, `root-${n + 1}`);
  mkdirSync(root, { recursive: true });
  const cfg = agentConfig(root, { ...env, [ENV.nodeName]: `node-${n + 1}` });
  const keyPrefix = writeDump(root);
  const up = startUploader(cfg);
  let uploaded = false;
  try {
    await eventually('the object', async () => (await listKeys(keyPrefix)).length > 0, 6_000);
    uploaded = true;
  } catch {
    uploaded = false;
  } finally {
    await up.stop();
  }
  return { uploaded, log: JSON.stringify(up.events) };
}

describe('S3 endpoint behind a private CA (S3_CA_BUNDLE_FILE)', () => {
  test('without the bundle the uploader refuses the endpoint\'s certificate; with it, it uploads', async () => {
    const endpoint = { [ENV.s3EndpointUrl]: `https://localhost:${tlsPort}` };
    const refused = await uploads(endpoint);
    expect(refused.uploaded).toBe(false);
    expect(refused.log).toMatch(/upload failed \(local file kept\)/);
    expect(refused.log).toMatch(/certificate/i);

    const withOtherCa = await uploads({ ...endpoint, [ENV.s3CaBundleFile]: otherCa.certFile });
    expect(withOtherCa.uploaded).toBe(false);
    expect(withOtherCa.log).toMatch(/certificate/i);

    const trusted = await uploads({ ...endpoint, [ENV.s3CaBundleFile]: ca.certFile });
    expect(trusted).toMatchObject({ uploaded: true });
  }, 60_000);

  test('the bundle adds to Node\'s public roots (a bundle of several PEM files with text between them works)', () => {
    const file = path.join(tmp, 'bundle.crt');
    writeFileSync(file, `# the cluster's bundle\n${otherCa.certPem}\nsubject=...\n${ca.certPem}`);
    const cfg = agentConfig(tmp, { [ENV.s3CaBundleFile]: file });
    expect(cfg.s3.caBundle?.file).toBe(file);
    expect(cfg.s3.caBundle?.pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  test('the agent (bundle, as the image runs it) stops at start with exit code 2 and one line for a missing bundle', () => {
    const r = spawnSync(process.execPath, [AGENT_BUNDLE, 'uploader'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_NAME: 'worker-1', S3_BUCKET: BUCKET, S3_CA_BUNDLE_FILE: '/etc/heapdump/s3-ca/ca-bundle.crt' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect({ code: r.status, stderr: r.stderr, lines: lines.length }).toEqual({ code: 2, stderr: '', lines: 1 });
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'error', msg: 'invalid configuration', variable: 'S3_CA_BUNDLE_FILE',
      problem: 'S3_CA_BUNDLE_FILE="/etc/heapdump/s3-ca/ca-bundle.crt" cannot be read (ENOENT): expected a readable PEM file with at least one certificate',
    });
  });

  test.each([
    ['a missing file', () => path.join(tmp, 'nope.crt'), /^S3_CA_BUNDLE_FILE=".*nope\.crt" cannot be read \(ENOENT\): expected a readable PEM file with at least one certificate$/],
    ['a folder', () => tmp, /^S3_CA_BUNDLE_FILE=".*" cannot be read \(EISDIR\): expected/],
    ['a file without a certificate', () => {
      const f = path.join(tmp, 'empty.crt');
      writeFileSync(f, 'not a certificate\n');
      return f;
    }, /^S3_CA_BUNDLE_FILE=".*empty\.crt" has no PEM certificate \(-----BEGIN CERTIFICATE-----\): expected a readable PEM file/],
    ['a damaged certificate', () => {
      const f = path.join(tmp, 'damaged.crt');
      writeFileSync(f, `${ca.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
      return f;
    }, /^S3_CA_BUNDLE_FILE=".*damaged\.crt" has an unreadable certificate \(#2: .*\): expected/],
  ])('fails at start with one line for %s', (_what, file, message) => {
    let error: unknown;
    try {
      agentConfig(tmp, { [ENV.s3CaBundleFile]: file() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('S3_CA_BUNDLE_FILE');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY)', () => {
  test('HTTPS_PROXY: the S3 connection is a CONNECT tunnel through the proxy, TLS verified end to end with the bundle', async () => {
    const proxy = await startConnectProxy();
    const env = { [ENV.s3EndpointUrl]: `https://${HIDDEN_HOST}:${tlsPort}`, [ENV.s3CaBundleFile]: ca.certFile };
    // Without the proxy the endpoint's name does not even resolve.
    const direct = await uploads(env);
    expect(direct.uploaded).toBe(false);
    expect(direct.log).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(proxy.tunnels).toEqual([]);

    const viaProxy = await uploads({ ...env, [ENV.httpsProxy]: proxy.url });
    expect(viaProxy.uploaded).toBe(true);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`${HIDDEN_HOST}:${tlsPort}`]));

    // The tunnel does not replace the certificate check: without the bundle the endpoint is refused through it too.
    const before = proxy.tunnels.length;
    const untrusted = await uploads({ [ENV.s3EndpointUrl]: env[ENV.s3EndpointUrl], [ENV.httpsProxy]: proxy.url });
    expect(untrusted.uploaded).toBe(false);
    expect(untrusted.log).toMatch(/certificate/i);
    expect(proxy.tunnels.length).toBeGreaterThan(before);
  }, 90_000);

  test('NO_PROXY: a listed domain bypasses the proxy (no tunnel; here the direct attempt fails in DNS)', async () => {
    const proxy = await startConnectProxy();
    const env = { [ENV.s3EndpointUrl]: `https://${HIDDEN_HOST}:${tlsPort}`, [ENV.s3CaBundleFile]: ca.certFile, [ENV.httpsProxy]: proxy.url };
    const bypassed = await uploads({ ...env, [ENV.noProxy]: '.svc,.invalid' });
    expect(bypassed.uploaded).toBe(false);
    expect(bypassed.log).toMatch(/ENOTFOUND|EAI_AGAIN/);
    expect(proxy.tunnels).toEqual([]);
    // Another port than the listed one goes through the proxy again.
    const otherPort = await uploads({ ...env, [ENV.noProxy]: `${HIDDEN_HOST}:1` });
    expect(otherPort.uploaded).toBe(true);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
  }, 60_000);

  test('a loopback endpoint is always reached directly (as Go does), with HTTPS_PROXY set', async () => {
    const proxy = await startConnectProxy();
    const r = await uploads({ [ENV.s3EndpointUrl]: `https://localhost:${tlsPort}`, [ENV.s3CaBundleFile]: ca.certFile, [ENV.httpsProxy]: proxy.url });
    expect(r.uploaded).toBe(true);
    expect(proxy.tunnels).toEqual([]);
  }, 60_000);

  test('HTTP_PROXY: a plain-http endpoint is tunnelled too; HTTPS_PROXY alone leaves it direct', async () => {
    const proxy = await startConnectProxy();
    const backend = `${HIDDEN_HOST}:${s3Port}`;
    const viaProxy = await uploads({ [ENV.s3EndpointUrl]: `http://${backend}`, [ENV.httpProxy]: proxy.url });
    expect(viaProxy.uploaded).toBe(true);
    expect(new Set(proxy.tunnels)).toEqual(new Set([backend]));
    const onlyHttps = await uploads({ [ENV.s3EndpointUrl]: `http://${backend}`, [ENV.httpsProxy]: proxy.url });
    expect(onlyHttps.uploaded).toBe(false);
    expect(onlyHttps.log).toMatch(/ENOTFOUND|EAI_AGAIN/);
  }, 60_000);

  test('proxy credentials from the URL go as Proxy-Authorization; a refusal names the proxy, never the credentials', async () => {
    const proxy = await startConnectProxy({ user: 'uploader', password: 'p@ss:word' });
    const port = new URL(proxy.url).port;
    const env = { [ENV.s3EndpointUrl]: `https://${HIDDEN_HOST}:${tlsPort}`, [ENV.s3CaBundleFile]: ca.certFile };
    const ok = await uploads({ ...env, [ENV.httpsProxy]: `http://uploader:p%40ss%3Aword@127.0.0.1:${port}` });
    expect(ok.uploaded).toBe(true);
    expect(ok.log).not.toContain('p@ss');

    const wrong = await uploads({ ...env, [ENV.httpsProxy]: `http://uploader:guess@127.0.0.1:${port}` });
    expect(wrong.uploaded).toBe(false);
    expect(wrong.log).toContain(`proxy 127.0.0.1:${port}: CONNECT ${HIDDEN_HOST}:${tlsPort} refused: 407 Proxy Authentication Required`);
    expect(wrong.log).not.toContain('guess');
  }, 60_000);

  test('openTunnel: a proxy that is down fails with one message naming it', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    await expect(openTunnel(new URL(`http://127.0.0.1:${port}`), 'example.com', 443, 2000)).rejects.toThrow(`proxy 127.0.0.1:${port}: CONNECT example.com:443 failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  test('createAgents without a proxy or bundle gives plain keep-alive agents', () => {
    const { httpAgent, httpsAgent } = createAgents({ keepAlive: true, maxSockets: 3 });
    expect(httpAgent.maxSockets).toBe(3);
    expect(httpsAgent.maxSockets).toBe(3);
    expect((httpsAgent.options as { secureContext?: unknown }).secureContext).toBeUndefined();
  });
});

describe('NO_PROXY matching (Go\'s rules)', () => {
  test.each([
    // entry, host, port, bypass
    ['*', 's3.example.com', 443, true],
    ['example.com', 'example.com', 443, true],
    ['example.com', 's3.example.com', 443, true],
    ['example.com', 'notexample.com', 443, false],
    ['.example.com', 'example.com', 443, false],
    ['.example.com', 's3.example.com', 443, true],
    ['*.example.com', 's3.example.com', 443, true],
    ['*.example.com', 'example.com', 443, false],
    ['EXAMPLE.com', 's3.Example.COM', 443, true],
    ['example.com:9000', 'example.com', 9000, true],
    ['example.com:9000', 'example.com', 443, false],
    ['10.0.0.0/8', '10.1.2.3', 443, true],
    ['10.0.0.0/8', '11.1.2.3', 443, false],
    ['10.0.0.0/8', 'ten.example.com', 443, false],
    ['192.168.1.10', '192.168.1.10', 443, true],
    ['192.168.1.10:9000', '192.168.1.10', 443, false],
    ['fd00::/8', 'fd00::1', 443, true],
    ['fd00::/8', '[fd00::1]', 443, true],
    ['[fd00::1]:9000', 'fd00::1', 9000, true],
    ['.svc', 'minio.minio.svc', 9000, true],
    ['', 's3.example.com', 443, false],
    ['other.com', 'localhost', 443, true],
    ['other.com', '127.0.0.5', 443, true],
    ['other.com', '::1', 443, true],
  ])('NO_PROXY=%s, host %s:%d: direct %s', (entry, host, port, bypass) => {
    expect(new NoProxy(entry === '' ? [] : [entry]).bypasses(host, port)).toBe(bypass);
  });
});
