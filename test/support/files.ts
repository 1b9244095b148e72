/** Small file helpers for tests that play a tenant rewriting its files. */
import { execFileSync } from 'child_process';
import { statSync } from 'fs';

/** A file's mtime to the nanosecond (what the uploader keys a dump's occurrence by). */
export function mtimeNs(file: string): bigint {
  return statSync(file, { bigint: true }).mtimeNs;
}

/**
 * Puts a file's mtime back exactly, as `touch -d` does for someone hiding a change (utimes through a
 * JavaScript Date would lose the nanoseconds, and sometimes land a millisecond early).
 */
export function restoreMtime(file: string, ns: bigint): void {
  const s = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  execFileSync('touch', ['-m', '-d', `@${s}.${frac}`, file]);
}
