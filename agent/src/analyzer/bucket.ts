/**
 * What the analyzer reads and writes in the bucket. S3 is the only record: a dump object with a
 * `<key>.leaks.json` next to it is done; one without is pending (the uploader's summaries and our own
 * objects share the dump's key as prefix, so one listing answers both). `<key>.leaks.attempts` counts
 * the analyses started, so a dump that takes the analysis (or the container) down is not tried forever.
 * Reports are written through S3Store.putSmall (with whatever protection the store applies to writes).
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createWriteStream } from 'fs';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import { LEAK_REPORT_SUFFIXES } from '../contract';
import type { S3Store } from '../uploader/s3-store';

/** Dump objects the analyzer reads (HPROF), and those it can only say it does not read (OpenJ9). */
const HPROF_SUFFIXES = ['.hprof', '.hprof.gz'];
const OTHER_DUMP_SUFFIXES = ['.phd'];
/** Objects of the pipeline itself that end like a dump never do: they end in .json, .txt, .attempts. */

export interface PendingDump {
  readonly key: string;
  /** Bytes as stored. */
  readonly size: number;
  /** When the object was written (its arrival). */
  readonly arrivedAt: number;
  /** `<prefix><node>/<namespace>/...`: the namespace folder, '' when the key has none. */
  readonly namespace: string;
  /** Analyses started so far (from `<key>.leaks.attempts`'s presence: the count itself is read at start). */
  readonly attempted: boolean;
  /** Whether the uploader's summary sits next to it (its object count helps the memory estimate). */
  readonly summary: boolean;
  /** Not an HPROF (e.g. an OpenJ9 .phd): gets a "not analysed" report at once. */
  readonly readable: boolean;
}

function namespaceOf(key: string, prefix: string): string {
  const parts = key.slice(prefix.length).split('/');
  return parts.length >= 4 ? parts[1] : '';
}

/** Every dump under `prefix` without a finished report, with what the listing says about it. */
export async function pendingDumps(store: S3Store, prefix: string, signal?: AbortSignal): Promise<PendingDump[]> {
  const objects = new Map<string, { size: number; at: number }>();
  let token: string | undefined;
  do {
    const page = await store.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of page.Contents ?? []) if (o.Key) objects.set(o.Key, { size: o.Size ?? 0, at: o.LastModified?.getTime() ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const out: PendingDump[] = [];
  for (const [key, o] of objects) {
    const readable = HPROF_SUFFIXES.some((s) => key.endsWith(s));
    if (!readable && !OTHER_DUMP_SUFFIXES.some((s) => key.endsWith(s))) continue;
    if (objects.has(key + LEAK_REPORT_SUFFIXES.json)) continue;
    out.push({
      key,
      size: o.size,
      arrivedAt: o.at,
      namespace: namespaceOf(key, prefix),
      attempted: objects.has(key + LEAK_REPORT_SUFFIXES.attempts),
      summary: objects.has(`${key}.summary.json`),
      readable,
    });
  }
  return out;
}

/** A small object's body as text, or undefined when it does not exist. Reads at most `max` bytes. */
export async function getSmall(store: S3Store, key: string, max = 1024 * 1024, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const out = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal });
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of out.Body as Readable) {
      n += (c as Buffer).length;
      if (n > max) throw new Error(`${key} is larger than ${max} bytes`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}

/** The attempts marker: analyses started, when, and how the last one ended. */
export interface Attempts {
  readonly attempts: number;
  readonly startedAt: string;
  readonly last?: string;
}

export async function readAttempts(store: S3Store, key: string, signal?: AbortSignal): Promise<Attempts> {
  const text = await getSmall(store, key + LEAK_REPORT_SUFFIXES.attempts, 4096, signal);
  if (text === undefined) return { attempts: 0, startedAt: '' };
  try {
    const a = JSON.parse(text) as Partial<Attempts>;
    return { attempts: Number.isSafeInteger(a.attempts) ? Math.max(0, a.attempts!) : 1, startedAt: String(a.startedAt ?? ''), ...(typeof a.last === 'string' ? { last: a.last } : {}) };
  } catch {
    return { attempts: 1, startedAt: '' }; // unreadable: it was written by someone, count it
  }
}

export async function writeAttempts(store: S3Store, key: string, a: Attempts, signal?: AbortSignal): Promise<void> {
  await store.putSmall(key + LEAK_REPORT_SUFFIXES.attempts, Buffer.from(JSON.stringify(a) + '\n'), 'application/json', {}, signal);
}

/** Removes the marker once the report is written (best effort: a report makes it meaningless anyway). */
export async function clearAttempts(store: S3Store, key: string): Promise<void> {
  await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key + LEAK_REPORT_SUFFIXES.attempts })).catch(() => undefined);
}

/** Downloads `key` to `file` (mode 0600), refusing more than `maxBytes`. */
export async function download(store: S3Store, key: string, file: string, maxBytes: number, signal?: AbortSignal): Promise<number> {
  const out = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal });
  let n = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      n += chunk.length;
      done(n > maxBytes ? new Error(`${key} is larger than ${maxBytes} bytes`) : null, chunk);
    },
  });
  await pipeline(out.Body as Readable, cap, createWriteStream(file, { mode: 0o600 }), { signal });
  return n;
}
