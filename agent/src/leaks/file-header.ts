/**
 * The HPROF file header: a NUL-terminated magic (one of ../triage/hprof-format.ts `HPROF_MAGICS`), the
 * identifier size (4 or 8) and a millisecond timestamp.
 */
import { HPROF_MAGICS, MAX_MAGIC_LENGTH, SUPPORTED_ID_SIZES } from '../triage/hprof-format';

export interface FileHeader {
  version: string;
  idSize: number;
  timestampMs: number;
  /** Position just after the header. */
  end: number;
}

/**
 * The header at buf[p] with `avail` bytes: the header, `{ error }` when it is not one, or a negative
 * number: minus the bytes needed to tell.
 */
export function fileHeader(buf: Buffer, p: number, avail: number): FileHeader | { error: string } | number {
  const window = buf.subarray(p, p + Math.min(avail, MAX_MAGIC_LENGTH + 1));
  const nul = window.indexOf(0);
  if (nul < 0) return avail > MAX_MAGIC_LENGTH ? { error: 'not an HPROF stream: no header' } : -(avail + 1);
  const version = buf.toString('latin1', p, p + nul);
  if (!HPROF_MAGICS.includes(version)) return { error: `not an HPROF stream: unknown header ${JSON.stringify(version.slice(0, 40))}` };
  if (avail < nul + 13) return -(nul + 13);
  const idSize = buf.readUInt32BE(p + nul + 1);
  if (!SUPPORTED_ID_SIZES.includes(idSize)) return { error: `unsupported identifier size ${idSize} (expected 4 or 8)` };
  const timestampMs = buf.readUInt32BE(p + nul + 5) * 2 ** 32 + buf.readUInt32BE(p + nul + 9);
  return { version, idSize, timestampMs, end: p + nul + 13 };
}
