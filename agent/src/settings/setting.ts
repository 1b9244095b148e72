/**
 * What one entry of the settings table is (see table.ts), and the groups of the config file.
 */
import type { Command } from '../contract';
import type { Kind } from './kinds';

export interface Setting<T = unknown, P = unknown> {
  /** Environment variable the agent reads. Absent: a construct-only setting. */
  readonly env?: string;
  /**
   * Dotted path of the construct prop / `pipeline.config.json` key, e.g. `uploader.watchIntervalSeconds`.
   * Absent: an agent-only setting (the constructs set it themselves, see `setBy`).
   */
  readonly prop?: string;
  readonly kind: Kind<T, P>;
  /**
   * Value when unset, in the prop (JSON) form. The agent's default for an unset variable and the
   * constructs' default for an omitted prop, unless `propDefault` says otherwise.
   */
  readonly default?: P;
  /** The constructs' default when it differs from the agent's (e.g. the prototype's bucket name). */
  readonly propDefault?: P;
  /** A computed default in words (shown instead of a value), e.g. "true when S3_ENDPOINT_URL is set". */
  readonly defaultText?: string;
  /** The constructs' computed default in words, when it differs from `defaultText`. */
  readonly propDefaultText?: string;
  /** No default: unset is an error (on each side that has no default). */
  readonly required?: boolean;
  /** Agent commands that read the variable (`--help`, docs, typo warnings). */
  readonly readBy?: readonly Command[];
  /** Never echoed in a message, a log line or the docs. */
  readonly secret?: boolean;
  /** The prototype's ConfigMap key, kept with its meaning (★ in the docs). */
  readonly prototype?: boolean;
  /** What the setting does. The first sentence is the short form (`--help`). */
  readonly doc: string;
  /** For an env setting without a prop: what the constructs write (docs). */
  readonly setBy?: string;
}

/** An object of the config file (a prop whose value is an object of further settings). */
export interface Group {
  /** Name of the generated TypeScript interface. */
  readonly typeName: string;
  readonly doc: string;
  /** The group's default in words (for the parent's JSDoc `@default` and the docs). */
  readonly defaultText: string;
  /** Programmatic use only: refused in `pipeline.config.json`, absent from its JSON Schema. */
  readonly codeOnly?: boolean;
  /** Values are secrets: never echoed. */
  readonly secret?: boolean;
}

/** Identity helper that keeps each entry's value types (for typed reads). */
export function setting<T, P>(s: Setting<T, P>): Setting<T, P> {
  return s;
}

/** Last segment of a prop path: the key inside its group. */
export function propKey(s: Setting): string {
  if (s.prop === undefined) throw new Error('setting has no prop');
  return s.prop.slice(s.prop.lastIndexOf('.') + 1);
}

/** Group path of a prop path ('' for the top level). */
export function propGroup(s: Setting): string {
  if (s.prop === undefined) throw new Error('setting has no prop');
  const i = s.prop.lastIndexOf('.');
  return i < 0 ? '' : s.prop.slice(0, i);
}

/** The constructs' default (prop form), or undefined. */
export function propDefault<P>(s: Setting<unknown, P>): P | undefined {
  return s.propDefault !== undefined ? s.propDefault : s.default;
}
