import { selectForRetention } from '../../../agent/src/uploader/retention';

const f = (id: string, size: number, mtimeMs: number, verified: boolean) => ({ id, size, mtimeMs, verified });

describe('selectForRetention', () => {
  it('does nothing when both limits are off', () => {
    expect(selectForRetention([f('a', 100, 0, true)], 1e9, { maxAgeMs: 0, maxBytes: 0 })).toEqual([]);
  });

  it('max age removes only verified dumps older than the limit', () => {
    const files = [f('old-up', 1, 0, true), f('old-not', 1, 0, false), f('new-up', 1, 900, true)];
    expect(selectForRetention(files, 1000, { maxAgeMs: 500, maxBytes: 0 })).toEqual(['old-up']);
  });

  it('max bytes removes the oldest verified dumps first until under the cap', () => {
    const files = [f('c', 100, 3, true), f('a', 100, 1, true), f('b', 100, 2, true)];
    expect(selectForRetention(files, 10, { maxAgeMs: 0, maxBytes: 150 })).toEqual(['a', 'b']);
  });

  it('never selects dumps not yet in S3, even when they alone exceed the cap', () => {
    const files = [f('up', 100, 5, true), f('big-pending', 1000, 0, false)];
    expect(selectForRetention(files, 10, { maxAgeMs: 0, maxBytes: 500 })).toEqual(['up']);
    expect(selectForRetention([f('p', 1000, 0, false)], 10, { maxAgeMs: 1, maxBytes: 1 })).toEqual([]);
  });
});
