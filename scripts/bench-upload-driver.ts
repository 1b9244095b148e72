/**
 * One upload exactly as the agent's uploader does it (same config resolver, same S3 client and store:
 * hash, streamed upload, HEAD-verify), in its own process so that the bench reads its own peak RSS.
 * Bundled by `npm run bench`. Env: the agent's uploader env (S3_*, AWS_*, UPLOAD_*, NODE_NAME, DUMP_ROOT)
 * plus BENCH_FILE and BENCH_KEY. Prints one JSON line: { ms, bytes, multipart }.
 */
import { open } from 'fs/promises';
import { resolveUploaderConfig } from '../agent/src/config';
import { createLogger } from '../agent/src/runtime/logger';
import { createStore } from '../agent/src/uploader/command';
import { tuneV8ForFlatMemory } from '../agent/src/uploader/file-source';
import { readPass } from '../agent/src/uploader/read-pass';

async function main(): Promise<void> {
  const file = process.env.BENCH_FILE;
  const key = process.env.BENCH_KEY;
  if (!file || !key) throw new Error('BENCH_FILE and BENCH_KEY are required');
  tuneV8ForFlatMemory(); // as runUploader does
  const config = resolveUploaderConfig(process.env);
  const store = createStore(config, { logger: createLogger({ level: 'warn' }) });
  const t0 = Date.now();
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const partSize = store.partSizeFor(size);
    const pass = await readPass(async (b, p, l) => (await fh.read(b, 0, l, p)).bytesRead, { size, partSize, digest: config.digest, gzipHprof: false }, { readTimeoutMs: config.readTimeoutMs });
    const sha256 = pass.sha256;
    const { multipart } = await store.upload({
      fh, size, key, metadata: { sha256, 'original-size': String(size) }, gzip: false, digest: config.digest, partSize, partDigests: pass.partDigests,
    });
    const head = await store.head(key);
    if (!head || head.size !== size || head.metadata.sha256 !== sha256) throw new Error(`verification failed: ${JSON.stringify(head)}`);
    process.stdout.write(JSON.stringify({ ms: Date.now() - t0, bytes: size, multipart }) + '\n');
  } finally {
    await fh.close();
    store.client.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
