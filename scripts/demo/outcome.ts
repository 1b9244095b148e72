/**
 * The demo's result, read from S3 itself (not from what the agents logged): the dump object (downloaded and
 * hashed here, against the hash of the file the JVM wrote and the uploader's sha256 metadata), its summary and
 * its leak report; then the text a newcomer reads, ending with the command the owning team would use
 * (agent/src/report/retrieval-hint.ts, the same line the Events and notifications carry).
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { Readable } from 'stream';
import { LEAK_REPORT_SUFFIXES, OBJECT_METADATA } from '../../agent/src/contract';
import type { LeaksDocument } from '../../agent/src/leaks/document';
import { retrievalHint, type RetrievalCli } from '../../agent/src/report/retrieval-hint';
import { escapeText } from '../../agent/src/text/escape';
import type { SummaryDocument } from '../../agent/src/triage/summary';
import { mib } from './watch';

export interface DemoOutcome {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly summary: SummaryDocument;
  readonly leaks: LeaksDocument;
}

/** The dump key under `prefix` once its summary and leak report are both there, or undefined. */
export async function finishedDump(client: S3Client, bucket: string, prefix: string): Promise<string | undefined> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.add(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return [...keys].find((k) => k.endsWith('.hprof') && keys.has(`${k}.summary.json`) && keys.has(k + LEAK_REPORT_SUFFIXES.json));
}

async function getBody(client: S3Client, bucket: string, key: string): Promise<{ body: Readable; metadata: Record<string, string> }> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!(out.Body instanceof Readable)) throw new Error(`s3://${bucket}/${key}: no body`);
  return { body: out.Body, metadata: out.Metadata ?? {} };
}

async function getJson<T>(client: S3Client, bucket: string, key: string): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const c of (await getBody(client, bucket, key)).body) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

/**
 * Downloads and checks the dump: its bytes must hash to what the JVM wrote (`local`), and the uploader's
 * sha256 metadata must say the same. A mismatch is the demo failing, said as such.
 */
export async function readOutcome(client: S3Client, bucket: string, key: string, local: { sha256: string; size: number }): Promise<DemoOutcome> {
  const { body, metadata } = await getBody(client, bucket, key);
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of body) {
    hash.update(c as Buffer);
    size += (c as Buffer).length;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== local.sha256 || size !== local.size) {
    throw new Error(`s3://${bucket}/${key} is ${size} bytes with SHA-256 ${sha256}; the JVM wrote ${local.size} bytes with SHA-256 ${local.sha256}`);
  }
  if (metadata[OBJECT_METADATA.sha256] !== sha256) throw new Error(`s3://${bucket}/${key}: its sha256 metadata is ${metadata[OBJECT_METADATA.sha256]}, its bytes hash to ${sha256}`);
  const summary = await getJson<SummaryDocument>(client, bucket, `${key}.summary.json`);
  const leaks = await getJson<LeaksDocument>(client, bucket, key + LEAK_REPORT_SUFFIXES.json);
  return { bucket, key, size, sha256, summary, leaks };
}

const pct = (p: number) => `${p.toFixed(1)} %`;

/** The closing text: the object, the top classes, the leak report, the team's commands. */
export function renderOutcome(o: DemoOutcome, cli: RetrievalCli, classes = 5): string {
  const lines: string[] = [];
  lines.push('', 'The dump in S3', `  s3://${o.bucket}/${escapeText(o.key)}`);
  lines.push(`  ${mib(o.size)} (${o.size} bytes), sha256 ${o.sha256}`);
  lines.push('  verified: the object\'s bytes hash to the file the JVM wrote, and to the uploader\'s sha256 metadata');

  const heap = o.summary.heap;
  lines.push('', 'Summary (next to the dump: .summary.json, .summary.txt): the largest classes by shallow size');
  if (heap) {
    const width = Math.min(60, Math.max(...heap.classes.slice(0, classes).map((c) => escapeText(c.name).length)));
    for (const c of heap.classes.slice(0, classes)) {
      lines.push(`  ${escapeText(c.name).padEnd(width)}  ${mib(c.shallowBytes).padStart(10)}  ${String(c.instances).padStart(8)} objects`);
    }
    lines.push(`  (${heap.totals.objects} objects, ${mib(heap.totals.shallowBytes)} in all)`);
  } else {
    lines.push('  no heap summary (the summary says why)');
  }

  const l = o.leaks;
  lines.push('', `Leak report (next to the dump: ${LEAK_REPORT_SUFFIXES.json}, ${LEAK_REPORT_SUFFIXES.text}): ${l.status}${l.reason ? `: ${escapeText(l.reason)}` : ''}`);
  // headlines are escaped by the analyzer already; escaping again only doubles a backslash in a crafted name
  lines.push(`  ${l.headline ?? 'no leak suspect above the threshold'}`);
  const s = l.suspects[0];
  if (s) {
    lines.push(`  held by: ${s.heldBy.text}`);
    lines.push(`  retains ${mib(s.retainedBytes)} (${pct(s.retainedPercent)} of the reachable heap); accumulates ${s.accumulation.accumulated.instances} × ${escapeText(s.accumulation.accumulated.className)}`);
  }

  const namespace = o.leaks.dump.namespace ?? o.summary.dump.namespace ?? '';
  const get = retrievalHint(namespace, o.key, { cli });
  const read = retrievalHint(namespace, o.key, { cli }, 'leaks');
  lines.push('', 'What the owning team runs, with its own cluster identity (no S3 credentials):');
  if (get && read) lines.push(`  ${get.text}`, `  ${read.text}`);
  else lines.push(`  (no command: ${escapeText(namespace)} is not a namespace name)`);
  return lines.join('\n');
}

export interface ShownEvent {
  readonly reason: string;
  readonly type: string;
  readonly note: string;
  readonly regarding: string;
}

/** The Events the agents posted, as the team reads them (`oc get events`, `oc describe pod`). */
export function renderEvents(events: readonly ShownEvent[], namespace: string): string {
  if (events.length === 0) return '';
  const lines = ['', `Events on the pod (what \`oc get events -n ${escapeText(namespace)}\` shows the team):`];
  for (const e of events) {
    lines.push(`  ${escapeText(e.type)} ${escapeText(e.reason)} ${escapeText(e.regarding)}`);
    for (const l of e.note.split('\n')) lines.push(`    ${escapeText(l, 2048)}`);
  }
  return lines.join('\n');
}
