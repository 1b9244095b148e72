/**
 * `namePrefix` (settings table): the prefix of every object name the pipeline chooses itself, so that two
 * pipelines live side by side in one cluster. '' keeps today's names. Label and annotation KEYS never change;
 * the value of the collection label says which pipeline collects a namespace.
 */
import type { Setting } from '../agent/src/settings';
import { prop } from './props';

/** `name` with the pipeline's prefix. */
export function prefixed(prefix: string, name: string): string {
  return `${prefix}${name}`;
}

/**
 * The value of `heapdump-pipeline.io/collect` that selects a namespace for this pipeline's injector: `true`
 * without a prefix (today's value), else the prefix without its final '-' (`team-x-` -> `team-x`).
 */
export function collectLabelValue(prefix: string): string {
  return prefix === '' ? 'true' : prefix.slice(0, -1);
}

/**
 * A name setting (`namespace`, `storage.claimName` ...): the value as written, or its default with the prefix.
 * The prefixed default is validated too (a prefix can make a name too long).
 */
export function namedProp(s: Setting<string, unknown>, value: unknown, prefix: string, name?: string): string {
  if (value !== undefined) return prop(s, value, name);
  return prop(s, prefixed(prefix, prop(s, undefined, name)), name);
}
