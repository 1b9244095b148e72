/** A report as the uploader would pass it after a verified upload. */
import type { DumpReport } from '../../../agent/src/report/report';

export const UPLOADED_AT = Date.UTC(2026, 10, 30, 1, 2, 3, 456);

export function sampleReport(overrides: Partial<DumpReport> = {}): DumpReport {
  const key = 'dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1.2026-11-30T01-00-00.000Z.hprof';
  return {
    namespace: 'shop',
    pod: 'cart-7d9f8-abcde',
    node: 'worker-1',
    objectUri: `s3://heap-dumps/${key}`,
    key,
    size: 1610612736, // 1.5 GiB
    sha256: 'ab'.repeat(32),
    complete: true,
    summaryKeys: [`${key}.summary.json`, `${key}.summary.txt`],
    topClasses: [
      { name: 'java.lang.String', shallowBytes: 64 * 2 ** 20, instances: 2_796_202 },
      { name: 'byte[]', shallowBytes: 812 * 2 ** 20, instances: 1024 },
      { name: 'com.example.shop.CartLine', shallowBytes: 12 * 2 ** 20, instances: 12_345 },
      { name: 'java.util.HashMap$Node', shallowBytes: 3 * 2 ** 20, instances: 98_304 },
    ],
    uploadedAt: UPLOADED_AT,
    ...overrides,
  };
}
