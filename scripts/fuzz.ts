/**
 * `npm run fuzz -- [--count N] [--seed S] [--max-records R]`: the long fuzz run of the HPROF analysis
 * and the completeness checks (test/agent/triage/fuzz.test.ts runs a fixed 140 cases in CI). Cases from
 * seeds S, S+1, ... (test/support/hprof-fuzz.ts), up to R tiny records each (default 6,000,000: past the
 * record budget), each checked by test/support/fuzz-checks.ts. Prints progress, every finding with its
 * seed (re-run one with --seed X --count 1), and exits 1 if there was any.
 */
import { parseArgs } from 'util';
import { checkCase } from '../test/support/fuzz-checks';
import { fuzzCase } from '../test/support/hprof-fuzz';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '2000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'max-records': { type: 'string', default: '6000000' },
  },
});

async function main(): Promise<number> {
  const count = Number(values.count);
  const first = Number(values.seed);
  const scale = { maxRecords: Number(values['max-records']), maxObjects: 200_000 };
  const findings: string[] = [];
  const byGenerator = new Map<string, number>();
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    const c = fuzzCase(first + i, scale);
    byGenerator.set(c.generator, (byGenerator.get(c.generator) ?? 0) + 1);
    const problems = await checkCase(c);
    for (const p of problems) console.log(`FINDING ${p}`);
    findings.push(...problems);
    if ((i + 1) % 100 === 0) console.error(`  ${i + 1}/${count} cases, ${findings.length} findings, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  console.log(`fuzz: ${count} cases from seed ${first} (${[...byGenerator].map(([g, n]) => `${g} ${n}`).join(', ')}), `
    + `up to ${scale.maxRecords} records each, ${((Date.now() - t0) / 1000).toFixed(0)} s: ${findings.length} findings`);
  return findings.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
