/** Webhook notifications against loopback HTTP servers, with the agent's own HTTP client (node:http, agent/src/net/http-post.ts). */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import type { NotifyConfig, WebhookConfig } from '../../../agent/src/report/config';
import { NOTIFICATION_METRIC_NAMES as M } from '../../../agent/src/report/metrics';
import { createNotifier } from '../../../agent/src/report/notifier';
import { JSON_SCHEMA_ID, SLACK_LIMITS } from '../../../agent/src/report/webhook';
import { freePort } from '../../support/procs';
import { sampleReport } from './fixtures';
import { BASE_CONFIG, deps, metricValue } from './helpers';

interface Received { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; answered: number }

/** A loopback webhook receiver answering from a script (the last answer repeats); `hang` never answers. */
async function receiver(answers: Array<{ status: number; body?: string; headers?: Record<string, string> } | 'hang'>) {
  const received: Received[] = [];
  const script = [...answers];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = script.length > 1 ? script.shift()! : script[0];
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered: a === 'hang' ? 0 : a.status });
      if (a === 'hang') return;
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received,
    delivered: () => received.filter((r) => r.answered >= 200 && r.answered < 300),
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** The secret parts of the test URLs: none may ever appear in a log line. */
const SECRET_PATH = '/services/T0SECRET/B0SECRET/XsecretPathToken42';
const SECRET_QUERY = 'sig=querySecret99';
const SECRET_USER = 'hookuser';
const SECRET_PASS = 'p4ssw0rdSecret';
const SECRETS = ['T0SECRET', 'B0SECRET', 'XsecretPathToken42', 'querySecret99', SECRET_USER, SECRET_PASS];

function webhookConfig(url: string, extra: Partial<WebhookConfig> = {}, base: Partial<NotifyConfig> = {}): NotifyConfig {
  return { ...BASE_CONFIG, ...base, webhook: { url: { kind: 'env', url }, format: 'json', events: ['dump-uploaded', 'incomplete-dump-uploaded'], ...extra } };
}

function expectNoSecretIn(lines: unknown[]) {
  const text = JSON.stringify(lines);
  for (const s of SECRETS) expect(text).not.toContain(s);
  expect(text).not.toContain(encodeURIComponent(SECRET_PATH));
}

describe('webhook notifications', () => {
  test('a receiver that fails twice then succeeds gets exactly one delivered message, on the third attempt', async () => {
    const r = await receiver([{ status: 500, body: 'boom' }, { status: 502 }, { status: 200, body: 'ok' }]);
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${r.port}${SECRET_PATH}`, {}, { maxAttempts: 5 }), 'worker-1', d);
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect(r.received.map((x) => x.answered)).toEqual([500, 502, 200]);
      expect(r.delivered()).toHaveLength(1);
      // Every attempt is the same message, POSTed as JSON to the configured path.
      expect(new Set(r.received.map((x) => x.body)).size).toBe(1);
      expect(r.received.every((x) => x.method === 'POST' && x.url === SECRET_PATH && /^application\/json/.test(String(x.headers['content-type'])))).toBe(true);
      const doc = JSON.parse(r.delivered()[0].body);
      expect(doc).toMatchObject({
        schema: JSON_SCHEMA_ID, event: 'dump-uploaded', namespace: 'shop', pod: 'cart-7d9f8-abcde', node: 'worker-1',
        object: { uri: sampleReport().objectUri, size: 1610612736, sha256: 'ab'.repeat(32), complete: true },
        uploadedAt: '2026-11-30T01:02:03.456Z',
      });
      expect(doc.topClasses.map((c: { name: string }) => c.name)).toEqual(['byte[]', 'java.lang.String', 'com.example.shop.CartLine']);
      expect(doc.summary.uris).toEqual([`${sampleReport().objectUri}.summary.json`, `${sampleReport().objectUri}.summary.txt`]);
      expect(await metricValue(d.registry, M.retries, { channel: 'webhook' })).toBe(2);
      expect(await metricValue(d.registry, M.sent, { channel: 'webhook' })).toBe(1);
      expect(await metricValue(d.registry, M.failed, { channel: 'webhook' })).toBe(0);
      expect(d.logger.events.find((e) => e.msg === 'notification sent')).toMatchObject({ channel: 'webhook', attempts: 3, target: `http://127.0.0.1:${r.port}` });
      expectNoSecretIn(d.logger.events);
      await notifier.close();
    } finally {
      await r.close();
    }
  });

  test('Slack format: incoming-webhook `text` plus Block Kit blocks within Slack limits, data escaped', async () => {
    const r = await receiver([{ status: 200, body: 'ok' }]);
    try {
      const d = deps();
      const report = sampleReport({ complete: false, topClasses: [...sampleReport().topClasses, { name: 'Weird<&>Name', shallowBytes: 2 ** 40, instances: 1 }] });
      const notifier = createNotifier({ ...webhookConfig(`http://127.0.0.1:${r.port}/hook`, { format: 'slack' }), clusterName: 'prod & eu' }, 'worker-1', d);
      notifier.dumpUploaded(report);
      await notifier.idle();
      const msg = JSON.parse(r.delivered()[0].body) as { text: string; blocks: Array<Record<string, any>> };
      expect(Object.keys(msg).sort()).toEqual(['blocks', 'text']);
      expect(msg.text).toBe(`Incomplete heap dump from prod &amp; eu: shop/cart-7d9f8-abcde on worker-1 uploaded to \`${report.objectUri}\` (1.5 GiB)`);
      expect(msg.blocks.length).toBeGreaterThan(0);
      expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
      const types = msg.blocks.map((b) => b.type);
      expect(types).toEqual(['header', 'section', 'section', 'section', 'context']);
      for (const b of msg.blocks) {
        if (b.type === 'header') {
          expect(b.text.type).toBe('plain_text');
          expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
        }
        if (b.type === 'section') {
          expect(b.text !== undefined || b.fields !== undefined).toBe(true);
          if (b.text) {
            expect(b.text.type).toBe('mrkdwn');
            expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
          }
          for (const f of b.fields ?? []) {
            expect(f.type).toBe('mrkdwn');
            expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.field);
          }
          expect((b.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        }
        if (b.type === 'context') {
          expect(b.elements.length).toBeGreaterThan(0);
          expect(b.elements.length).toBeLessThanOrEqual(10);
        }
      }
      const all = JSON.stringify(msg.blocks);
      expect(all).toContain('Weird&lt;&amp;&gt;Name'); // escaped once
      expect(all).not.toContain('Weird<&>Name');
      expect(all).toContain('1.0 TiB');
      expect(all).not.toContain('com.example.shop.CartLine'); // only the top three
      expect(all).toContain('the file ends early');
      expect(all).toContain(`${report.objectUri}.summary.txt`);
      await notifier.close();
    } finally {
      await r.close();
    }
  });

  test('the URL\'s path, query and userinfo never reach the log, whatever fails', async () => {
    const echo = await receiver([{ status: 404, body: `Cannot POST ${SECRET_PATH}?${SECRET_QUERY}` }]);
    const hang = await receiver(['hang']);
    const closedPort = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hook-url-'));
    try {
      const cases: Array<{ name: string; config: NotifyConfig }> = [
        { name: '404 echoing the path', config: webhookConfig(`http://${SECRET_USER}:${SECRET_PASS}@127.0.0.1:${echo.port}${SECRET_PATH}?${SECRET_QUERY}`) },
        { name: 'connection refused', config: webhookConfig(`http://${SECRET_USER}:${SECRET_PASS}@127.0.0.1:${closedPort}${SECRET_PATH}?${SECRET_QUERY}`, {}, { maxAttempts: 2 }) },
        { name: 'timeout', config: webhookConfig(`http://127.0.0.1:${hang.port}${SECRET_PATH}?${SECRET_QUERY}`, {}, { maxAttempts: 2, timeoutMs: 200 }) },
      ];
      // A mounted Secret whose content is not a URL: the content is a secret too.
      writeFileSync(path.join(dir, 'url'), `not a url ${SECRET_PATH}\n`);
      cases.push({ name: 'file with garbage', config: { ...BASE_CONFIG, maxAttempts: 1, webhook: { url: { kind: 'file', path: path.join(dir, 'url') }, format: 'slack', events: ['dump-uploaded'] } } });

      for (const c of cases) {
        const d = deps();
        const notifier = createNotifier(c.config, 'worker-1', d);
        notifier.dumpUploaded(sampleReport());
        await notifier.idle();
        await notifier.close();
        const failure = d.logger.events.find((e) => e.msg === 'notification failed');
        expect({ case: c.name, failed: failure !== undefined }).toEqual({ case: c.name, failed: true });
        expectNoSecretIn(d.logger.events);
        // ... while the log still says where it went (scheme://host), so the test would see a silent log.
        if (c.name !== 'file with garbage') expect(JSON.stringify(d.logger.events)).toMatch(/"target":"http:\/\/127\.0\.0\.1:\d+"/);
      }
      // The userinfo went as Basic auth, not in the URL.
      expect(echo.received[0].headers.authorization).toBe('Basic ' + Buffer.from(`${SECRET_USER}:${SECRET_PASS}`).toString('base64'));
      expect(echo.received[0].url).toBe(`${SECRET_PATH}?${SECRET_QUERY}`);
    } finally {
      await echo.close();
      await hang.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('4xx answers other than 408/429 are not retried (Slack says why in a word)', async () => {
    const r = await receiver([{ status: 400, body: 'invalid_payload' }]);
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${r.port}/hook`), 'worker-1', d);
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect(r.received).toHaveLength(1);
      expect(d.logger.events.find((e) => e.msg === 'notification failed')).toMatchObject({ cause: 'HTTP 400', attempts: 1 });
      expect(String(d.logger.events.find((e) => e.msg === 'notification failed')?.error)).toContain('invalid_payload');
      expect(await metricValue(d.registry, M.failed, { channel: 'webhook' })).toBe(1);
      await notifier.close();
    } finally {
      await r.close();
    }
  });

  test('the URL file is re-read for every delivery (a rotated Secret applies without a restart)', async () => {
    const a = await receiver([{ status: 200 }]);
    const b = await receiver([{ status: 200 }]);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hook-url-'));
    try {
      const file = path.join(dir, 'url');
      writeFileSync(file, `http://127.0.0.1:${a.port}/a\n`);
      const d = deps();
      const notifier = createNotifier({ ...BASE_CONFIG, webhook: { url: { kind: 'file', path: file }, format: 'json', events: ['dump-uploaded'] } }, 'worker-1', d);
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      writeFileSync(file, `http://127.0.0.1:${b.port}/b\n`);
      notifier.dumpUploaded(sampleReport());
      await notifier.idle();
      expect([a.received.length, b.received.length]).toEqual([1, 1]);
      await notifier.close();
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('only the subscribed events are posted', async () => {
    const r = await receiver([{ status: 200 }]);
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${r.port}/hook`, { events: ['incomplete-dump-uploaded'] }), 'worker-1', d);
      notifier.dumpUploaded(sampleReport({ complete: true }));
      notifier.dumpUploaded(sampleReport({ complete: false }));
      await notifier.idle();
      expect(r.received.map((x) => JSON.parse(x.body).event)).toEqual(['incomplete-dump-uploaded']);
      await notifier.close();
    } finally {
      await r.close();
    }
  });
});

describe('never blocking uploads, bounded, and a bounded shutdown', () => {
  test('the queue bound holds: the oldest are dropped and counted, the newest delivered', async () => {
    // The receiver holds the first request until the test releases it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const bodies: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        bodies.push(body);
        if (bodies.length === 1) await gate;
        res.writeHead(200);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, {}, { queueSize: 3 }), 'worker-1', d);
      const started = Date.now();
      for (let i = 0; i < 10; i++) notifier.dumpUploaded(sampleReport({ pod: `pod-${i}` }));
      expect(Date.now() - started).toBeLessThan(100); // queued, not sent
      while (bodies.length === 0) await new Promise((r) => setTimeout(r, 5));
      release();
      await notifier.idle();
      // pod-0 was in flight; of the 9 queued behind it, 3 fit: pod-7..9 (the 6 oldest dropped).
      expect(bodies.map((b) => JSON.parse(b).pod)).toEqual(['pod-0', 'pod-7', 'pod-8', 'pod-9']);
      expect(await metricValue(d.registry, M.dropped, { channel: 'webhook', reason: 'queue_full' })).toBe(6);
      expect(d.logger.events.filter((e) => e.msg === 'notification queue full: oldest dropped').map((e) => e.pod))
        .toEqual(['pod-1', 'pod-2', 'pod-3', 'pod-4', 'pod-5', 'pod-6']);
      await notifier.close();
    } finally {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  });

  test('at shutdown, pending deliveries get the grace period, then are dropped with one log line', async () => {
    const hang = await receiver(['hang']);
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${hang.port}/hook`, {}, { shutdownGraceMs: 300, timeoutMs: 60_000 }), 'worker-1', d);
      for (let i = 0; i < 3; i++) notifier.dumpUploaded(sampleReport({ pod: `pod-${i}` }));
      while (hang.received.length === 0) await new Promise((r) => setTimeout(r, 5));
      const t0 = Date.now();
      d.shutdown.abort(); // the agent's shutdown signal starts the grace
      await notifier.close();
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3000);
      expect(d.logger.events.filter((e) => e.msg === 'notifications dropped at shutdown')).toEqual([
        expect.objectContaining({ level: 'warn', channel: 'webhook', count: 3 }),
      ]);
      expect(await metricValue(d.registry, M.dropped, { channel: 'webhook', reason: 'shutdown' })).toBe(3);
      // After the grace, a late report is dropped at once (and counted), never queued.
      notifier.dumpUploaded(sampleReport());
      expect(await metricValue(d.registry, M.dropped, { channel: 'webhook', reason: 'shutdown' })).toBe(4);
      expect(hang.received).toHaveLength(1);
    } finally {
      await hang.close();
    }
  });

  test('a delivery that finishes within the grace is not dropped', async () => {
    const r = await receiver([{ status: 500 }, { status: 200 }]);
    try {
      const d = deps();
      const notifier = createNotifier(webhookConfig(`http://127.0.0.1:${r.port}/hook`, {}, { shutdownGraceMs: 5000 }), 'worker-1', d);
      notifier.dumpUploaded(sampleReport());
      const t0 = Date.now();
      await notifier.close();
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(r.delivered()).toHaveLength(1);
      expect(d.logger.events.some((e) => e.msg === 'notifications dropped at shutdown')).toBe(false);
    } finally {
      await r.close();
    }
  });
});
