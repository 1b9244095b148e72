/**
 * Small C programs the tests need where Node cannot do the thing itself: a tenant's renameat2 race
 * (test/support/native/exchange.c) and a filesystem whose reads never return (stuckfs.c, FUSE).
 * Compiled with the machine's gcc once per source version into a world-readable cache folder, so
 * processes running as other uids (setpriv) can execute them.
 */
import { createHash } from 'crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoPath, runTracked } from './procs';

const CACHE = path.join(os.tmpdir(), 'heapdump-test-native');

/** Compiles `test/support/native/<name>.c` (with `libs`, e.g. from pkg-config) and returns the binary's path. */
export async function nativeProgram(name: 'exchange' | 'stuckfs'): Promise<string> {
  const source = repoPath('test', 'support', 'native', `${name}.c`);
  const flags = name === 'stuckfs' ? await pkgConfig('fuse3') : [];
  const hash = createHash('sha256').update(readFileSync(source)).update(flags.join(' ')).digest('hex').slice(0, 12);
  const bin = path.join(CACHE, `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(CACHE, { recursive: true, mode: 0o755 });
  chmodSync(CACHE, 0o755);
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = await runTracked('gcc', ['-O2', '-Wall', '-o', tmp, source, ...flags], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`gcc ${source} failed (code ${r.code}): ${r.stderr}`);
  chmodSync(tmp, 0o755);
  renameSync(tmp, bin);
  return bin;
}

async function pkgConfig(lib: string): Promise<string[]> {
  const r = await runTracked('pkg-config', ['--cflags', '--libs', lib], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`pkg-config ${lib} failed: ${r.stderr} (setup:test installs libfuse3-dev)`);
  return r.stdout.trim().split(/\s+/);
}
