/**
 * The settings table and what is derived from it at run time (the generated files come from
 * scripts/gen-settings.ts). See table.ts for how to add a setting.
 */
import { GROUPS, SETTINGS, type SettingId } from './table';
import { type Group, propGroup, propKey, type Setting } from './setting';

export * from './kinds';
export * from './pod-kinds';
export * from './setting';
export * from './table';

const ALL: readonly [SettingId, Setting][] = Object.entries(SETTINGS) as [SettingId, Setting][];

/** Settings the agent reads from its environment, in table order, with their ids. */
export function envSettings(): readonly [SettingId, Setting & { env: string }][] {
  return ALL.filter((e): e is [SettingId, Setting & { env: string }] => e[1].env !== undefined);
}

/** Settings a user sets as construct props, in table order. */
export function propSettings(): readonly [SettingId, Setting & { prop: string }][] {
  return ALL.filter((e): e is [SettingId, Setting & { prop: string }] => e[1].prop !== undefined);
}

/** The setting an environment variable belongs to. */
export function settingOfEnv(name: string): Setting | undefined {
  return ALL.find(([, s]) => s.env === name)?.[1];
}

export type GroupMember =
  | { readonly type: 'setting'; readonly key: string; readonly id: SettingId; readonly setting: Setting & { prop: string } }
  | { readonly type: 'group'; readonly key: string; readonly path: string; readonly group: Group };

/**
 * The keys of a config-file object, in table order: its settings, and its sub-groups at the position
 * of their first member.
 */
export function groupMembers(path: string): readonly GroupMember[] {
  const members: GroupMember[] = [];
  const seen = new Set<string>();
  for (const [id, s] of propSettings()) {
    const g = propGroup(s);
    if (g === path) {
      members.push({ type: 'setting', key: propKey(s), id, setting: s });
    } else if (path === '' ? g !== '' : g.startsWith(`${path}.`)) {
      const sub = path === '' ? g.split('.')[0] : `${path}.${g.slice(path.length + 1).split('.')[0]}`;
      if (!seen.has(sub)) {
        seen.add(sub);
        const group = GROUPS[sub];
        if (group === undefined) throw new Error(`settings table: no GROUPS entry for "${sub}" (used by ${s.prop})`);
        members.push({ type: 'group', key: sub.slice(sub.lastIndexOf('.') + 1), path: sub, group });
      }
    }
  }
  return members;
}

/** The keys a config-file object accepts. */
export function groupKeys(path: string): readonly string[] {
  return groupMembers(path).map((m) => m.key);
}
