/**
 * The image's Node runtime for tests outside the image: the official binary pinned in
 * scripts/image/versions.sh, fetched (integrity-checked) by scripts/fetch-node.sh into .cache/
 * (`npm run setup:test` runs it; here it runs again, a no-op once the binary is there).
 */
import { runTracked, repoPath } from './procs';

let cached: string | undefined;

/** Path of the Node 24 binary; fetches it on first use, throws one clear error if that fails. */
export async function node24Binary(): Promise<string> {
  if (cached) return cached;
  const r = await runTracked('bash', [repoPath('scripts', 'fetch-node.sh')], { timeoutMs: 300_000 });
  const bin = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !bin.endsWith('/bin/node')) {
    throw new Error(`scripts/fetch-node.sh failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  cached = bin;
  return bin;
}
