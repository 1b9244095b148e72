/**
 * Prop validation shared by every construct. Each check throws one PipelinePropsError whose message
 * names the prop, the value it got and what was expected, so a bad config file fails synth with one
 * readable line instead of a stack trace deep inside cdk8s. The value rules themselves are the settings
 * table's (agent/src/settings): see lib/props.ts.
 */
import { dnsLabel, dnsSubdomain, Invalid, type Kind, UnknownKeyInvalid } from '../agent/src/settings';
import { suggest } from '../agent/src/text/suggest';

/** A key of a config-file object that the constructs do not know: what `checkKnownKeys` found. */
export interface UnknownKey {
  /** The known key the user most likely meant (agent/src/text/suggest.ts, as for agent variables). */
  readonly suggestion?: string;
}

/** A prop had a value the constructs cannot use, or (`unknownKey`) is not a setting at all. */
export class PipelinePropsError extends Error {
  public constructor(
    public readonly prop: string,
    public readonly value: unknown,
    public readonly expected: string,
    public readonly unknownKey?: UnknownKey,
  ) {
    super(unknownKey !== undefined ? unknownKeyMessage(prop, expected, unknownKey) : `Invalid ${prop}: ${describeValue(value)} (expected ${expected})`);
    this.name = 'PipelinePropsError';
  }
}

/**
 * `Unknown key uploader.bukcet: did you mean uploader.bucket? (expected a key of uploader: bucket, ...)`: the
 * path the user wrote, never the value (it can be a whole object; the key is the mistake).
 */
function unknownKeyMessage(prop: string, known: string, u: UnknownKey): string {
  const dot = prop.lastIndexOf('.');
  const parent = dot < 0 ? '' : prop.slice(0, dot);
  const meant = u.suggestion === undefined ? '' : `: did you mean ${parent === '' ? u.suggestion : `${parent}.${u.suggestion}`}?`;
  return `Unknown key ${prop}${meant} (expected ${parent === '' ? 'a top-level key' : `a key of ${parent}`}: ${known})`;
}

/** Renders a value for an error message (JSON where possible, so strings show their quotes). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined (missing)';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Runs `build` and prefixes the prop name of any PipelinePropsError with `scope` (e.g. `uploader.`),
 * so that a nested settings object reports the path the user wrote in the config file.
 */
export function withPropScope<T>(scope: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof PipelinePropsError) {
      throw new PipelinePropsError(err.prop === '' ? scope : `${scope}.${err.prop}`, err.value, err.expected, err.unknownKey);
    }
    throw err;
  }
}

/**
 * Validates a prop value with a kind of the settings table (agent/src/settings/kinds.ts), so the rule
 * and its wording are the agent's too. Errors name `prop` (plus the offending path inside a structured
 * value); a secret's value is never echoed.
 */
export function checkKind<T>(kind: Kind<T, unknown>, prop: string, value: unknown, secret = false): T {
  try {
    return kind.fromProp(value);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const at = err.path === undefined ? prop : prop === '' ? err.path : err.path.startsWith('[') ? `${prop}${err.path}` : `${prop}.${err.path}`;
    if (err instanceof UnknownKeyInvalid) {
      const key = at.slice(Math.max(at.lastIndexOf('.'), at.lastIndexOf(']')) + 1);
      const suggestion = suggest(key, err.known);
      throw new PipelinePropsError(at, undefined, err.known.join(', '), suggestion === undefined ? {} : { suggestion });
    }
    const part = err.path === undefined ? value : err.part;
    const shown = secret ? REDACTED : typeof part === 'string' && kind.redact !== undefined ? kind.redact(part) : part;
    throw new PipelinePropsError(at, shown, err.expected ?? kind.expected);
  }
}

/** Shown instead of a secret value. */
export const REDACTED = '<redacted>';

// Construct-internal names that are not user settings (ServiceAccounts, SCCs ...), same rules as the table's.
const DNS_LABEL = dnsLabel();
const DNS_SUBDOMAIN = dnsSubdomain();

/** RFC 1123 label: namespaces, Services, container and port names. */
export function checkDnsLabel(prop: string, value: unknown): string {
  return checkKind(DNS_LABEL, prop, value);
}

/** RFC 1123 subdomain: most object names (ServiceAccounts, ConfigMaps, PriorityClasses, storage classes ...). */
export function checkDnsSubdomain(prop: string, value: unknown): string {
  return checkKind(DNS_SUBDOMAIN, prop, value);
}

/**
 * Rejects keys the constructs do not know (a misspelt key in the config file would otherwise be
 * ignored), with the closest known key as a suggestion. `prop` '' means the object is the scope itself
 * (see withPropScope).
 */
export function checkKnownKeys(prop: string, value: unknown, known: readonly string[], secret = false): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PipelinePropsError(prop, secret ? REDACTED : value, 'an object');
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const name = prop === '' ? key : `${prop}.${key}`;
      const suggestion = suggest(key, known);
      throw new PipelinePropsError(name, undefined, known.join(', '), suggestion === undefined ? {} : { suggestion });
    }
  }
}
