/**
 * The triage analysis inside the upload job: the HPROF analyzer (agent/src/triage) fed by the read
 * pass with the very bytes that are hashed (for a `.hprof.gz`, its decompressed bytes), then the
 * summary objects written next to the verified dump. The dump's upload never depends on it: a dump
 * that is not an HPROF, or an analysis that fails, simply has no summary (or a partial one, marked).
 */
import type { FileHandle } from 'fs/promises';
import {
  fileNameReader, gzipFileNameReader, type HeapSummary, HprofAnalyzer, renderSummaryText, summaryDocument,
} from '../triage';
import { LEAK_REPORT_SUFFIXES } from '../contract';
import { inertJson } from '../text/escape';
import type { DumpKind, Triage, TriageOutcome, VerifiedDump } from './upload-job';

/** The summary's top classes used by one-line notifications. */
const TOP_CLASSES = 3;

/**
 * A Triage for an HPROF (plain or gzip-compressed); undefined for other dumps (OpenJ9 .phd, ...).
 * `leakReports`: the leak analyzer is deployed, so the summary names `<key>.leaks.txt`.
 */
export function hprofTriage(kind: DumpKind, nodeName: string, leakReports = false): Triage | undefined {
  if (kind === 'other') return undefined;
  const analyzer = new HprofAnalyzer();
  return {
    analysis: analyzer,
    async summarise(fh: FileHandle): Promise<TriageOutcome> {
      const heap = await analyzer.finish(kind === 'hprof-gzip' ? gzipFileNameReader(fh) : fileNameReader(fh));
      return outcome(heap, nodeName, leakReports);
    },
  };
}

function outcome(heap: HeapSummary, nodeName: string, leakReports: boolean): TriageOutcome {
  return {
    topClasses: [...heap.classes].sort((a, b) => b.shallowBytes - a.shallowBytes).slice(0, TOP_CLASSES)
      .map((c) => ({ name: c.name, shallowBytes: c.shallowBytes, instances: c.instances })),
    render(dump: VerifiedDump) {
      const doc = summaryDocument({
        key: dump.key,
        bucket: dump.bucket,
        uri: `s3://${dump.bucket}/${dump.key}`,
        size: dump.storedSize,
        sha256: dump.sha256,
        node: nodeName,
        ...(dump.namespace !== undefined ? { namespace: dump.namespace } : {}),
        ...(dump.pod !== undefined ? { pod: dump.pod } : {}),
        modifiedAt: dump.modifiedAt,
        uploadedAt: dump.uploadedAt,
        complete: dump.complete === 'true',
        ...(dump.compressed ? { compression: dump.compressed } : {}),
        ...(dump.uncompressedSize !== undefined ? { uncompressedSize: dump.uncompressedSize } : {}),
      }, heap);
      const leakReport = leakReports ? `s3://${dump.bucket}/${dump.key}${LEAK_REPORT_SUFFIXES.text}` : undefined;
      return { json: inertJson(doc, 2) + '\n', text: renderSummaryText(doc, leakReport ? { leakReport } : {}) };
    },
  };
}
