/**
 * "Did you mean ...?" for a name a user typed: the agent's environment variables (agent/src/config.ts,
 * `findTypos`) and the keys of `pipeline.config.json` (lib/validation.ts) use the same rule, so a typo is
 * recognised the same way on both sides.
 */

/** Levenshtein distance (insertions, deletions, substitutions; each costs 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Largest edit distance still taken for a typo. */
export const MAX_TYPO_DISTANCE = 2;
/** Shortest abbreviation of a known name taken for it. */
export const MIN_PREFIX = 3;

/**
 * The known name `name` most likely stands for: one that differs only in case (`agentimage` for
 * `agentImage`), else the nearest within MAX_TYPO_DISTANCE edits (ties: the first in `known`), a known
 * name that `name` starts with (`S3_BUCKET_NAME` for `S3_BUCKET`) or one that starts with `name` (`tls`
 * for `tlsSecretName`, at least MIN_PREFIX characters). Undefined when none fits.
 */
export function suggest(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return undefined;
  const lower = name.toLowerCase();
  const sameLetters = known.find((k) => k.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  return known
    .map((k, i) => ({ k, i, d: editDistance(name, k) }))
    .filter(({ k, d }) => d <= MAX_TYPO_DISTANCE || (k.length > 0 && name.startsWith(k)) || (name.length >= MIN_PREFIX && k.startsWith(name)))
    .sort((x, y) => x.d - y.d || x.i - y.i)[0]?.k;
}
