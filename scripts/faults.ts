/**
 * The fault matrix: `npm run faults [-- --repeat N] [--rows a,b] [--no-ceph] [--write-doc] [--verbose]`
 *
 * Runs every row of test/e2e/fault-rows.ts N times (default 3) on a simulated node (real mount
 * guard, real uploader, private mount namespace, real S3 servers on loopback) and prints one
 * markdown table line per run. Rows that count orphaned multipart uploads run on Ceph RGW (one
 * cluster for the whole matrix, one bucket per run); without Ceph they fall back to s3rver ("n/a").
 * `--write-doc` replaces the table in docs/fault-matrix.md with this run's, plus the command.
 * Exit status 1 when any run missed the target (zero lost, duplicates, partial, orphans).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MatrixEnv, ROWS, rowById, rowClean, RowResult, runRowOnce, TABLE_HEADER, tableRow } from '../test/e2e/fault-rows';
import { loadManifests, REPO_ROOT } from '../test/e2e/manifests';
import { disposeAll } from '../test/support/procs';
import { cephAvailable, startS3Server, S3Server } from '../test/support/s3';

interface Args {
  repeat: number;
  rows: string[];
  ceph: boolean;
  writeDoc: boolean;
  verbose: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { repeat: 3, rows: ROWS.map((r) => r.id), ceph: true, writeDoc: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repeat') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--repeat is ${JSON.stringify(argv[i])}, expected a whole number >= 1`);
      args.repeat = n;
    } else if (a === '--rows') {
      args.rows = (argv[++i] ?? '').split(',').filter(Boolean);
      args.rows.forEach(rowById);
    } else if (a === '--no-ceph') args.ceph = false;
    else if (a === '--write-doc') args.writeDoc = true;
    else if (a === '--verbose') args.verbose = true;
    else throw new Error(`unknown argument ${JSON.stringify(a)}, expected --repeat N, --rows a,b, --no-ceph, --write-doc or --verbose`);
  }
  return args;
}

const DOC = path.join(REPO_ROOT, 'docs', 'fault-matrix.md');
const BEGIN = '<!-- fault-matrix:begin -->';
const END = '<!-- fault-matrix:end -->';

function writeDoc(command: string, results: RowResult[], started: Date): void {
  const block = [
    BEGIN,
    `Produced by \`${command}\` on ${started.toISOString()} (${os.cpus().length} cores, ${os.platform()} ${os.release()}).`,
    '',
    TABLE_HEADER,
    ...results.map(tableRow),
    END,
  ].join('\n');
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} has no ${BEGIN} ... ${END} block to replace`);
  writeFileSync(DOC, doc.slice(0, a) + block + doc.slice(b + END.length));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const command = `npm run faults -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'faults-'));
  chmodSync(workDir, 0o755);
  let ceph: S3Server | undefined;
  const results: RowResult[] = [];
  try {
    const needCeph = args.ceph && args.rows.some((id) => rowById(id).server === 'ceph');
    if (needCeph && cephAvailable()) {
      console.log('starting Ceph RGW (one cluster for the matrix) ...');
      ceph = await startS3Server('ceph');
    } else if (needCeph) console.log('Ceph is not installed: rows fall back to s3rver (orphans n/a)');
    const env: MatrixEnv = { manifests: loadManifests(), ceph, workDir, log: (l) => console.log(l), verbose: args.verbose };
    console.log(TABLE_HEADER);
    for (const id of args.rows) {
      const row = rowById(id);
      for (let run = 1; run <= args.repeat; run++) {
        console.log(`  # ${row.id} run ${run}/${args.repeat}: ${row.title}`);
        let r: RowResult;
        try {
          r = await runRowOnce(row, env, run);
        } catch (err) {
          r = {
            row: row.id, run, server: row.server, faults: [], dumpsWritten: 0, objectsExpected: 0, objectsFound: 0, duplicates: 0,
            partial: 0, orphans: undefined, localLost: 0, archived: 0, measured: {}, seconds: 0, notes: [`ERROR: ${(err as Error).message.split('\n')[0]}`],
          };
          console.log(`    error: ${(err as Error).stack ?? err}`);
        }
        results.push(r);
        console.log(tableRow(r));
      }
    }
  } finally {
    await ceph?.dispose();
    await disposeAll();
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(`\n${command}\n${TABLE_HEADER}\n${results.map(tableRow).join('\n')}`);
  const bad = results.filter((r) => !rowClean(r));
  console.log(bad.length === 0 ? '\nall runs met the target' : `\n${bad.length} run(s) missed the target: ${bad.map((r) => `${r.row}#${r.run}`).join(', ')}`);
  if (args.writeDoc) writeDoc(command, results, started);
  return bad.length === 0 ? 0 : 1;
}

// Ctrl-C / SIGTERM: stop every server and process this run started (by PID), then exit.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: stopping the servers and processes of this run ...`);
    disposeAll().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error((err as Error).message);
    process.exit(2);
  },
);
