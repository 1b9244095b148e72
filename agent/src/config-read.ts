/**
 * Reading one setting of the settings table from the environment, and collecting every bad one.
 *
 * `required`/`optional` throw a ConfigError (one line: the variable, the value unless secret, what was
 * expected) when called on their own. Inside `collectConfigErrors` (agent/src/config.ts resolveConfig
 * runs each command's resolver in it) they record the error instead and return undefined, so the
 * resolver goes on and one run reports every missing or invalid variable, not only the first. A
 * resolver's own cross-checks report through `reportConfigError`, which behaves the same way.
 */
import { Invalid, type Setting } from './settings';

export type Env = Readonly<Record<string, string | undefined>>;

/** A bad configuration value. `message` is the one line printed before exiting with EXIT.config. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** More than one bad value: `errors` in the order they were found; `message` is the first's. */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: readonly ConfigError[]) {
    super(errors[0].variable, errors.length === 1 ? errors[0].message : `${errors[0].message} (and ${errors.length - 1} more)`);
    this.name = 'ConfigErrors';
  }
}

/** The errors of the resolution in progress (synchronous: one at a time), or undefined outside one. */
let collected: ConfigError[] | undefined;

/**
 * Reports a bad value: throws it, or inside collectConfigErrors records it (once per variable) and
 * returns undefined so the caller can go on with a placeholder.
 */
export function reportConfigError(error: ConfigError): undefined {
  if (collected === undefined) throw error;
  if (!collected.some((e) => e.variable === error.variable && e.message === error.message)) collected.push(error);
  return undefined;
}

/**
 * Runs `resolve` collecting every ConfigError it reports (or throws); throws them together as one
 * ConfigErrors, or returns the result when there was none. A value computed from a placeholder is never
 * returned: any error means no result.
 */
export function collectConfigErrors<T>(resolve: () => T): T {
  const outer = collected;
  collected = [];
  try {
    let result: T | undefined;
    try {
      result = resolve();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const e of error instanceof ConfigErrors ? error.errors : [error]) reportConfigError(e);
    }
    if (collected.length > 0) throw new ConfigErrors(collected);
    return result as T;
  } finally {
    collected = outer;
  }
}

/** Empty strings count as unset: a ConfigMap key with "" means "use the default". */
export function rawValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function envName(s: Setting): string {
  if (s.env === undefined) throw new Error('not an environment setting');
  return s.env;
}

function parseEnv<T>(s: Setting<T, unknown>, raw: string): T | undefined {
  const form = s.kind.env;
  if (form === undefined) throw new Error(`${envName(s)}: kind ${s.kind.name} has no environment form`);
  try {
    return form.parse(raw);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const name = envName(s);
    const shown = s.secret ? '' : `="${s.kind.redact?.(raw) ?? raw}"`;
    return reportConfigError(new ConfigError(name, `${name}${shown} is invalid: expected ${form.expected}`));
  }
}

/** The parsed value, or the default, or undefined when neither is given. */
export function optional<T>(env: Env, s: Setting<T, unknown>): T | undefined {
  const raw = rawValue(env, envName(s));
  if (raw !== undefined) return parseEnv(s, raw);
  // Defaults are written in the prop (JSON) form; the table's tests check each one is valid.
  return s.default === undefined ? undefined : s.kind.fromProp(s.default);
}

/** The parsed value or the default; unset without a default is an error. (Undefined only while collecting.) */
export function required<T>(env: Env, s: Setting<T, unknown>): T {
  const name = envName(s);
  const invalid = rawValue(env, name) !== undefined;
  const value = optional(env, s);
  if (value === undefined && !invalid) {
    return reportConfigError(new ConfigError(name, `${name} is missing: expected ${s.kind.env?.expected ?? s.kind.expected}`)) as T;
  }
  return value as T;
}
