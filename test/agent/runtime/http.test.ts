import { Counter, Registry } from 'prom-client';
import { startHttpServer, type RunningHttpServer } from '../../../agent/src/runtime/http';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { createRegistry } from '../../../agent/src/runtime/metrics';

describe('HTTP server', () => {
  let server: RunningHttpServer;
  let ready = { ready: false, reason: 'starting' } as { ready: boolean; reason?: string };
  let health = { healthy: true } as { healthy: boolean; reason?: string };
  let registry: Registry;

  beforeAll(async () => {
    registry = createRegistry({ node: 'n1' });
    new Counter({ name: 'test_things_total', help: 'things', registers: [registry] }).inc(3);
    server = await startHttpServer({ host: '127.0.0.1', port: 0, registry, readiness: () => ready, health: () => health, logger: memoryLogger() });
  });
  afterAll(() => server.close());

  const get = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${server.port}${p}`, init);

  test('/healthz is 200, and 503 with the reason when a loop is stuck', async () => {
    expect((await get('/healthz')).status).toBe(200);
    health = { healthy: false, reason: 'loop x silent' };
    const r = await get('/healthz');
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ healthy: false, reason: 'loop x silent' });
    health = { healthy: true };
  });

  test('/readyz follows readiness: 503 with the reason, then 200', async () => {
    const r1 = await get('/readyz');
    expect(r1.status).toBe(503);
    expect(await r1.json()).toEqual({ ready: false, reason: 'starting' });
    ready = { ready: true };
    expect((await get('/readyz')).status).toBe(200);
  });

  test('/metrics is Prometheus text with default process metrics and our labels', async () => {
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const text = await r.text();
    expect(text).toMatch(/^test_things_total\{node="n1"\} 3$/m);
    expect(text).toMatch(/^heapdump_agent_process_resident_memory_bytes\{node="n1"\} \d+/m);
  });

  test('unknown path 404, other methods 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/healthz', { method: 'POST' })).status).toBe(405);
  });

  test('a port in use is an error', async () => {
    await expect(startHttpServer({ host: '127.0.0.1', port: server.port, registry, readiness: () => ready, logger: memoryLogger() })).rejects.toThrow(/EADDRINUSE/);
  });
});
