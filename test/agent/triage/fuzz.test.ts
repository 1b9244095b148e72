/**
 * The HPROF/gzip fuzzing in CI: a fixed number of cases from fixed seeds (test/support/hprof-fuzz.ts:
 * random damage, colliding ids, millions of tiny records, deep stacks, lying lengths, gzip bombs),
 * each checked against a reference walk (test/support/fuzz-checks.ts). The long run is
 * `npm run fuzz -- --count N` (scripts/fuzz.ts), with larger cases.
 */
import { GENERATORS, fuzzCase } from '../../support/hprof-fuzz';
import { checkCase } from '../../support/fuzz-checks';

const COUNT = 140;

test(`${COUNT} adversarial HPROF and gzip streams: the completeness checks agree with the reference, the analysis never throws, never claims too much, stays linear`, async () => {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let seed = 1; seed <= COUNT; seed++) {
    const c = fuzzCase(seed);
    seen.add(c.generator);
    problems.push(...(await checkCase(c)));
  }
  expect([...seen].sort()).toEqual([...GENERATORS].sort());
  expect(problems).toEqual([]);
}, 300_000);
