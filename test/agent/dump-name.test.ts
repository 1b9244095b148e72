import { createHash } from 'crypto';
import { dumpName, DUMP_NAME_PATTERN, isDumpName } from '../../agent/src/dump-name';

/** Independent of the module: the first 12 hex digits of sha256(key). */
const hash12 = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('dumpName', () => {
  test('the pipeline layout: pod folder, occurrence stamp, hash of the whole key', () => {
    const key = 'memory-leak-demo/worker-1/orders/orders-api-6f7c9d8b5-x7k2p/java_pid1.2026-11-30T01-02-03.456Z.hprof';
    expect(dumpName(key)).toBe(`orders-api-6f7c9d8b5-x7k2p.20261130-010203.${hash12(key)}`);
  });

  test('stable and different for every key (prefix, node, a content tag or gzip suffix change the hash)', () => {
    const base = 'p/n/ns/pod/java_pid1.2026-11-30T01-02-03.456Z.hprof';
    const keys = [base, `x${base}`, base.replace('/n/', '/m/'), base.replace('.hprof', '.a1b2c3d4e5f6.hprof'), `${base}.gz`];
    const names = keys.map(dumpName);
    expect(new Set(names).size).toBe(keys.length);
    expect(keys.map(dumpName)).toEqual(names);
    for (const [i, k] of keys.entries()) expect(names[i].endsWith(`.${hash12(k)}`)).toBe(true);
  });

  test('hostile or odd folder names give a valid, URL-safe object name of at most 253 characters', () => {
    const odd = [
      'p/n/ns/Pod.With.Dots/f.hprof', 'p/n/ns/%2E%2E%2Fteam-b/f.hprof', 'p/n/ns/../f.hprof', 'p/n/ns/ünïcødé/f.hprof',
      'p/n/ns/---/f.hprof', `p/n/ns/${'a'.repeat(300)}/f.hprof`, 'f.hprof', '', 'p/n/ns/pod/', 'p/n/ns/a b;rm -rf/ x.hprof',
      'p/n/ns/pod/java_pid1.2026-11-30T01-02-03.456Z.2026-12-01T00-00-00.000Z.hprof',
    ];
    for (const key of odd) {
      const name = dumpName(key);
      expect({ key, ok: DNS1123_SUBDOMAIN.test(name) && name.length <= 253 && encodeURIComponent(name) === name && isDumpName(name) })
        .toEqual({ key, ok: true });
    }
    expect(dumpName('p/n/ns/Pod.With.Dots/f.hprof')).toMatch(/^pod-with-dots\.[0-9a-f]{12}$/);
    expect(dumpName('p/n/ns/---/f.hprof')).toMatch(/^dump\.[0-9a-f]{12}$/);
    expect(dumpName(`p/n/ns/${'a'.repeat(300)}/f.hprof`)).toBe(`${'a'.repeat(200)}.${hash12(`p/n/ns/${'a'.repeat(300)}/f.hprof`)}`);
    // the last stamp in the file name is the occurrence (a content tag may follow it)
    expect(dumpName('p/n/ns/pod/java_pid1.2026-11-30T01-02-03.456Z.2026-12-01T00-00-00.000Z.hprof')).toMatch(/^pod\.20261201-000000\./);
  });

  test('isDumpName accepts exactly the shape: no traversal, no encoding, no upper case, no missing hash', () => {
    for (const good of ['pod.20261130-010203.0123456789ab', 'a.0123456789ab', 'dump.ffffffffffff']) expect(isDumpName(good)).toBe(true);
    const bad = [
      '', '..', '.', 'pod', 'pod.0123456789a', 'pod.0123456789abc', 'Pod.0123456789ab', 'pod.0123456789AB', '-pod.0123456789ab',
      'pod-.0123456789ab', 'po/d.0123456789ab', 'pod.2026113-010203.0123456789ab', '%2e%2e.0123456789ab', 'pod..0123456789ab',
      'pod.20261130-010203.0123456789ab/download', `${'a'.repeat(201)}.0123456789ab`, 'pod.0123456789ab\n',
    ];
    for (const b of bad) expect({ b, ok: isDumpName(b) }).toEqual({ b, ok: false });
    expect(DUMP_NAME_PATTERN.flags).toBe('');
  });
});
