/**
 * Which lifecycle rules count as expiring the uploader's keys (pure), the rule `npm run bucket-lifecycle` writes,
 * and the check's verdicts (gauge and log lines) for a fake source. The real servers: protection.ceph.test.ts.
 */
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { memoryLogger } from '../../../agent/src/runtime/logger';
import { coveringRule, LifecycleCheck, retentionRule } from '../../../agent/src/uploader/lifecycle';

const KEYS = 'dumps/worker-1/';
const rule = (over: Partial<LifecycleRule>): LifecycleRule => ({ ID: 'r', Status: 'Enabled', Filter: { Prefix: 'dumps/' }, Expiration: { Days: 30 }, ...over });

test('the rule written for a prefix: expire after N days, abort unfinished uploads after 1, old versions after 1', () => {
  expect(retentionRule('dumps/', 14)).toEqual({
    ID: 'heapdump-pipeline-retention',
    Status: 'Enabled',
    Filter: { Prefix: 'dumps/' },
    Expiration: { Days: 14 },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    NoncurrentVersionExpiration: { NoncurrentDays: 1 },
  });
  expect(coveringRule([retentionRule('dumps/', 14)], KEYS, 14)?.ID).toBe('heapdump-pipeline-retention');
});

describe('a rule covers the node\'s keys when it is enabled, its prefix contains them and it expires within the days', () => {
  test.each<[string, LifecycleRule, boolean]>([
    ['the pipeline prefix', rule({}), true],
    ['the whole bucket (empty prefix)', rule({ Filter: { Prefix: '' } }), true],
    ['the whole bucket (empty filter)', rule({ Filter: {} }), true],
    ['the legacy top-level Prefix', rule({ Filter: undefined, Prefix: 'dumps/' }), true],
    ['an And filter with a prefix only', rule({ Filter: { And: { Prefix: 'dumps/w' } } }), true],
    ['sooner than required', rule({ Expiration: { Days: 7 } }), true],
    ['exactly this node', rule({ Filter: { Prefix: KEYS } }), true],
    ['disabled', rule({ Status: 'Disabled' }), false],
    ['later than required', rule({ Expiration: { Days: 31 } }), false],
    ['another prefix', rule({ Filter: { Prefix: 'other/' } }), false],
    ['a narrower prefix (one namespace)', rule({ Filter: { Prefix: `${KEYS}shop/` } }), false],
    ['a tag filter (not every object)', rule({ Filter: { Tag: { Key: 'heapdump-pipeline.io/namespace', Value: 'shop' } } }), false],
    ['an And filter with tags', rule({ Filter: { And: { Prefix: 'dumps/', Tags: [{ Key: 'k', Value: 'v' }] } } }), false],
    ['a size filter', rule({ Filter: { ObjectSizeGreaterThan: 1024 } }), false],
    ['an expiry by date', rule({ Expiration: { Date: new Date('2030-01-01') } }), false],
    ['no expiry (abort uploads only)', rule({ Expiration: undefined, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }), false],
  ])('%s -> %s', (_what, r, covers) => {
    expect(coveringRule([r], KEYS, 30) !== undefined).toBe(covers);
  });
  test('any one covering rule among others will do', () => {
    expect(coveringRule([rule({ ID: 'a', Status: 'Disabled' }), rule({ ID: 'b', Expiration: { Days: 3 } })], KEYS, 30)?.ID).toBe('b');
    expect(coveringRule([], KEYS, 30)).toBeUndefined();
  });
});

describe('the check', () => {
  const setup = (answers: Array<LifecycleRule[] | Error>) => {
    const logger = memoryLogger();
    const registry = new Registry();
    let now = 0;
    let calls = 0;
    // a fake client: what GetBucketLifecycleConfiguration answers, one answer per call
    const client = {
      send: async () => {
        const a = answers[Math.min(calls++, answers.length - 1)];
        if (a instanceof Error) throw a;
        return { Rules: a };
      },
    };
    const check = new LifecycleCheck({ bucket: 'b', client: client as never }, { keyPrefix: KEYS, retentionDays: 30, intervalMs: 1000 },
      { clock: { now: () => now, sleep: async () => undefined }, logger, registry });
    const gauge = async () => (await registry.getSingleMetric('heapdump_uploader_bucket_lifecycle_ok')!.get()).values[0]?.value;
    return { check, logger, gauge, advance: (ms: number) => { now += ms; }, calls: () => calls };
  };
  const s3Error = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  test('no rule: 0 and one warning; looked at again only after the interval; a rule applied later: 1 and one info line', async () => {
    const t = setup([[], [], [rule({})]]);
    await t.check.check();
    await t.check.check(); // within the interval: no request
    expect(t.calls()).toBe(1);
    expect(await t.gauge()).toBe(0);
    t.advance(1000);
    await t.check.check(); // again missing: no second warning
    expect(t.logger.events.filter((e) => e.level === 'warn').map((e) => e.msg)).toEqual(['no bucket lifecycle rule expires the dumps: they stay in S3 until someone deletes them']);
    t.advance(1000);
    await t.check.check();
    expect(await t.gauge()).toBe(1);
    expect(t.logger.events.filter((e) => e.msg === 'bucket lifecycle rule expires the dumps')).toHaveLength(1);
  });

  test('a bucket without lifecycle configuration (NoSuchLifecycleConfiguration) is "no rule"', async () => {
    const t = setup([s3Error('NoSuchLifecycleConfiguration', 404)]);
    await t.check.check();
    expect(await t.gauge()).toBe(0);
    expect(t.logger.events.filter((e) => e.level === 'warn')[0]).toMatchObject({ msg: 'no bucket lifecycle rule expires the dumps: they stay in S3 until someone deletes them', rules: 0 });
  });

  test('denied: a warning naming the permission, 0; not implemented (s3rver): a warning, 0', async () => {
    const denied = setup([s3Error('AccessDenied', 403)]);
    await denied.check.check();
    expect(await denied.gauge()).toBe(0);
    expect(denied.logger.events.find((e) => e.level === 'warn')).toMatchObject({ cause: 'AccessDenied', hint: expect.stringContaining('s3:GetLifecycleConfiguration') });
    const none = setup([s3Error('NotImplemented', 501)]);
    await none.check.check();
    expect(await none.gauge()).toBe(0);
    expect(none.logger.events.find((e) => e.level === 'warn')).toMatchObject({ cause: 'NotImplemented', hint: expect.stringContaining('does not implement') });
  });

  test('a transient error keeps the last verdict and asks again at the next call', async () => {
    const t = setup([[rule({})], s3Error('InternalError', 500), [rule({})]]);
    await t.check.check();
    t.advance(1000);
    await t.check.check();
    expect(await t.gauge()).toBe(1);
    await t.check.check(); // no interval wait after a transient failure
    expect(t.calls()).toBe(3);
    expect(t.logger.events.filter((e) => e.level === 'warn')).toEqual([]);
  });
});
