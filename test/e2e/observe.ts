/**
 * Observing the outcome of a simulated run from outside: files on the PVC, objects in S3.
 * Shared by the end-to-end test, the fault-row tests and `npm run faults`.
 */
import { HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createHash } from 'crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'fs';
import * as path from 'path';
import { OBJECT_METADATA } from '../../agent/src/contract';
import { sleep } from '../support/procs';

export interface LocalFile {
  /** Path relative to the node dump root (= key below `<prefix><node>/`). */
  readonly rel: string;
  readonly abs: string;
  readonly size: number;
  readonly sha256: string;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Files below `root` matching `pattern` (recursive), hashed. The marker and hidden files are skipped. */
export async function listLocal(root: string, pattern = /\.(hprof|hprof\.gz|phd)$/): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile() && pattern.test(e.name)) {
        // the tree is live: the uploader's retention may remove an archived dump between readdir and here
        try {
          out.push({ rel: path.relative(root, abs), abs, size: statSync(abs).size, sha256: await sha256Of(abs) });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  };
  await walk(root);
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

export interface HeadResult {
  readonly size: number;
  readonly metadata: Record<string, string>;
}

/** HEAD an object; undefined when it does not exist (404) or the server does not answer. */
export async function headObject(client: S3Client, bucket: string, key: string): Promise<HeadResult | undefined> {
  try {
    const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: AbortSignal.timeout(30_000) });
    return { size: out.ContentLength ?? -1, metadata: out.Metadata ?? {} };
  } catch (err) {
    if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound')) return undefined;
    return undefined;
  }
}

/**
 * Polls HEAD every `intervalMs` until the object has the local file's size and its sha256 in the
 * metadata (a partial object on s3rver can already answer HEAD with a smaller size). Returns the
 * arrival time (ms since epoch) or undefined at the deadline.
 */
export async function waitForObject(
  client: S3Client,
  bucket: string,
  key: string,
  local: { size: number; sha256: string },
  timeoutMs: number,
  intervalMs = 100,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const h = await headObject(client, bucket, key);
    if (h && h.size === local.size && h.metadata[OBJECT_METADATA.sha256] === local.sha256) return Date.now();
    await sleep(intervalMs);
  }
  return undefined;
}

/** Waits until `fn` returns a value other than undefined/false, or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
