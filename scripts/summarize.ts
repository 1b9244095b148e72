/**
 * The uploader's triage summary of a heap dump you already have on disk: `npm run -s summarize -- FILE
 * [--json]`; with `--leaks`, the analyzer's leak report instead (`<key>.leaks.txt`, or the leaks/v1 JSON
 * with --json), made by the same code as `node agent.js analyze FILE`.
 *
 * The summary: the uploader's own pieces: its read pass (readPass: sha256, gzip decode for a `.hprof.gz`),
 * the analysis its analysis process runs (analyseDump, with the default budgets, here in-process),
 * and the same document and rendering as the `<dump key>.summary.txt/.json` objects. For dumps that
 * predate the pipeline or were copied off a node by hand.
 *
 * The "dump" part of the document describes the local file: `key` is its path, `bucket` is empty and
 * `uri` is a file:// URI; node is this machine's hostname; namespace and pod are not known.
 */
import { open } from 'fs/promises';
import { hostname } from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { runAnalyzeCli } from '../agent/src/leaks/cli';
import { SETTINGS } from '../agent/src/settings';
import { inertJson } from '../agent/src/text/escape';
import { renderSummaryText, summaryDocument } from '../agent/src/triage';
import { analyseDump, inflateLimit } from '../agent/src/triage/dump-analysis';
import { readPass } from '../agent/src/uploader/read-pass';
import { kindOfName } from '../agent/src/uploader/upload-job';

const USAGE = 'usage: npm run -s summarize -- FILE.hprof|FILE.hprof.gz [--json] [--leaks]';
/** A local file: a read that takes this long means something is wrong with the disk. */
const READ_TIMEOUT_MS = 60_000;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--leaks')) {
    return runAnalyzeCli(argv.filter((a) => a !== '--leaks'), (s) => process.stdout.write(s), (s) => process.stderr.write(s.replace(/^analyze: /, 'summarize: ').replace('usage: node agent.js analyze', 'usage: npm run -s summarize -- --leaks')));
  }
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`summarize: expected one heap dump file and optionally --json or --leaks, got ${JSON.stringify(argv)}\n${USAGE}\n`);
    return 2;
  }
  const file = path.resolve(rest[0]);
  const kind = kindOfName(Buffer.from(path.basename(file)));
  if (kind === 'other') {
    process.stderr.write(`summarize: ${file} is not named like an HPROF dump; expected *.hprof or *.hprof.gz\n`);
    return 2;
  }
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    process.stderr.write(`summarize: cannot open ${file}: ${e.code ?? e.message}\n`);
    return undefined;
  });
  if (!fh) return 1;
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      process.stderr.write(`summarize: ${file} is not a regular file\n`);
      return 2;
    }
    const budgets = {
      cpuSeconds: SETTINGS.dumpAnalysisCpuSeconds.default as number,
      inflateMaxRatio: SETTINGS.dumpInflateMaxRatio.default as number,
      inflateMaxBytes: SETTINGS.dumpInflateMaxBytes.default as number,
    };
    const pass = await readPass(
      async (buffer, position, length) => (await fh.read(buffer, 0, length, position)).bytesRead,
      { size: st.size, gzipHprof: kind === 'hprof-gzip', inflateLimit: inflateLimit(budgets, st.size) },
      { readTimeoutMs: READ_TIMEOUT_MS },
    );
    const cpu = () => (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
    const { heap } = await analyseDump(async (b, o, l, p) => (await fh.read(b, o, l, p)).bytesRead, { kind, size: st.size, budgets, cpuSeconds: cpu });
    const doc = summaryDocument({
      key: file,
      bucket: '',
      uri: pathToFileURL(file).href,
      size: st.size,
      sha256: pass.sha256,
      node: hostname(),
      modifiedAt: st.mtime.toISOString(),
      uploadedAt: new Date().toISOString(),
      // as the uploader decides it: a .hprof.gz must also decode to its end
      complete: heap.complete && (pass.decoded?.complete ?? true),
      ...(pass.decoded?.uncompressedSize !== undefined ? { compression: 'gzip' as const, uncompressedSize: pass.decoded.uncompressedSize } : {}),
    }, heap);
    process.stdout.write(json ? `${inertJson(doc, 2)}\n` : renderSummaryText(doc));
    return 0;
  } finally {
    await fh.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`summarize: ${e.message}\n`);
  process.exit(1);
});
