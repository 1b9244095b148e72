/**
 * The uploader's triage summary of a heap dump you already have on disk: `npm run -s summarize -- FILE
 * [--json]`. Same analyzer, same rendering as the `<dump key>.summary.txt/.json` objects the uploader
 * writes next to each dump (one read of the file, names read by position at the end), for dumps that
 * predate the pipeline or were copied off a node by hand. Uncompressed HPROF only: for a `.hprof.gz`,
 * `gunzip -k` it first (the names are read by position, which a gzip stream does not allow).
 *
 * The "dump" part of the document describes the local file: `key` is its path, `bucket` is empty and
 * `uri` is a file:// URI; node is this machine's hostname; namespace and pod are not known.
 */
import { createHash } from 'crypto';
import { open } from 'fs/promises';
import { hostname } from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { HprofAnalyzer } from '../agent/src/triage/analyzer';
import { fileNameReader } from '../agent/src/triage/name-readers';
import { renderSummaryText, summaryDocument } from '../agent/src/triage/summary';

const USAGE = 'usage: npm run -s summarize -- FILE.hprof [--json]';
const CHUNK = 1024 * 1024;

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`summarize: expected one heap dump file and optionally --json, got ${JSON.stringify(argv)}\n${USAGE}\n`);
    return 2;
  }
  const file = path.resolve(rest[0]);
  if (file.endsWith('.gz')) {
    process.stderr.write(`summarize: ${file} is gzip-compressed; expected an uncompressed .hprof (gunzip -k it first)\n`);
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
    const analyzer = new HprofAnalyzer();
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < st.size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, st.size - pos), pos);
      if (bytesRead === 0) break; // shrank while reading: the analysis says it is incomplete
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      analyzer.update(chunk);
      pos += bytesRead;
    }
    const heap = await analyzer.finish(fileNameReader(fh));
    const doc = summaryDocument({
      key: file,
      bucket: '',
      uri: pathToFileURL(file).href,
      size: st.size,
      sha256: hash.digest('hex'),
      node: hostname(),
      modifiedAt: st.mtime.toISOString(),
      uploadedAt: new Date().toISOString(),
      complete: heap.complete,
    }, heap);
    process.stdout.write(json ? `${JSON.stringify(doc, null, 2)}\n` : renderSummaryText(doc));
    return 0;
  } finally {
    await fh.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`summarize: ${e.message}\n`);
  process.exit(1);
});
