import * as http from 'http';
import type { AddressInfo } from 'net';
import { startFaultProxy } from '../support/fault-proxy';

/** A real loopback upstream that echoes method, path and body length. */
async function startEcho(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, path: req.url, bytes: n })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => new Promise((r) => server.close(() => r())) };
}

async function send(endpoint: string, body: string): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(`${endpoint}/bucket/key?x=1`, { method: 'PUT', body });
  return { status: res.status, text: await res.text(), ms: Date.now() - t0 };
}

describe('fault proxy', () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  beforeAll(async () => (echo = await startEcho()));
  afterAll(async () => echo.close());

  test('forwards untouched when no faults are configured', async () => {
    const proxy = await startFaultProxy({ target: echo.url });
    try {
      const r = await send(proxy.endpoint, 'hello world');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ method: 'PUT', path: '/bucket/key?x=1', bytes: 11 });
      expect(proxy.stats).toMatchObject({ requests: 1, forwarded: 1, error500: 0, error503: 0 });
    } finally {
      await proxy.close();
    }
  });

  test('answers injected 500s itself, without reaching the server', async () => {
    const proxy = await startFaultProxy({ target: echo.url, error500: 1 });
    const before = echo.hits();
    try {
      const r = await send(proxy.endpoint, 'x'.repeat(100_000));
      expect(r.status).toBe(500);
      expect(r.text).toContain('<Code>InternalError</Code>');
      expect(echo.hits()).toBe(before);
    } finally {
      await proxy.close();
    }
  });

  test('injects a seeded fraction of 503s and delays, reproducibly', async () => {
    const run = async () => {
      const proxy = await startFaultProxy({ target: echo.url, error503: 0.3, slow: 0.2, delayMs: 150, seed: 7 });
      const statuses: number[] = [];
      let slowSeen = 0;
      try {
        for (let i = 0; i < 40; i++) {
          const r = await send(proxy.endpoint, 'b');
          statuses.push(r.status);
          if (r.status === 200 && r.ms >= 140) slowSeen++;
        }
        return { statuses, slowSeen, stats: { ...proxy.stats } };
      } finally {
        await proxy.close();
      }
    };
    const a = await run();
    const b = await run();
    expect(a.statuses).toEqual(b.statuses);
    const n503 = a.statuses.filter((s) => s === 503).length;
    expect(n503).toBe(a.stats.error503);
    expect(n503).toBeGreaterThan(4);
    expect(n503).toBeLessThan(20);
    expect(a.stats.slowed).toBeGreaterThan(2);
    expect(a.slowSeen).toBeGreaterThanOrEqual(a.stats.slowed);
    expect(a.statuses.every((s) => s === 200 || s === 503)).toBe(true);
  });
});
