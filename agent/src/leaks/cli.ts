/**
 * `node agent.js analyze FILE [--json] [--threshold PERCENT] [--memory-budget BYTES] [--time-budget SECONDS]`:
 * the leak report of a dump on local disk (`*.hprof`, `*.hprof.gz`), as text (the `<key>.leaks.txt` the
 * analyzer writes) or as the JSON document. The analyzer command runs exactly this in a child process
 * for every dump, with the budgets it derives from its container's limits.
 *
 * Exit codes: 0 a report was printed (also "not analysed", which says why), 1 the file could not be
 * read, 2 bad usage (one line).
 */
import { inertJson } from '../text/escape';
import { analyzeFile, renderLeaksText } from './index';

export const ANALYZE_COMMAND = 'analyze';

export const ANALYZE_USAGE = 'usage: node agent.js analyze FILE.hprof|FILE.hprof.gz [--json] [--threshold PERCENT] [--memory-budget BYTES] [--time-budget SECONDS]';

export interface AnalyzeArgs {
  readonly file: string;
  readonly json: boolean;
  readonly thresholdPercent: number;
  readonly memoryBudgetBytes?: number;
  readonly timeBudgetMs?: number;
}

/** argv after `analyze` -> arguments, or a one-line error. */
export function parseAnalyzeArgs(argv: readonly string[]): AnalyzeArgs | { error: string } {
  let json = false;
  let thresholdPercent = 10;
  let memoryBudgetBytes: number | undefined;
  let timeBudgetMs: number | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (what: string, min: number, max: number): number | string => {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) return `${a}${v === undefined ? ' has no value' : `="${v}" is invalid`}: expected ${what}`;
      return n;
    };
    if (a === '--json') json = true;
    else if (a === '--threshold') {
      const v = value('a percentage from 0.1 to 100', 0.1, 100);
      if (typeof v === 'string') return { error: v };
      thresholdPercent = v;
    } else if (a === '--memory-budget') {
      const v = value('a number of bytes from 1048576 (1 MiB) up', 2 ** 20, Number.MAX_SAFE_INTEGER);
      if (typeof v === 'string') return { error: v };
      memoryBudgetBytes = v;
    } else if (a === '--time-budget') {
      const v = value('a number of seconds from 1 to 86400', 1, 86_400);
      if (typeof v === 'string') return { error: v };
      timeBudgetMs = v * 1000;
    } else if (a.startsWith('-')) return { error: `option "${a}" is unknown: expected --json, --threshold, --memory-budget or --time-budget` };
    else files.push(a);
  }
  if (files.length !== 1) return { error: `${files.length === 0 ? 'no dump file given' : `${files.length} files given`}: expected one FILE.hprof or FILE.hprof.gz` };
  if (!/\.hprof(\.gz)?$/.test(files[0])) return { error: `"${files[0]}" is not named like a heap dump: expected FILE.hprof or FILE.hprof.gz` };
  return { file: files[0], json, thresholdPercent, ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}), ...(timeBudgetMs !== undefined ? { timeBudgetMs } : {}) };
}

/** Runs `analyze`; returns the exit code. */
export async function runAnalyzeCli(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(`${ANALYZE_USAGE}\n\nThe leak report of a heap dump on local disk: leak suspects with retained sizes, who holds them, the\n` +
      'shortest path from a GC root and the accumulation point, and the top dominators (docs/leak-report.md).\n' +
      '  --json               the heapdump-pipeline.io/leaks/v1 document instead of the text\n' +
      '  --threshold PERCENT  share of the reachable heap from which an object or a class is a suspect (default 10)\n' +
      '  --memory-budget N    bytes the analysis may hold at once; a dump that needs more is reported "not analyzed"\n' +
      '  --time-budget S      seconds the analysis may take; past them the dump is reported "not analyzed"\n');
    return 0;
  }
  const args = parseAnalyzeArgs(argv);
  if ('error' in args) {
    err(`analyze: ${args.error}\n${ANALYZE_USAGE}\n`);
    return 2;
  }
  let doc;
  try {
    doc = await analyzeFile(args.file, {
      thresholdPercent: args.thresholdPercent,
      ...(args.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: args.memoryBudgetBytes } : {}),
      ...(args.timeBudgetMs !== undefined ? { deadline: Date.now() + args.timeBudgetMs } : {}),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    err(`analyze: cannot read ${args.file}: ${e.code ?? e.message}\n`);
    return 1;
  }
  out(args.json ? `${inertJson(doc, 2)}\n` : renderLeaksText(doc));
  return 0;
}
