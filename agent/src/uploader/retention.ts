/**
 * Local retention (pure selection). Only dumps already verified in S3 are ever candidates; the caller
 * HEADs each one again right before removing it.
 *
 * - max age: verified dumps whose last modification is older than `maxAgeMs`;
 * - max bytes: while the total of *all* local dumps (uploaded or not: what fills the node) exceeds
 *   `maxBytes`, the oldest verified dumps go first. Dumps not yet in S3 are never selected, even if
 *   they alone exceed the cap.
 */

export interface RetentionCandidate {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly verified: boolean;
}

export interface RetentionLimits {
  /** 0 = off. */
  readonly maxAgeMs: number;
  /** 0 = off. */
  readonly maxBytes: number;
}

export function selectForRetention(files: readonly RetentionCandidate[], now: number, limits: RetentionLimits): string[] {
  const chosen = new Set<string>();
  const verifiedOldestFirst = files.filter((f) => f.verified).sort((a, b) => a.mtimeMs - b.mtimeMs);
  if (limits.maxAgeMs > 0) {
    for (const f of verifiedOldestFirst) if (now - f.mtimeMs > limits.maxAgeMs) chosen.add(f.id);
  }
  if (limits.maxBytes > 0) {
    let total = files.filter((f) => !chosen.has(f.id)).reduce((sum, f) => sum + f.size, 0);
    for (const f of verifiedOldestFirst) {
      if (total <= limits.maxBytes) break;
      if (chosen.has(f.id)) continue;
      chosen.add(f.id);
      total -= f.size;
    }
  }
  return [...chosen];
}
