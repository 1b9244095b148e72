/**
 * The settings table itself: every entry is consistent, every kind accepts its valid samples and
 * refuses its invalid ones in both forms (prop JSON and environment string), and every value survives
 * the trip prop -> environment string -> agent. Generic: a new entry is covered with no new test code.
 */
import { StorageClass } from '@aws-sdk/client-s3';
import { COMMANDS, ENV } from '../../agent/src/contract';
import {
  envSettings, GROUPS, groupMembers, Invalid, type Kind, propDefault, propGroup, propSettings, S3_STORAGE_CLASSES,
  type Setting, SETTINGS,
} from '../../agent/src/settings';

const ALL = Object.entries(SETTINGS) as [string, Setting][];

function rejects(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (e instanceof Invalid) return true;
    throw e;
  }
}

describe('table invariants', () => {
  test('each entry is an agent variable, a prop, or both; names and paths are unique', () => {
    for (const [id, s] of ALL) expect({ id, either: s.env !== undefined || s.prop !== undefined }).toEqual({ id, either: true });
    const envs = envSettings().map(([, s]) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
    const props = propSettings().map(([, s]) => s.prop);
    expect(new Set(props).size).toBe(props.length);
  });

  test('ENV (generated) has exactly the table\'s variables, by id', () => {
    expect(ENV).toEqual(Object.fromEntries(envSettings().map(([id, s]) => [id, s.env])));
  });

  test('every agent variable has an environment form, names the commands that read it, and is UPPER_SNAKE', () => {
    const commands: string[] = Object.values(COMMANDS);
    for (const [id, s] of envSettings()) {
      expect({ id, env: s.kind.env !== undefined }).toEqual({ id, env: true });
      expect({ id, readBy: (s.readBy ?? []).length > 0 && (s.readBy ?? []).every((c) => commands.includes(c)) }).toEqual({ id, readBy: true });
      expect(s.env).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    }
  });

  test('every prop lives in a declared group, every group is used, keys are camelCase', () => {
    for (const [, s] of propSettings()) {
      expect(GROUPS[propGroup(s)]).toBeDefined();
      expect(s.prop.split('.').every((k) => /^[a-z][A-Za-z0-9]*$/.test(k))).toBe(true);
    }
    for (const path of Object.keys(GROUPS)) expect({ path, members: groupMembers(path).length > 0 }).toEqual({ path, members: true });
  });

  test('every default is valid for its kind, and a required setting has no default on the side that requires it', () => {
    for (const [id, s] of ALL) {
      for (const d of [s.default, s.propDefault]) {
        if (d !== undefined) expect({ id, valid: !rejects(() => s.kind.fromProp(d)) }).toEqual({ id, valid: true });
      }
      if (s.required) expect({ id, default: s.default }).toEqual({ id, default: undefined });
      expect({ id, documented: s.doc.length > 10 && /[.)]$/.test(s.doc) }).toEqual({ id, documented: true });
    }
  });

  test('an unset optional setting says what happens (a value or words)', () => {
    for (const [id, s] of ALL) {
      if (s.required) continue;
      const explained = s.default !== undefined || s.defaultText !== undefined || (s.prop !== undefined && propDefault(s) !== undefined);
      expect({ id, explained }).toEqual({ id, explained: true });
    }
  });

  test('storage classes are the SDK\'s own names (a typo would only fail at upload time)', () => {
    const sdk: string[] = Object.values(StorageClass);
    expect(S3_STORAGE_CLASSES.filter((c) => !sdk.includes(c))).toEqual([]);
  });
});

const KINDS = new Map<string, Kind<unknown, unknown>>();
for (const [id, s] of ALL) KINDS.set(`${id} (${s.kind.name})`, s.kind);

describe.each([...KINDS])('kind of %s', (_id, kind) => {
  test('prop form: valid samples are accepted and stable, invalid ones refused with Invalid', () => {
    for (const v of kind.samples.valid) {
      const canonical = kind.fromProp(v);
      expect(kind.fromProp(kind.toProp(canonical))).toEqual(canonical);
    }
    for (const v of kind.samples.invalid) expect({ v, rejected: rejects(() => kind.fromProp(v)) }).toEqual({ v, rejected: true });
  });

  if (kind.env !== undefined) {
    const env = kind.env;
    test('environment form: every valid prop survives render -> parse; env samples parse or are refused', () => {
      for (const v of kind.samples.valid) {
        const canonical = kind.fromProp(v);
        const raw = env.render(canonical);
        if (raw === '') continue; // empty means unset in the environment (e.g. no prefix): the default applies
        expect({ v, back: env.parse(raw) }).toEqual({ v, back: canonical });
      }
      for (const raw of env.samples.valid) expect(env.parse(env.render(env.parse(raw)))).toEqual(env.parse(raw));
      for (const raw of env.samples.invalid) expect({ raw, rejected: rejects(() => env.parse(raw)) }).toEqual({ raw, rejected: true });
    });
  }
});
