/**
 * Prop validation shared by every construct. Each check throws one PipelinePropsError whose message
 * names the prop, the value it got and what was expected, so a bad config file fails synth with one
 * readable line instead of a stack trace deep inside cdk8s.
 */

/** A prop had a value the constructs cannot use. */
export class PipelinePropsError extends Error {
  public constructor(
    public readonly prop: string,
    public readonly value: unknown,
    public readonly expected: string,
  ) {
    super(`Invalid ${prop}: ${describeValue(value)} (expected ${expected})`);
    this.name = 'PipelinePropsError';
  }
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
      throw new PipelinePropsError(err.prop === '' ? scope : `${scope}.${err.prop}`, err.value, err.expected);
    }
    throw err;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1123 label: namespaces, Services, container and port names. */
export function checkDnsLabel(prop: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
    throw new PipelinePropsError(prop, value,
      'a Kubernetes name (RFC 1123 label): at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit');
  }
  return value;
}

/** RFC 1123 subdomain: most object names (ServiceAccounts, ConfigMaps, PriorityClasses, storage classes ...). */
export function checkDnsSubdomain(prop: string, value: unknown): string {
  const ok = typeof value === 'string' && value.length <= 253 && value.split('.').every((part) => DNS_LABEL.test(part));
  if (!ok) {
    throw new PipelinePropsError(prop, value,
      'a Kubernetes name (RFC 1123 subdomain): at most 253 lowercase letters, digits, \'-\' and \'.\', starting and ending with a letter or digit');
  }
  return value as string;
}

/** Whole number within [min, max]; rejects strings such as "60" so a JSON typo cannot slip through. */
export function checkInteger(prop: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new PipelinePropsError(prop, value, `a whole number ${range}`);
  }
  return value;
}

export function checkBoolean(prop: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new PipelinePropsError(prop, value, 'true or false');
  return value;
}

export function checkOneOf<T extends string>(prop: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new PipelinePropsError(prop, value, `one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** S3 bucket naming rules (the subset every S3-compatible server accepts). */
export function checkBucketName(prop: string, value: unknown): string {
  const ok = typeof value === 'string'
    && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)
    && !value.includes('..')
    && !/^\d+\.\d+\.\d+\.\d+$/.test(value);
  if (!ok) {
    throw new PipelinePropsError(prop, value,
      'an S3 bucket name: 3-63 lowercase letters, digits, \'.\' and \'-\', starting and ending with a letter or digit, not an IP address');
  }
  return value as string;
}

/** A container image reference: no whitespace, no upper-case repository, optional tag or digest. */
export function checkImage(prop: string, value: unknown): string {
  const expected = 'a container image reference such as registry.example.com/team/heapdump-agent:0.1.0';
  if (typeof value !== 'string' || value === '' || /\s/.test(value)) throw new PipelinePropsError(prop, value, expected);
  const repo = value.split('@')[0].replace(/:[^/:]+$/, '');
  if (repo === '' || repo !== repo.toLowerCase()) throw new PipelinePropsError(prop, value, expected);
  return value;
}

/** Kubernetes quantity as used for storage and memory (e.g. 10Gi, 512Mi, 1.5G). */
export function checkQuantity(prop: string, value: unknown): string {
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?)(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.test(value) || Number.parseFloat(value) <= 0) {
    throw new PipelinePropsError(prop, value, 'a positive Kubernetes quantity such as 10Gi, 512Mi or 100m');
  }
  return value;
}

/**
 * Rejects keys the constructs do not know (a misspelt key in the config file would otherwise be
 * ignored). `prop` '' means the object is the scope itself (see withPropScope).
 */
export function checkKnownKeys(prop: string, value: unknown, known: readonly string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PipelinePropsError(prop, value, 'an object');
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const name = prop === '' ? key : `${prop}.${key}`;
      throw new PipelinePropsError(name, (value as Record<string, unknown>)[key], `no such setting; known: ${known.join(', ')}`);
    }
  }
}
