/**
 * A world for the heapdumps API server: a fake Kubernetes API server (users, RBAC rules, the requestheader
 * ConfigMap), real TLS everywhere (a serving CA, the requestheader client CA and the front proxy's client
 * certificate), a real S3 server with dumps put there as the uploader writes them (key layout, metadata,
 * summary and leak report), the API server itself (in-process through its own config resolver and runApi, or
 * as a process by the caller) and the aggregation layer's stand-in in front of it.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { runApi } from '../../agent/src/api/command';
import { type Env, resolveConfig } from '../../agent/src/config';
import { COMMANDS, ENV } from '../../agent/src/contract';
import { StuckReads } from '../../agent/src/fs/stuck-io';
import { systemClock } from '../../agent/src/runtime/clock';
import { Lifecycle } from '../../agent/src/runtime/lifecycle';
import { memoryLogger } from '../../agent/src/runtime/logger';
import { createRegistry } from '../../agent/src/runtime/metrics';
import { type Aggregator, startAggregator } from './aggregator';
import { type FakeKubeApi, type FakeUser, startFakeKubeApi } from './kube-api-server';
import { freePort, registerCleanup } from './procs';
import { s3Env, type S3Server } from './s3';
import { type ClientCert, issueClientCert, issueServerCert, makeCa, type ServerCert, type TestCa } from './tls';

export const SA_TOKEN = 'the-api-servers-own-serviceaccount-token';

export interface Pki {
  readonly dir: string;
  /** Signs every serving certificate (the API's, the aggregator's). */
  readonly servingCa: TestCa;
  readonly apiCert: ServerCert;
  readonly aggregatorCert: ServerCert;
  /** The requestheader client CA and the front proxy's certificate. */
  readonly requestHeaderCa: TestCa;
  readonly frontProxy: ClientCert;
}

export function makePki(): Pki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api-pki-'));
  registerCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const servingDir = path.join(dir, 'serving');
  const rhDir = path.join(dir, 'requestheader');
  for (const d of [servingDir, rhDir]) require('fs').mkdirSync(d);
  const servingCa = makeCa(servingDir, 'serving CA');
  const requestHeaderCa = makeCa(rhDir, 'front-proxy-ca');
  return {
    dir,
    servingCa,
    apiCert: issueServerCert(servingCa, servingDir, ['localhost', 'heapdump-api.heapdump-system.svc'], 'api'),
    aggregatorCert: issueServerCert(servingCa, servingDir, ['localhost'], 'aggregator'),
    requestHeaderCa,
    frontProxy: issueClientCert(requestHeaderCa, rhDir, 'front-proxy-client', 'front-proxy'),
  };
}

/** The ConfigMap kube-apiserver publishes for aggregated servers. */
export function authConfigMapData(pki: Pki, allowedNames: readonly string[] = ['front-proxy-client']): Record<string, string> {
  return {
    'requestheader-client-ca-file': pki.requestHeaderCa.certPem,
    'requestheader-allowed-names': JSON.stringify(allowedNames),
    'requestheader-username-headers': JSON.stringify(['X-Remote-User']),
    'requestheader-group-headers': JSON.stringify(['X-Remote-Group']),
    'requestheader-extra-headers-prefix': JSON.stringify(['X-Remote-Extra-']),
  };
}

/** A ServiceAccount credentials folder (token, ca.crt) for the API server's own calls. */
export function credentialsDir(kube: FakeKubeApi): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'api-sa-'));
  registerCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'token'), `${SA_TOKEN}\n`);
  writeFileSync(path.join(dir, 'ca.crt'), kube.certs.ca);
  return dir;
}

export interface SeededDump {
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  readonly body: Buffer;
  /** Computed here, independently of the agent. */
  readonly sha256: string;
}

/** Puts a dump as the uploader stores it (metadata, and optionally its summary and leak report). */
export async function putDump(s3: S3Server, o: { prefix: string; node: string; namespace: string; pod: string; file: string; body: Buffer; complete?: boolean; summary?: unknown; leaks?: unknown; summaryText?: string; leaksText?: string }): Promise<SeededDump> {
  const key = `${o.prefix}${o.node}/${o.namespace}/${o.pod}/${o.file}`;
  const sha256 = createHash('sha256').update(o.body).digest('hex');
  const client = s3.client();
  try {
    await client.send(new PutObjectCommand({
      Bucket: s3.bucket, Key: key, Body: o.body, ContentLength: o.body.length,
      Metadata: { node: o.node, namespace: o.namespace, pod: o.pod, sha256, complete: String(o.complete ?? true), 'original-size': String(o.body.length), 'modified-time': '2026-11-30T01:02:03.456Z' },
    }));
    const sidecars: Array<[string, string | undefined]> = [
      ['.summary.json', o.summary === undefined ? undefined : JSON.stringify(o.summary)], ['.leaks.json', o.leaks === undefined ? undefined : JSON.stringify(o.leaks)],
      ['.summary.txt', o.summaryText], ['.leaks.txt', o.leaksText],
    ];
    for (const [suffix, doc] of sidecars) {
      if (doc === undefined) continue;
      const text = Buffer.from(doc);
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key + suffix, Body: text, ContentLength: text.length, ContentType: suffix.endsWith('.json') ? 'application/json' : 'text/plain' }));
    }
  } finally {
    client.destroy();
  }
  return { key, namespace: o.namespace, pod: o.pod, body: o.body, sha256 };
}

/** The agent's environment for `api` against this world (what the constructs set, with test paths and ports). */
export function apiEnv(o: { s3: S3Server; prefix: string; kube: FakeKubeApi; pki: Pki; credentials: string; httpsPort: number; webMode?: string; webPort?: number; extra?: Env }): Record<string, string> {
  return {
    ...s3Env(o.s3),
    [ENV.s3Prefix]: o.prefix,
    [ENV.nodeName]: 'api-node',
    [ENV.httpHost]: '127.0.0.1',
    [ENV.httpPort]: '0',
    [ENV.apiHttpsPort]: String(o.httpsPort),
    [ENV.apiTlsCertFile]: o.pki.apiCert.certFile,
    [ENV.apiTlsKeyFile]: o.pki.apiCert.keyFile,
    [ENV.apiKubeUrl]: o.kube.url,
    [ENV.apiKubeCredentialsDir]: o.credentials,
    [ENV.apiWebMode]: o.webMode ?? 'off',
    [ENV.apiWebPort]: String(o.webPort ?? 0),
    [ENV.logLevel]: 'debug',
    ...Object.fromEntries(Object.entries(o.extra ?? {}).filter((e): e is [string, string] => e[1] !== undefined)),
  };
}

export interface InProcessApi {
  readonly url: string;
  readonly events: ReturnType<typeof memoryLogger>['events'];
  readonly registry: ReturnType<typeof createRegistry>;
  stop(): Promise<void>;
}

/** runApi in this process, exactly as main.ts wires it (config from the environment, shutdown steps in order). */
export async function startApiInProcess(env: Record<string, string>): Promise<InProcessApi> {
  const resolved = resolveConfig(COMMANDS.api, env);
  if (resolved.command !== COMMANDS.api) throw new Error('not the api config');
  const config = resolved.config;
  const logger = memoryLogger();
  const lifecycle = new Lifecycle(logger);
  const registry = createRegistry({ node: config.nodeName, command: COMMANDS.api });
  const done = runApi(config, {
    logger, clock: systemClock, registry, signal: lifecycle.signal,
    setReady: (r, why) => lifecycle.setReady(r, why),
    onShutdown: (n, s) => lifecycle.onShutdown(n, s),
    heartbeat: (l, m) => lifecycle.heartbeat(l, m),
    stuckReads: new StuckReads(),
  });
  const deadline = Date.now() + 15_000;
  while (!lifecycle.ready.ready) {
    if (Date.now() > deadline) throw new Error(`api did not get ready: ${JSON.stringify(logger.events.slice(-5))}`);
    await Promise.race([done, new Promise((r) => setTimeout(r, 20))]);
  }
  const stop = async () => {
    lifecycle.abort();
    await done;
    await lifecycle.runShutdownSteps();
  };
  registerCleanup(stop);
  return { url: `https://127.0.0.1:${env[ENV.apiHttpsPort]}`, events: logger.events, registry, stop };
}

export interface World {
  readonly kube: FakeKubeApi;
  readonly pki: Pki;
  readonly credentials: string;
  readonly aggregator: Aggregator;
  /** Set by the caller once the API server runs. */
  backendUrl: string;
}

export async function startWorld(o: { authorize?: boolean; userCa?: string; projects?: (user: FakeUser) => string[] } = {}): Promise<World> {
  const kube = await startFakeKubeApi();
  registerCleanup(() => kube.close());
  const pki = makePki();
  kube.authConfigMap = authConfigMapData(pki);
  kube.serviceAccountToken = SA_TOKEN;
  const world: World = {
    kube, pki, credentials: credentialsDir(kube), backendUrl: '',
    aggregator: undefined as unknown as Aggregator,
  };
  const aggregator = await startAggregator({
    kube, serverCert: pki.aggregatorCert, clientCert: pki.frontProxy,
    backend: () => ({ url: world.backendUrl, ca: pki.servingCa.certPem }),
    ...(o.authorize !== undefined ? { authorize: o.authorize } : {}),
    ...(o.userCa !== undefined ? { userCa: o.userCa } : {}),
    routes: {
      // What kubectl's discovery asks besides /apis (which the aggregator stand-in forwards to the backend).
      '/version': () => ({ status: 200, body: { major: '1', minor: '30', gitVersion: 'v1.30.0', platform: 'linux/amd64' } }),
      '/api': () => ({ status: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] } }),
      '/api/v1': () => ({ status: 200, body: { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: ['list'] }] } }),
      '/api/v1/namespaces/team-a/events': () => ({ status: 200, body: { kind: 'EventList', apiVersion: 'v1', metadata: {}, items: [] } }),
      // OpenShift's project list: the projects a user may see (the plugin's fallback for `ls -A`); 404 = not OpenShift.
      '/apis/project.openshift.io/v1/projects': (user) => (o.projects === undefined
        ? { status: 404, body: { kind: 'Status', code: 404 } }
        : { status: 200, body: { kind: 'ProjectList', apiVersion: 'project.openshift.io/v1', items: o.projects(user).map((name) => ({ metadata: { name } })) } }),
    },
  });
  registerCleanup(() => aggregator.close());
  (world as { aggregator: Aggregator }).aggregator = aggregator;
  return world;
}

export { freePort };

/** Lets another uid (the image's 1001) read what a test made in its 0700 temp folders. */
export function shareWithAnyUser(...dirs: string[]): void {
  for (const dir of dirs) {
    chmodSync(dir, 0o755);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) shareWithAnyUser(p);
      else chmodSync(p, 0o644);
    }
  }
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTPS request; `raw` paths are sent exactly as given (no normalisation of dots or encoding). */
export function request(url: string, rawPath: string, o: { token?: string; headers?: Record<string, string | string[]>; method?: string; ca: string; cert?: ClientCert; body?: string }): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: u.hostname, port: u.port, method: o.method ?? 'GET', path: rawPath, ca: o.ca, agent: false,
      ...(o.cert !== undefined ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}),
      headers: { ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body.toString('utf8')) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
