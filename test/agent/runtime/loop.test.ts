import { sleep, systemClock } from '../../../agent/src/runtime/clock';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { runLoop } from '../../../agent/src/runtime/loop';

describe('runLoop', () => {
  test('steps never overlap, even when a step takes longer than the interval; stops on abort', async () => {
    const controller = new AbortController();
    let active = 0;
    let maxActive = 0;
    let steps = 0;
    const done = runLoop({ intervalMs: 5, signal: controller.signal, clock: systemClock, logger: memoryLogger() }, async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(20);
      active--;
      steps++;
    });
    await sleep(150);
    controller.abort();
    await done;
    const after = steps;
    await sleep(50);
    expect(maxActive).toBe(1);
    expect(after).toBeGreaterThanOrEqual(3);
    expect(steps).toBe(after); // nothing runs after the loop resolved
  });

  test('a throwing step is logged and the loop goes on', async () => {
    const controller = new AbortController();
    const log = memoryLogger();
    let calls = 0;
    const done = runLoop({ intervalMs: 1, signal: controller.signal, clock: systemClock, logger: log }, async () => {
      calls++;
      if (calls === 1) throw new Error('first fails');
      if (calls === 3) controller.abort();
    });
    await done;
    expect(calls).toBe(3);
    expect(log.events.filter((e) => e.level === 'error')).toEqual([expect.objectContaining({ msg: 'loop step failed', error: { name: 'Error', message: 'first fails' } })]);
  });

  test('abort during the sleep ends the loop at once', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const done = runLoop({ intervalMs: 60_000, signal: controller.signal, clock: systemClock, logger: memoryLogger() }, async () => undefined);
    await sleep(20);
    controller.abort();
    await done;
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
