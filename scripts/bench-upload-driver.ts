/**
 * One upload exactly as the agent's uploader does it (same config resolver, same S3 client and store:
 * one read pass with sha256 (+ the payload digest for one PUT) while the analysis process (the bundled
 * agent, .build/agent/agent.js, as the uploader starts it) analyses the same file, streamed upload
 * (multipart: each part digested just before it is sent), HEAD-verify (size, sha256, server-side encryption), then the analysis's end),
 * in its own process so that the bench reads its own peak RSS and CPU time. Bundled by `npm run bench`.
 * Env: the agent's uploader env (S3_*, AWS_*, UPLOAD_*, NODE_NAME, DUMP_ROOT) plus BENCH_FILE and
 * BENCH_KEY. Prints one JSON line: { ms, bytes, multipart, cpuMs, passCpuMs, passMs, topClass,
 * analysisCpuMs, analysisPeakRssMiB } (passCpuMs/passMs: the read pass alone; cpuMs: this process only,
 * analysisCpuMs: the analysis process's).
 *
 * BENCH_MODE=floor-sha256 | floor-md5 | floor-both | floor-read: no S3; the file read once in 1 MiB
 * chunks (as the read pass does) and hashed with Node's own crypto; prints { ms, bytes, cpuMs } (the
 * floor the uploader's CPU per byte is compared with).
 */
import { createHash } from 'crypto';
import { open } from 'fs/promises';
import { resolveUploaderConfig } from '../agent/src/config';
import { createLogger } from '../agent/src/runtime/logger';
import { createStore } from '../agent/src/uploader/command';
import { encryptionMismatch } from '../agent/src/uploader/encryption';
import { tuneV8ForFlatMemory } from '../agent/src/uploader/file-source';
import * as path from 'path';
import { runAnalysisProcess } from '../agent/src/uploader/analysis-process';
import { readPass, withReadTimeout } from '../agent/src/uploader/read-pass';

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function floor(file: string, mode: string): Promise<void> {
  const algos = mode === 'floor-sha256' ? ['sha256'] : mode === 'floor-md5' ? ['md5'] : mode === 'floor-both' ? ['sha256', 'md5'] : [];
  const t0 = Date.now();
  const c0 = cpuMs();
  const fh = await open(file, 'r');
  try {
    const hashes = algos.map((a) => createHash(a));
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      for (const h of hashes) h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    for (const h of hashes) h.digest();
    process.stdout.write(JSON.stringify({ ms: Date.now() - t0, bytes: pos, cpuMs: cpuMs() - c0 }) + '\n');
  } finally {
    await fh.close();
  }
}

async function main(): Promise<void> {
  const file = process.env.BENCH_FILE;
  const key = process.env.BENCH_KEY;
  const mode = process.env.BENCH_MODE ?? 'upload';
  if (!file) throw new Error('BENCH_FILE is required');
  if (mode.startsWith('floor')) return floor(file, mode);
  if (!key) throw new Error('BENCH_KEY is required');
  tuneV8ForFlatMemory(); // as runUploader does
  const config = resolveUploaderConfig(process.env);
  const store = createStore(config, { logger: createLogger({ level: 'warn' }) });
  const t0 = Date.now();
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const partSize = store.partSizeFor(size);
    const st = await fh.stat({ bigint: true });
    // As the job: the analysis process starts with the read pass and reads the same file beside it.
    const analysis = config.analysis ? runAnalysisProcess(fh.fd, {
      kind: 'hprof', size,
      budgets: { cpuSeconds: config.analysisCpuSeconds, inflateMaxRatio: config.inflateMaxRatio, inflateMaxBytes: config.inflateMaxBytes },
      expect: { dev: String(st.dev), ino: String(st.ino) },
    }, { command: [process.execPath, path.resolve('.build/agent/agent.js')], maxRssBytes: config.analysisMaxMemoryBytes }) : undefined;
    // The read pass applies the read timeout itself, the part digests get a timed read; the read pass
    // digests only what goes as one PUT.
    const fileRead = async (b: Buffer, p: number, l: number) => (await fh.read(b, 0, l, p)).bytesRead;
    const read = withReadTimeout(fileRead, config.readTimeoutMs);
    const pass = await readPass(fileRead, { size, ...(partSize === undefined ? { digest: config.digest } : {}), gzipHprof: false }, { readTimeoutMs: config.readTimeoutMs });
    const passCpuMs = cpuMs();
    const passMs = Date.now() - t0;
    const sha256 = pass.sha256;
    const { multipart } = await store.upload({
      fh, read, size, key, metadata: { sha256, 'original-size': String(size) }, gzip: false, digest: config.digest, partSize, sha256,
      ...(pass.payloadDigest ? { putDigest: pass.payloadDigest } : {}),
    });
    const head = await store.head(key);
    if (!head || head.size !== size || head.metadata.sha256 !== sha256) throw new Error(`verification failed: ${JSON.stringify(head)}`);
    const notEncrypted = encryptionMismatch(head.encryption, store.encryption);
    if (notEncrypted !== undefined) throw new Error(`verification failed: ${notEncrypted}`);
    const out = analysis ? await analysis : undefined;
    if (out && !out.ok) throw new Error(`analysis failed: ${out.reason}`);
    const topClass = out?.ok ? [...out.analysis.heap.classes].sort((a, b) => b.shallowBytes - a.shallowBytes)[0]?.name : undefined;
    process.stdout.write(JSON.stringify({
      ms: Date.now() - t0, bytes: size, multipart, cpuMs: cpuMs(), passCpuMs, passMs, topClass,
      analysisCpuMs: out ? Math.round(out.cpuSeconds * 1000) : 0, analysisPeakRssMiB: out ? out.peakRssBytes / 2 ** 20 : 0,
    }) + '\n');
  } finally {
    await fh.close();
    store.client.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
