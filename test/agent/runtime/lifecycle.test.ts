import { Lifecycle } from '../../../agent/src/runtime/lifecycle';
import { memoryLogger } from '../../../agent/src/runtime/logger';

describe('Lifecycle', () => {
  test('readiness starts false and follows setReady, logging changes only', () => {
    const log = memoryLogger();
    const l = new Lifecycle(log);
    expect(l.ready).toEqual({ ready: false, reason: 'starting' });
    l.setReady(true);
    l.setReady(true);
    expect(l.ready).toEqual({ ready: true });
    l.setReady(false, 'remount failed');
    expect(l.ready).toEqual({ ready: false, reason: 'remount failed' });
    expect(log.events.map((e) => e.msg)).toEqual(['ready', 'not ready']);
  });

  test('abort is idempotent and aborts the signal', () => {
    const l = new Lifecycle(memoryLogger());
    let aborts = 0;
    l.signal.addEventListener('abort', () => aborts++);
    l.abort();
    l.abort();
    expect(l.signal.aborted).toBe(true);
    expect(aborts).toBe(1);
  });

  test('steps run once, one at a time, in registration order; a failing step does not stop the rest', async () => {
    const log = memoryLogger();
    const l = new Lifecycle(log);
    const order: string[] = [];
    l.onShutdown('a', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('a');
    });
    l.onShutdown('b', () => {
      throw new Error('boom');
    });
    l.onShutdown('c', () => void order.push('c'));
    expect(await l.runShutdownSteps()).toBe(false);
    expect(order).toEqual(['a', 'c']);
    expect(log.events.filter((e) => e.msg === 'shutdown step failed')).toEqual([
      expect.objectContaining({ step: 'b', error: { name: 'Error', message: 'boom' } }),
    ]);
    expect(await l.runShutdownSteps()).toBe(true); // nothing left to run
    expect(order).toEqual(['a', 'c']);
  });
});

describe('Lifecycle health (loop heartbeats)', () => {
  test('healthy with no heartbeats; unhealthy once a reporting loop is silent past its limit; healthy again on the next beat', () => {
    let now = 1_000;
    const l = new Lifecycle(memoryLogger(), () => now);
    expect(l.health).toEqual({ healthy: true });
    l.heartbeat('guard', 500);
    now += 500;
    expect(l.health).toEqual({ healthy: true });
    now += 1;
    expect(l.health).toEqual({ healthy: false, reason: 'loop guard silent for 501 ms (limit 500 ms)' });
    l.heartbeat('guard', 500);
    expect(l.health).toEqual({ healthy: true });
  });
});
