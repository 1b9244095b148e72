/**
 * The triage summary of a dump as the uploader writes it: the analysis's HeapSummary (analyses.ts,
 * from the analysis process) in the summary document next to the verified dump, and its top classes
 * for one-line notifications.
 */
import { LEAK_REPORT_SUFFIXES } from '../contract';
import { inertJson } from '../text/escape';
import { type HeapSummary, renderSummaryText, summaryDocument } from '../triage/summary';
import type { TriageOutcome, VerifiedDump } from './upload-job';

/** The summary's top classes used by one-line notifications. */
const TOP_CLASSES = 3;

/** `leakReports`: the leak analyzer is deployed, so the summary names `<key>.leaks.txt`. */
export function triageOutcome(heap: HeapSummary, nodeName: string, leakReports = false): TriageOutcome {
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
