/**
 * Construct props through the settings table (agent/src/settings/table.ts): validation, defaults and
 * the environment strings the agent parses, all from the one entry of each setting.
 *
 * ```ts
 * const intervalMs = prop(SETTINGS.watchInterval, settings.watchIntervalSeconds); // validated, default applied
 * env.push(envVar(SETTINGS.watchInterval, intervalMs));                            // { name: 'WATCH_INTERVAL', value: '60' }
 * ```
 */
import type { k8s } from 'cdk8s-plus-28';
import { GROUPS, groupKeys, groupMembers, propDefault, propKey, type Setting } from '../agent/src/settings';
import { checkKind, checkKnownKeys, PipelinePropsError } from './validation';

/**
 * A prop's canonical value (e.g. milliseconds for a `...Seconds` prop): validated, or the constructs'
 * default when omitted; undefined when omitted without a default. Errors name `name` (default: the
 * prop's key in its group; `withPropScope` adds the group's path).
 */
export function optionalProp<T>(s: Setting<T, unknown>, value: unknown, name = propKey(s)): T | undefined {
  if (value === undefined) {
    const d = propDefault(s);
    return d === undefined ? undefined : s.kind.fromProp(d);
  }
  return checkKind(s.kind, name, value, s.secret);
}

/** Like optionalProp, for props that have a default or are required (omitted and required: an error). */
export function prop<T>(s: Setting<T, unknown>, value: unknown, name = propKey(s)): T {
  const v = optionalProp(s, value, name);
  if (v === undefined) throw new PipelinePropsError(name, undefined, `${s.kind.expected}; it is required`);
  return v;
}

/** The environment string the agent parses back into `value`. */
export function envString<T>(s: Setting<T, unknown>, value: T): string {
  if (s.env === undefined || s.kind.env === undefined) throw new Error(`setting ${s.prop ?? '?'} has no agent variable`);
  return s.kind.env.render(value);
}

/** A container env entry for a setting: the table's variable name and rendering. */
export function envVar<T>(s: Setting<T, unknown>, value: T): k8s.EnvVar {
  return { name: s.env!, value: envString(s, value) };
}

/**
 * Rejects keys that a config-file object (`group`: '' for the top level, 'uploader', 'app.ingress' ...)
 * and the objects below it do not have, naming the full path (`uploader.bukcet`). `name` is the path
 * the user wrote for `group` ('' at the top level).
 */
export function checkSettingKeys(group: string, value: unknown, name = group): void {
  const g = GROUPS[group];
  checkKnownKeys(name, value, groupKeys(group), g?.secret === true);
  if (value === undefined || value === null || typeof value !== 'object') return;
  for (const m of groupMembers(group)) {
    if (m.type !== 'group') continue;
    const sub = (value as Record<string, unknown>)[m.key];
    if (sub !== undefined) checkSettingKeys(m.path, sub, name === '' ? m.key : `${name}.${m.key}`);
  }
}
