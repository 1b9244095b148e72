import { observe, readiness, readyAt, StabilityWindows } from '../../../agent/src/uploader/stability';

const w: StabilityWindows = { completeQuietMs: 2000, stableMs: 120_000, confirmMs: 1000 };
const ns = (ms: number) => BigInt(ms) * 1_000_000n;
const st = (size: number, mtimeMs: number, more: { ino?: bigint; ctimeMs?: number } = {}) =>
  ({ dev: 1n, ino: more.ino ?? 7n, size, mtimeNs: ns(mtimeMs), ctimeNs: ns(more.ctimeMs ?? mtimeMs) });

describe('stability', () => {
  it('a growing file is never ready, however often it is observed', () => {
    let obs;
    for (let t = 0; t < 300_000; t += 500) {
      obs = observe(obs, st(t, t), t);
      expect(readiness(obs, t, w)).toBe('wait');
    }
  });

  it('a file written at 0 and unchanged: short window after 2 s (confirmed), full window after 120 s', () => {
    let obs = observe(undefined, st(10, 0), 100);
    expect(readiness(obs, 100, w)).toBe('wait'); // first sighting is never enough
    expect(readiness(obs, 1099, w)).toBe('wait');
    obs = observe(obs, st(10, 0), 1500);
    expect(readiness(obs, 1500, w)).toBe('wait');
    expect(readiness(obs, 2000, w)).toBe('quiet-short');
    expect(readyAt(obs, w.completeQuietMs, w)).toBe(2000);
    expect(readiness(obs, 119_999, w)).toBe('quiet-short');
    expect(readiness(obs, 120_000, w)).toBe('quiet-full');
  });

  it('an old file found after a restart is quiet as soon as the second observation confirms it', () => {
    const obs = observe(undefined, st(10, 0), 1_000_000);
    expect(readiness(obs, 1_000_000, w)).toBe('wait');
    expect(readiness(obs, 1_001_000, w)).toBe('quiet-full');
  });

  it('any change (size, mtime, inode or ctime) restarts the clock', () => {
    let obs = observe(undefined, st(10, 0), 0);
    obs = observe(obs, st(10, 5000), 5000);
    expect(readiness(obs, 6000, w)).toBe('wait');
    expect(readiness(obs, 7000, w)).toBe('quiet-short');
    obs = observe(obs, st(10, 5000, { ino: 8n }), 7000);
    expect(obs.firstSeenAt).toBe(7000);
    expect(readiness(obs, 7500, w)).toBe('wait');
    // rewritten in place with its mtime put back (touch -d): only the ctime shows it
    obs = observe(obs, st(10, 5000, { ino: 8n, ctimeMs: 9000 }), 9000);
    expect(obs.firstSeenAt).toBe(9000);
    expect(readiness(obs, 9500, w)).toBe('wait');
  });

  it('an mtime in the future (clock skew) does not make a file ready early', () => {
    const obs = observe(undefined, st(10, 50_000), 0);
    expect(readiness(obs, 1500, w)).toBe('wait');
    expect(readiness(obs, 2000, w)).toBe('quiet-short'); // counted from our own first sighting
  });
});
