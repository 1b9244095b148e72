/** Self-test of the process helpers: output capture, stop by PID, disposeAll, free ports, clear spawn errors. */
import * as net from 'net';
import { disposeAll, freePort, pidAlive, registerCleanup, runTracked, spawnTracked, stopPid } from '../support/procs';

describe('process helpers', () => {
  afterAll(disposeAll);

  it('keeps stdout/stderr lines and the exit code', async () => {
    const r = await runTracked('bash', ['-c', 'echo one; echo two; echo err >&2; exit 3']);
    expect(r).toEqual({ stdout: 'one\ntwo', stderr: 'err', code: 3 });
  });

  it('dispose stops a process that ignores SIGTERM with SIGKILL after the grace', async () => {
    const p = spawnTracked('bash', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done']);
    while (p.stdout.length === 0) await new Promise((r) => setTimeout(r, 20));
    const info = await p.dispose(300);
    expect(info.signal).toBe('SIGKILL');
    expect(pidAlive(p.pid)).toBe(false);
  });

  it('disposeAll stops every registered process and runs cleanups newest first', async () => {
    const a = spawnTracked('sleep', ['30']);
    const b = spawnTracked('sleep', ['30']);
    const order: string[] = [];
    registerCleanup(async () => void order.push('first'));
    registerCleanup(async () => void order.push('second'));
    await disposeAll();
    expect(pidAlive(a.pid)).toBe(false);
    expect(pidAlive(b.pid)).toBe(false);
    expect(order).toEqual(['second', 'first']);
  });

  it('stopPid stops a process by PID', async () => {
    const p = spawnTracked('sleep', ['30'], { register: false });
    await stopPid(p.pid, 2000);
    expect(pidAlive(p.pid)).toBe(false);
    expect((await p.exited).signal).toBe('SIGTERM');
  });

  it('freePort returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((r) => srv.close(r));
  });

  it('a missing command is one clear error', () => {
    expect(() => spawnTracked('/nonexistent/cmd', [])).toThrow(/could not start '\/nonexistent\/cmd'/);
  });
});
