/**
 * `kubectl heapdump get NAME`: streams the dump into FILE.partial, resumes an interrupted download with Range
 * (If-Range: the dump's ETag, so a different object is never appended to), hashes while writing (a resumed file's
 * first part once, from disk) and renames FILE.partial to FILE only when the sha256 is the dump's. A gzip upload
 * is checked after decompression (its sha256 is of the original dump).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { createGunzip, type Gunzip } from 'node:zlib';
import { resourcePath, SUBRESOURCES } from '../api/paths';
import { type ApiError, errorOf, KubeClient } from './client';
import { Progress } from './progress';
import { PLUGIN_EXIT } from './usage';

export interface DumpObject {
  metadata: { name: string; namespace: string };
  spec: { size: number; sha256?: string; compression?: string; fileName: string };
  status: { webUrl?: string };
}

const EXTENSIONS = ['.hprof.gz', '.hprof', '.phd', '.gz'];
const ATTEMPTS = 5;

export class IntegrityError extends Error {}

/** sha256 of the bytes written, or of their decompression for a gzip upload. */
class Checker {
  private readonly hash: Hash = createHash('sha256');
  private readonly gunzip?: Gunzip;
  private failed: Error | undefined;

  public constructor(gzip: boolean) {
    if (gzip) {
      this.gunzip = createGunzip();
      this.gunzip.on('data', (c: Buffer) => this.hash.update(c));
      this.gunzip.on('error', (e) => (this.failed = e));
    }
  }

  public update(c: Buffer): Promise<void> | void {
    if (this.gunzip === undefined) return void this.hash.update(c);
    return new Promise<void>((resolve) => (this.gunzip!.write(c) ? resolve() : this.gunzip!.once('drain', resolve)));
  }

  public async digest(): Promise<string> {
    if (this.gunzip !== undefined) await new Promise<void>((resolve) => this.gunzip!.end(resolve));
    if (this.failed !== undefined) throw new IntegrityError(`the download does not decompress: ${this.failed.message}`);
    return this.hash.digest('hex');
  }
}

async function size(file: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(file)).size;
  } catch {
    return undefined;
  }
}

async function feedFile(file: string, length: number, checker: Checker): Promise<void> {
  if (length === 0) return;
  for await (const c of createReadStream(file, { start: 0, end: length - 1 })) await checker.update(c as Buffer);
}

export async function getDump(client: KubeClient, namespace: string, name: string, output: string | undefined, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  const obj = await client.json<DumpObject>(resourcePath(namespace, name));
  const { size: total, sha256, compression } = obj.spec;
  const gzip = compression === 'gzip';
  const etag = sha256 === undefined ? undefined : `"sha256-${sha256}${gzip ? '-gzip' : ''}"`;
  const file = output ?? `${name}${EXTENSIONS.find((e) => obj.spec.fileName.endsWith(e)) ?? ''}`;
  const downloadPath = resourcePath(namespace, name, SUBRESOURCES.download);
  if (file === '-') {
    const res = await client.open(downloadPath);
    if (res.statusCode !== 200) throw errorOf(res.statusCode ?? 0, await KubeClient.text(res));
    const checker = new Checker(gzip);
    for await (const c of res) {
      await checker.update(c as Buffer);
      if (!io.stdout.write(c as Buffer)) await new Promise((r) => io.stdout.once('drain', r));
    }
    if (sha256 !== undefined && (await checker.digest()) !== sha256) throw new IntegrityError(`the bytes written do not have the dump's sha256 ${sha256}`);
    return PLUGIN_EXIT.ok;
  }
  if ((await size(file)) !== undefined) {
    const checker = new Checker(gzip);
    await feedFile(file, (await size(file))!, checker);
    if (sha256 !== undefined && (await checker.digest()) === sha256) {
      io.stderr.write(`${file}: already there, sha256 ${sha256} verified\n`);
      return PLUGIN_EXIT.ok;
    }
    io.stderr.write(`${file} exists and is not this dump: remove it or choose another file with -o\n`);
    return PLUGIN_EXIT.failure;
  }
  const partial = `${file}.partial`;
  let have = (await size(partial)) ?? 0;
  if (have > total) {
    await fsp.truncate(partial, 0);
    have = 0;
  }
  const checker = new Checker(gzip);
  await feedFile(partial, have, checker);
  const progress = new Progress(total, io.stderr, file);
  if (have > 0) io.stderr.write(`resuming ${file} at byte ${have} of ${total}\n`);
  progress.start(have);
  let lastError: Error | undefined;
  for (let attempt = 1; have < total && attempt <= ATTEMPTS; attempt++) {
    const res = await client.open(downloadPath, have > 0 ? { range: `bytes=${have}-`, ...(etag !== undefined ? { 'if-range': etag } : {}) } : {});
    if (res.statusCode === 200 && have > 0) {
      // The object changed (If-Range did not match): start over rather than append another file's bytes.
      throw new IntegrityError(`${file}.partial belongs to another object than ${namespace}/${name} now: delete it and download again`);
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      const err = errorOf(res.statusCode ?? 0, await KubeClient.text(res));
      if ((res.statusCode ?? 0) < 500) throw err;
      lastError = err;
      await new Promise((r) => setTimeout(r, attempt * 1000));
      continue;
    }
    const out = createWriteStream(partial, { flags: have > 0 ? 'a' : 'w' });
    try {
      for await (const c of res) {
        const chunk = c as Buffer;
        await checker.update(chunk);
        have += chunk.length;
        progress.add(chunk.length);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    } catch (error) {
      lastError = error as Error;
    } finally {
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    }
    if (have < total) io.stderr.write(`\nconnection lost at byte ${have}: resuming\n`);
  }
  progress.finish();
  if (have < total) throw (lastError as ApiError | undefined) ?? new Error(`the download stopped at byte ${have} of ${total}: run the same command again to resume`);
  const digest = await checker.digest();
  if (sha256 !== undefined && digest !== sha256) {
    await fsp.rm(partial, { force: true });
    throw new IntegrityError(`the download's sha256 ${digest} is not the dump's ${sha256}: the file was deleted, download it again`);
  }
  await fsp.rename(partial, file);
  io.stderr.write(`${file}: ${total} bytes${sha256 !== undefined ? `, sha256 ${sha256} verified` : ' (the dump has no sha256 to check)'}\n`);
  return PLUGIN_EXIT.ok;
}
