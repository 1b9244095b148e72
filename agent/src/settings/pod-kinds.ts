/**
 * Kinds for the operations settings of a cluster add-on (see kinds.ts for what a kind is): Kubernetes
 * scheduling (tolerations, affinity), extra container environment, image pull Secrets, the name prefix,
 * and the S3 client's proxy (proxy URL, no-proxy list).
 *
 * The structured kinds are described once as a small shape (a string, an integer, a closed object with
 * cross-field rules, a list ...) from which both the check (one Invalid naming the innermost path, e.g.
 * `[0].tolerationSeconds`) and the JSON Schema of `pipeline.config.schema.json` are derived, so editors and
 * synth agree. The rules are the API server's for these fields (a value the API server would refuse is
 * refused at synth). Pure: no I/O, nothing but Invalid thrown.
 */
import { DNS_LABEL_RE, DNS_SUBDOMAIN_RE, Invalid, type JsonSchema, type Kind, QUALIFIED_NAME_RE, QUANTITY_RE, UnknownKeyInvalid } from './kinds';

// ---------------------------------------------------------------------------------------------
// shapes: one description -> check + JSON Schema

interface Shape<T = unknown> {
  /** Completes "expected ..." for a bad value at this place. */
  readonly expected: string;
  readonly schema: JsonSchema;
  /** The value as the canonical (copied) form, or Invalid naming `at` (the path below the setting). */
  check(v: unknown, at: string): T;
}

/** Path of `key` below `at` ('' is the setting itself): `a.b`, `a[0]`. */
function join(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at === '' ? key : `${at}.${key}`;
}

/** At the setting itself (`at` ''), the kind's own phrase says what is expected. */
function fail(expected: string, at: string, part: unknown): never {
  throw at === '' ? new Invalid() : new Invalid(expected, at, part);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(expected: string, o: { readonly pattern?: RegExp; readonly maxLength?: number; readonly values?: readonly string[] } = {}): Shape<string> {
  return {
    expected,
    schema: {
      type: 'string',
      ...(o.pattern ? { pattern: o.pattern.source } : {}),
      ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : {}),
      ...(o.values ? { enum: o.values } : {}),
    },
    check: (v, at) => {
      if (typeof v !== 'string' || (o.pattern && !o.pattern.test(v)) || (o.maxLength !== undefined && v.length > o.maxLength)
        || (o.values && !o.values.includes(v))) fail(expected, at, v);
      return v;
    },
  };
}

function oneOfStr(values: readonly string[]): Shape<string> {
  return str(`one of ${values.join(', ')}`, { values });
}

function int(min: number, max?: number): Shape<number> {
  const expected = max === undefined ? `a whole number >= ${min}` : `a whole number between ${min} and ${max}`;
  return {
    expected,
    schema: { type: 'integer', minimum: min, ...(max !== undefined ? { maximum: max } : {}) },
    check: (v, at) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || (max !== undefined && v > max)) fail(expected, at, v);
      return v;
    },
  };
}

const BOOL: Shape<boolean> = {
  expected: 'true or false',
  schema: { type: 'boolean' },
  check: (v, at) => (typeof v === 'boolean' ? v : fail('true or false', at, v)),
};

function list<T>(item: Shape<T>, o: { readonly minItems?: number; readonly unique?: boolean; readonly what?: string } = {}): Shape<T[]> {
  const expected = `a${o.minItems ? ' non-empty' : ''} list${o.what ? ` of ${o.what}` : ''}`;
  return {
    expected,
    schema: { type: 'array', items: item.schema, ...(o.minItems ? { minItems: o.minItems } : {}), ...(o.unique ? { uniqueItems: true } : {}) },
    check: (v, at) => {
      if (!Array.isArray(v) || v.length < (o.minItems ?? 0)) fail(expected, at, v);
      const out = v.map((x, i) => item.check(x, join(at, i)));
      if (o.unique) {
        const i = out.findIndex((x, j) => out.findIndex((y) => JSON.stringify(y) === JSON.stringify(x)) !== j);
        if (i >= 0) fail('each entry once', join(at, i), v[i]);
      }
      return out;
    },
  };
}

/** A cross-field rule of an object: its JSON Schema (if/then ...) and the same rule in code. */
interface Rule {
  readonly schema: JsonSchema;
  /** The key to blame and what was expected, when the object breaks the rule. */
  violated(o: Record<string, unknown>): readonly [key: string, expected: string] | undefined;
}

/** A closed object: unknown keys are refused, `required` keys must be present. */
function obj<T>(expected: string, props: Readonly<Record<string, Shape>>, o: { readonly required?: readonly string[]; readonly rules?: readonly Rule[] } = {}): Shape<T> {
  const keys = Object.keys(props);
  const rules = o.rules ?? [];
  return {
    expected,
    schema: {
      type: 'object',
      additionalProperties: false,
      ...(o.required && o.required.length > 0 ? { required: o.required } : {}),
      properties: Object.fromEntries(keys.map((k) => [k, props[k].schema])),
      ...(rules.length > 0 ? { allOf: rules.map((r) => r.schema) } : {}),
    },
    check: (v, at) => {
      if (!isObject(v)) fail(expected, at, v);
      const unknown = Object.keys(v).find((k) => !keys.includes(k));
      if (unknown !== undefined) throw new UnknownKeyInvalid(keys, join(at, unknown), v[unknown]);
      for (const k of o.required ?? []) if (v[k] === undefined) fail(`${props[k].expected}; it is required`, join(at, k), undefined);
      const out: Record<string, unknown> = {};
      for (const k of keys) if (v[k] !== undefined) out[k] = props[k].check(v[k], join(at, k));
      for (const r of rules) {
        const broken = r.violated(out);
        if (broken) fail(broken[1], join(at, broken[0]), out[broken[0]]);
      }
      return out as T;
    },
  };
}

/** A map of label keys to label values (matchLabels, nodeSelector). */
function labelMap(): Shape<Record<string, string>> {
  const expected = 'an object of labels: keys such as example.com/name, values of at most 63 letters, digits, \'-\', \'_\' and \'.\'';
  return {
    expected,
    schema: { type: 'object', propertyNames: { pattern: QUALIFIED_NAME_RE.source, maxLength: 316 }, additionalProperties: LABEL_VALUE.schema },
    check: (v, at) => {
      if (!isObject(v)) fail(expected, at, v);
      for (const [k, x] of Object.entries(v)) {
        if (!QUALIFIED_NAME_RE.test(k) || k.length > 316) fail('a label key such as example.com/name', join(at, k), k);
        LABEL_VALUE.check(x, join(at, k));
      }
      return { ...(v as Record<string, string>) };
    },
  };
}

/** Sub-schemas shared by reference (`#/definitions/<name>`): the config file's schema holds each once. */
const DEFINITIONS: Record<string, JsonSchema> = {};

/** `shape`, referred to by name in JSON Schemas. */
function named<T>(name: string, shape: Shape<T>): Shape<T> {
  DEFINITIONS[name] = shape.schema;
  return { ...shape, schema: { $ref: `#/definitions/${name}` } };
}

/** Turns a shape into a kind of the settings table (prop form only: the constructs read it). */
function shapeKind<T>(name: string, shape: Shape<T>, tsType: string, tsDeclarations: string | undefined, samples: Kind<T, T>['samples']): Kind<T, T> {
  return {
    name,
    expected: shape.expected,
    fromProp: (v) => shape.check(v, ''),
    toProp: (v) => v,
    schema: shape.schema,
    definitions: DEFINITIONS,
    tsType,
    ...(tsDeclarations !== undefined ? { tsDeclarations } : {}),
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// Kubernetes building blocks

const LABEL_KEY = str('a label key such as example.com/name', { pattern: QUALIFIED_NAME_RE, maxLength: 316 });
const LABEL_VALUE = str('a label value: at most 63 letters, digits, \'-\', \'_\' and \'.\'', { pattern: /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/ });
const DNS_LABEL = str('a Kubernetes name (RFC 1123 label)', { pattern: DNS_LABEL_RE, maxLength: 63 });
const DNS_SUBDOMAIN = str('a Kubernetes name (RFC 1123 subdomain)', { pattern: DNS_SUBDOMAIN_RE, maxLength: 253 });
const KEY = str('a key of a Secret or ConfigMap (letters, digits, \'-\', \'_\' and \'.\')', { pattern: /^(?!\.\.?$)[-._a-zA-Z0-9]+$/, maxLength: 253 });

/** `key` present and one of `values` (JSON Schema `if`). */
function when(key: string, values: readonly string[]): JsonSchema {
  return { type: 'object', required: [key], properties: { [key]: { enum: values } } };
}

const has = (o: Record<string, unknown>, k: string) => o[k] !== undefined;

/** Label/node selector requirement: values by operator, as the API server checks them. */
function requirement(expected: string, keyShape: Shape<string>, operators: readonly string[]): Shape {
  const rules: Rule[] = [];
  const setOps: readonly string[] = operators.filter((o) => o === 'In' || o === 'NotIn');
  const existOps: readonly string[] = operators.filter((o) => o === 'Exists' || o === 'DoesNotExist');
  const numOps: readonly string[] = operators.filter((o) => o === 'Gt' || o === 'Lt');
  const values = (o: Record<string, unknown>) => (o.values as unknown[] | undefined) ?? [];
  if (setOps.length > 0) {
    rules.push({
      schema: { if: when('operator', setOps), then: { type: 'object', required: ['values'], properties: { values: { type: 'array', minItems: 1 } } } },
      violated: (o) => (setOps.includes(o.operator as string) && values(o).length === 0 ? ['values', `at least one value with operator ${String(o.operator)}`] : undefined),
    });
  }
  if (existOps.length > 0) {
    rules.push({
      schema: { if: when('operator', existOps), then: { type: 'object', properties: { values: { type: 'array', maxItems: 0 } } } },
      violated: (o) => (existOps.includes(o.operator as string) && values(o).length > 0 ? ['values', `no values with operator ${String(o.operator)}`] : undefined),
    });
  }
  if (numOps.length > 0) {
    rules.push({
      schema: { if: when('operator', numOps), then: { type: 'object', required: ['values'], properties: { values: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', pattern: '^-?[0-9]+$' } } } } },
      violated: (o) => (numOps.includes(o.operator as string) && (values(o).length !== 1 || !/^-?[0-9]+$/.test(String(values(o)[0])))
        ? ['values', `exactly one whole number with operator ${String(o.operator)}`] : undefined),
    });
  }
  return obj(expected, { key: keyShape, operator: oneOfStr(operators), values: list(str('a string'), { what: 'strings' }) }, { required: ['key', 'operator'], rules });
}

const NODE_REQUIREMENT = named('NodeSelectorRequirement', requirement('a node selector requirement {"key", "operator", "values"}', LABEL_KEY, ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']));
// Nodes support one field selector: metadata.name.
const NODE_FIELD_REQUIREMENT = named('NodeFieldRequirement', requirement('a node field requirement {"key": "metadata.name", "operator", "values"}', str('metadata.name', { values: ['metadata.name'] }), ['In', 'NotIn']));

const NODE_SELECTOR_TERM = named('NodeSelectorTerm', obj('a node selector term {"matchExpressions", "matchFields"}', {
  matchExpressions: list(NODE_REQUIREMENT, { what: 'node selector requirements' }),
  matchFields: list(NODE_FIELD_REQUIREMENT, { what: 'node field requirements' }),
}, {
  rules: [{
    // An empty term selects no node at all: certainly a mistake.
    schema: { anyOf: ['matchExpressions', 'matchFields'].map((k) => ({ type: 'object', required: [k], properties: { [k]: { type: 'array', minItems: 1 } } })) },
    violated: (o) => (((o.matchExpressions as unknown[] | undefined) ?? []).length + ((o.matchFields as unknown[] | undefined) ?? []).length === 0
      ? ['matchExpressions', 'at least one requirement (an empty term selects no node)'] : undefined),
  }],
}));

const LABEL_SELECTOR = named('LabelSelector', obj('a label selector {"matchLabels", "matchExpressions"}', {
  matchLabels: labelMap(),
  matchExpressions: list(requirement('a label selector requirement {"key", "operator", "values"}', LABEL_KEY, ['In', 'NotIn', 'Exists', 'DoesNotExist']), { what: 'requirements' }),
}));

const POD_AFFINITY_TERM = named('PodAffinityTerm', obj('a pod affinity term {"labelSelector", "namespaceSelector", "namespaces", "topologyKey", "matchLabelKeys", "mismatchLabelKeys"}', {
  labelSelector: LABEL_SELECTOR,
  namespaceSelector: LABEL_SELECTOR,
  namespaces: list(DNS_LABEL, { what: 'namespace names' }),
  topologyKey: LABEL_KEY,
  matchLabelKeys: list(LABEL_KEY, { what: 'label keys' }),
  mismatchLabelKeys: list(LABEL_KEY, { what: 'label keys' }),
}, { required: ['topologyKey'] }));

const WEIGHT = int(1, 100);
const POD_AFFINITY = named('PodAffinityRules', obj('{"requiredDuringSchedulingIgnoredDuringExecution": [...], "preferredDuringSchedulingIgnoredDuringExecution": [...]}', {
  requiredDuringSchedulingIgnoredDuringExecution: list(POD_AFFINITY_TERM, { what: 'pod affinity terms' }),
  preferredDuringSchedulingIgnoredDuringExecution: list(obj('a weighted pod affinity term {"weight", "podAffinityTerm"}', { weight: WEIGHT, podAffinityTerm: POD_AFFINITY_TERM }, { required: ['weight', 'podAffinityTerm'] }), { what: 'weighted terms' }),
}));

const NODE_AFFINITY = named('NodeAffinity', obj('{"requiredDuringSchedulingIgnoredDuringExecution": {...}, "preferredDuringSchedulingIgnoredDuringExecution": [...]}', {
  requiredDuringSchedulingIgnoredDuringExecution: obj('a node selector {"nodeSelectorTerms": [...]}', {
    nodeSelectorTerms: list(NODE_SELECTOR_TERM, { minItems: 1, what: 'node selector terms (any one matches)' }),
  }, { required: ['nodeSelectorTerms'] }),
  preferredDuringSchedulingIgnoredDuringExecution: list(obj('a preferred term {"weight", "preference"}', { weight: WEIGHT, preference: NODE_SELECTOR_TERM }, { required: ['weight', 'preference'] }), { what: 'preferred terms' }),
}));

const AFFINITY = obj<AffinityValue>('a Kubernetes affinity {"nodeAffinity", "podAffinity", "podAntiAffinity"}', {
  nodeAffinity: NODE_AFFINITY,
  podAffinity: POD_AFFINITY,
  podAntiAffinity: POD_AFFINITY,
});

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
const TOLERATION = named('Toleration', obj<TolerationValue>('a toleration {"key", "operator", "value", "effect", "tolerationSeconds"}', {
  key: str('a taint key such as example.com/name ("" or absent: every key, with operator Exists)', { pattern: new RegExp(`^$|${QUALIFIED_NAME_RE.source}`), maxLength: 316 }),
  operator: oneOfStr(['Exists', 'Equal']),
  value: LABEL_VALUE,
  effect: oneOfStr(TAINT_EFFECTS),
  tolerationSeconds: int(0),
}, {
  rules: [
    {
      schema: { if: when('operator', ['Exists']), then: { type: 'object', properties: { value: { const: '' } } } },
      violated: (o) => (o.operator === 'Exists' && has(o, 'value') && o.value !== '' ? ['value', 'no value with operator Exists'] : undefined),
    },
    {
      // Without a key only "every taint" makes sense: operator Exists (the default operator is Equal).
      schema: { anyOf: [{ type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1 } } }, when('operator', ['Exists'])] },
      violated: (o) => ((o.key ?? '') === '' && o.operator !== 'Exists' ? ['operator', 'operator Exists when the key is empty (a toleration of every taint)'] : undefined),
    },
    {
      schema: { if: { type: 'object', required: ['tolerationSeconds'], properties: { tolerationSeconds: true } }, then: when('effect', ['NoExecute']) },
      violated: (o) => (has(o, 'tolerationSeconds') && o.effect !== 'NoExecute' ? ['tolerationSeconds', 'tolerationSeconds only with effect NoExecute'] : undefined),
    },
  ],
}));

// ---------------------------------------------------------------------------------------------
// values (canonical = prop form)

export interface TolerationValue {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: (typeof TAINT_EFFECTS)[number];
  readonly tolerationSeconds?: number;
}

export interface NodeSelectorRequirementValue {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}
export interface NodeSelectorTermValue {
  readonly matchExpressions?: readonly NodeSelectorRequirementValue[];
  readonly matchFields?: readonly NodeSelectorRequirementValue[];
}
export interface AffinityValue {
  readonly nodeAffinity?: {
    readonly requiredDuringSchedulingIgnoredDuringExecution?: { readonly nodeSelectorTerms: readonly NodeSelectorTermValue[] };
    readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly { readonly weight: number; readonly preference: NodeSelectorTermValue }[];
  };
  readonly podAffinity?: Readonly<Record<string, unknown>>;
  readonly podAntiAffinity?: Readonly<Record<string, unknown>>;
}

export interface EnvVarValue {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
    readonly configMapKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };
    readonly fieldRef?: { readonly fieldPath: string; readonly apiVersion?: string };
    readonly resourceFieldRef?: { readonly resource: string; readonly containerName?: string; readonly divisor?: string };
  };
}

// ---------------------------------------------------------------------------------------------
// kinds

/** Pod tolerations (`tolerations[]` of a pod spec), as the API server validates them. */
export function tolerations(): Kind<readonly TolerationValue[]> {
  const shape = list(TOLERATION, { what: 'tolerations' });
  return shapeKind('tolerations', { ...shape, expected: 'a list of Kubernetes tolerations such as [{"key": "dedicated", "operator": "Equal", "value": "java", "effect": "NoSchedule"}]' },
    'readonly Toleration[]',
    [
      '/** A Kubernetes toleration, as in a pod spec (`operator` Equal by default; Exists without a key tolerates every taint). */',
      'export interface Toleration {',
      '  readonly key?: string;',
      '  readonly operator?: \'Exists\' | \'Equal\';',
      '  readonly value?: string;',
      '  readonly effect?: \'NoSchedule\' | \'PreferNoSchedule\' | \'NoExecute\';',
      '  /** NoExecute only: how long the pod stays bound after the taint appears. */',
      '  readonly tolerationSeconds?: number;',
      '}',
    ].join('\n'),
    {
      valid: [[{ operator: 'Exists' }], [{ key: 'dedicated', operator: 'Equal', value: 'java', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }], []],
      invalid: [{ operator: 'Exists' }, [{ key: 'a', operator: 'Exists', value: 'x' }], [{ effect: 'NoSchedule' }], [{ key: 'a', operator: 'Like' }],
        [{ key: 'a', effect: 'NoSchedule', tolerationSeconds: 60 }], [{ key: 'a', colour: 'red' }], [{ key: 'Bad Key' }]] as never[],
    });
}

/** A pod's affinity (node affinity, pod affinity and anti-affinity), as the API server validates it. */
export function affinity(): Kind<AffinityValue> {
  return shapeKind('affinity', AFFINITY, 'Affinity', [
    '/** A node selector requirement: `values` by operator (In/NotIn: some; Exists/DoesNotExist: none; Gt/Lt: one whole number). */',
    'export interface NodeSelectorRequirement {',
    '  readonly key: string;',
    '  readonly operator: \'In\' | \'NotIn\' | \'Exists\' | \'DoesNotExist\' | \'Gt\' | \'Lt\';',
    '  readonly values?: readonly string[];',
    '}',
    '/** Requirements that all hold (at least one). */',
    'export interface NodeSelectorTerm {',
    '  readonly matchExpressions?: readonly NodeSelectorRequirement[];',
    '  /** Only the field `metadata.name`, operators In/NotIn. */',
    '  readonly matchFields?: readonly NodeSelectorRequirement[];',
    '}',
    'export interface LabelSelector {',
    '  readonly matchLabels?: Readonly<Record<string, string>>;',
    '  readonly matchExpressions?: readonly { readonly key: string; readonly operator: \'In\' | \'NotIn\' | \'Exists\' | \'DoesNotExist\'; readonly values?: readonly string[] }[];',
    '}',
    'export interface PodAffinityTerm {',
    '  readonly labelSelector?: LabelSelector;',
    '  readonly namespaceSelector?: LabelSelector;',
    '  readonly namespaces?: readonly string[];',
    '  readonly topologyKey: string;',
    '  readonly matchLabelKeys?: readonly string[];',
    '  readonly mismatchLabelKeys?: readonly string[];',
    '}',
    'export interface PodAffinityRules {',
    '  readonly requiredDuringSchedulingIgnoredDuringExecution?: readonly PodAffinityTerm[];',
    '  readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly { readonly weight: number; readonly podAffinityTerm: PodAffinityTerm }[];',
    '}',
    '/** A Kubernetes pod affinity, as in a pod spec. */',
    'export interface Affinity {',
    '  readonly nodeAffinity?: {',
    '    /** Any one term must match. */',
    '    readonly requiredDuringSchedulingIgnoredDuringExecution?: { readonly nodeSelectorTerms: readonly NodeSelectorTerm[] };',
    '    readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly { readonly weight: number; readonly preference: NodeSelectorTerm }[];',
    '  };',
    '  readonly podAffinity?: PodAffinityRules;',
    '  readonly podAntiAffinity?: PodAffinityRules;',
    '}',
  ].join('\n'), {
    valid: [
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'node-role.kubernetes.io/worker', operator: 'Exists' }] }] } } },
      { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'x' } } } }] } },
      { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: 'example.com/cores', operator: 'Gt', values: ['8'] }] } }] } },
      {},
    ],
    invalid: [
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } },
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] } } },
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }] } } },
      { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{}] } } },
      { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: { matchExpressions: [{ key: 'a', operator: 'Exists' }] } }] } },
      { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } } }] } },
      { nodeAfinity: {} },
      'x',
      [],
    ] as never[],
  });
}

const ENV_NAME_RE = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const FIELD_PATH_RE = /^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$/;
const RESOURCE_RE = /^(limits|requests)\.(cpu|memory|ephemeral-storage|hugepages-[0-9A-Za-z]+)$/;

const KEY_REF = (what: string) => obj(`a ${what} key reference {"name", "key", "optional"}`, { name: DNS_SUBDOMAIN, key: KEY, optional: BOOL }, { required: ['name', 'key'] });
const ENV_SOURCE = obj('exactly one of {"secretKeyRef"}, {"configMapKeyRef"}, {"fieldRef"} or {"resourceFieldRef"}', {
  secretKeyRef: KEY_REF('Secret'),
  configMapKeyRef: KEY_REF('ConfigMap'),
  fieldRef: obj('a field reference {"fieldPath"} such as metadata.name or status.podIP', {
    fieldPath: str('a downward API field such as metadata.name, metadata.labels[\'x\'], spec.nodeName or status.podIP', { pattern: FIELD_PATH_RE }),
    apiVersion: str('v1', { values: ['v1'] }),
  }, { required: ['fieldPath'] }),
  resourceFieldRef: obj('a resource reference {"resource", "containerName", "divisor"}', {
    resource: str('a container resource such as limits.memory or requests.cpu', { pattern: RESOURCE_RE }),
    containerName: DNS_LABEL,
    divisor: str('a positive Kubernetes quantity such as 1Mi', { pattern: QUANTITY_RE }),
  }, { required: ['resource'] }),
});
const EXACTLY_ONE_SOURCE: Shape = {
  ...ENV_SOURCE,
  schema: { ...ENV_SOURCE.schema, minProperties: 1, maxProperties: 1 },
  check: (v, at) => {
    const out = ENV_SOURCE.check(v, at) as Record<string, unknown>;
    if (Object.keys(out).length !== 1) fail(ENV_SOURCE.expected, at, v);
    return out;
  },
};
const ENV_VAR = named('ExtraEnvVar', obj<EnvVarValue>('an environment variable {"name", "value"} or {"name", "valueFrom"}', {
  name: str('an environment variable name (letters, digits, \'_\', \'-\' and \'.\', not starting with a digit)', { pattern: ENV_NAME_RE }),
  value: str('a string'),
  valueFrom: EXACTLY_ONE_SOURCE,
}, {
  required: ['name'],
  rules: [{
    schema: { oneOf: ['value', 'valueFrom'].map((k) => ({ type: 'object', required: [k], properties: { [k]: true } })) },
    violated: (o) => (has(o, 'value') === has(o, 'valueFrom') ? [has(o, 'value') ? 'valueFrom' : 'value', 'exactly one of value and valueFrom'] : undefined),
  }],
}));

/**
 * Extra environment variables of a container: `{name, value}` or `{name, valueFrom}` (a Secret or ConfigMap key,
 * a downward API field, a resource). Names are unique. Which names a container refuses (those the pipeline sets)
 * and which need valueFrom (secrets) is decided by the construct that owns the container.
 */
export function envVars(): Kind<readonly EnvVarValue[]> {
  const shape = list(ENV_VAR, { what: 'environment variables' });
  return shapeKind('environment', {
    ...shape,
    expected: 'a list of environment variables such as [{"name": "TZ", "value": "UTC"}] or [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]',
    check: (v, at) => {
      const out = shape.check(v, at) as EnvVarValue[];
      const seen = new Set<string>();
      out.forEach((e, i) => {
        if (seen.has(e.name)) fail('each name once', join(join(at, i), 'name'), e.name);
        seen.add(e.name);
      });
      return out;
    },
  }, 'readonly ExtraEnvVar[]', [
    '/** Where an extra variable\'s value comes from: exactly one source. */',
    'export interface ExtraEnvVarSource {',
    '  readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };',
    '  readonly configMapKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean };',
    '  readonly fieldRef?: { readonly fieldPath: string; readonly apiVersion?: \'v1\' };',
    '  readonly resourceFieldRef?: { readonly resource: string; readonly containerName?: string; readonly divisor?: string };',
    '}',
    '/** An extra environment variable: a literal `value` or a `valueFrom` reference (never both). */',
    'export interface ExtraEnvVar {',
    '  readonly name: string;',
    '  readonly value?: string;',
    '  readonly valueFrom?: ExtraEnvVarSource;',
    '}',
  ].join('\n'), {
    valid: [[{ name: 'TZ', value: 'UTC' }], [{ name: 'EXTRA_ENDPOINT_TOKEN', valueFrom: { secretKeyRef: { name: 'team-secrets', key: 'token' } } },
      { name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }], []],
    invalid: [{ name: 'TZ', value: 'UTC' }, [{ name: 'TZ' }], [{ name: 'TZ', value: 'UTC', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      [{ name: '1TZ', value: 'x' }], [{ name: 'A', valueFrom: {} }], [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.containers' } } }],
      [{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }], [{ name: 'A', value: 'x', extra: 1 }]] as never[],
  });
}

/** Names of Secrets in the pipeline namespace (e.g. `imagePullSecrets`), each once. */
export function secretNames(): Kind<readonly string[]> {
  const shape = list(DNS_SUBDOMAIN, { unique: true, what: 'Secret names' });
  return shapeKind('Secret names', { ...shape, expected: 'a list of Secret names such as ["registry-pull"] (RFC 1123 subdomains, each once)' }, 'readonly string[]', undefined, {
    valid: [['registry-pull'], ['a', 'b.example'], []],
    invalid: ['registry-pull', [''], ['Registry_Pull'], ['a', 'a'], [7]] as never[],
  });
}

// Prefix of every name: a DNS label and '-', short enough that the longest prefixed name stays a valid label.
const NAME_PREFIX_RE = /^([a-z0-9]([-a-z0-9]{0,27}[a-z0-9])?-)?$/;

/** The prefix of every object name the pipeline chooses ('' = today's names). */
export function namePrefix(): Kind<string> {
  const expected = '"" or a prefix such as "team-x-": at most 30 lowercase letters, digits and \'-\', starting with a letter or digit and ending with \'-\'';
  return {
    name: 'name prefix',
    expected,
    fromProp: (v) => {
      if (typeof v !== 'string' || !NAME_PREFIX_RE.test(v)) throw new Invalid();
      return v;
    },
    toProp: (v) => v,
    schema: { type: 'string', pattern: NAME_PREFIX_RE.source },
    tsType: 'string',
    samples: { valid: ['', 'team-x-', 'a-'], invalid: ['team-x', 'Team-', '-x-', `${'a'.repeat(30)}-`, 'team_x-', 'a--', 7] },
  };
}

// ---------------------------------------------------------------------------------------------
// the S3 client's proxy

/**
 * An HTTP proxy URL (`http://host:port`); the agent tunnels TLS through it with CONNECT. The environment form
 * may carry `user:password@` (Proxy-Authorization Basic), e.g. from a Secret; a prop never does (it would land
 * in the ConfigMap and in dist/). Messages show it without the credentials.
 */
export function proxyUrl(): Kind<string> {
  const parse = (s: string, credentials: boolean): string => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Invalid();
    }
    if (u.protocol !== 'http:' || u.hostname === '' || /\s/.test(s) || (u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== ''
      || s.includes('?') || s.includes('#')) throw new Invalid();
    if (!credentials && (u.username !== '' || u.password !== '' || s.includes('@'))) throw new Invalid();
    return s.replace(/\/$/, '');
  };
  const expected = 'an http:// proxy URL such as http://proxy.example.com:3128, without a path or credentials';
  return {
    name: 'proxy URL',
    expected,
    fromProp: (v) => {
      if (typeof v !== 'string') throw new Invalid();
      return parse(v, false);
    },
    toProp: (v) => v,
    env: {
      expected: 'an http:// proxy URL such as http://proxy.example.com:3128 (optionally http://user:password@host:port), without a path',
      parse: (raw) => parse(raw, true),
      render: (v) => v,
      samples: { valid: ['http://proxy.example.com:3128', 'http://user:p%40ss@10.0.0.1:8080/'], invalid: ['proxy.example.com:3128', 'socks5://proxy:1080', 'http://proxy:3128/path', 'https://proxy:3128'] },
    },
    schema: { type: 'string', pattern: '^http://[^\\s/?#@]+/?$' },
    tsType: 'string',
    redact: (v) => v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1<redacted>@'),
    samples: {
      valid: ['http://proxy.example.com:3128', 'http://10.0.0.1:8080/', 'http://[fd00::1]:3128'],
      invalid: ['proxy.example.com:3128', 'https://proxy.example.com', 'http://user:pass@proxy.example.com:3128', 'http://proxy:3128/path', '', 7],
    },
  };
}

const HOST_NAME = '[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*';
const IPV4 = '((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])';
const IPV6 = '[0-9a-fA-F]*:[0-9a-fA-F:.]*:[0-9a-fA-F.]*';
const PORT = '(:[0-9]{1,5})?';
const CIDR4 = '/([0-9]|[12][0-9]|3[0-2])';
const CIDR6 = '/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])';
/**
 * One NO_PROXY entry, as Go (and so OpenShift) reads it: `*`, a domain (a leading `.` or `*.`: subdomains only),
 * an IP address or CIDR range, with an optional port. The same pattern is the JSON Schema's.
 */
const NO_PROXY_ENTRY_RE = new RegExp(`^(\\*|(\\*?\\.)?${HOST_NAME}${PORT}|${IPV4}(${CIDR4}|${PORT})|${IPV6}(${CIDR6})?|\\[${IPV6}\\]${PORT})$`);

/**
 * Hosts that bypass the proxy (NO_PROXY): a JSON list in props, comma-separated in the environment (spaces
 * around entries and empty entries ignored). Matching is case-insensitive (the agent's).
 */
export function noProxyList(): Kind<readonly string[]> {
  const check = (items: readonly unknown[]): string[] => items.map((x) => {
    if (typeof x !== 'string' || !NO_PROXY_ENTRY_RE.test(x)) throw new Invalid();
    return x;
  });
  const expected = 'a list of hosts that bypass the proxy, such as [".svc", ".cluster.local", "10.0.0.0/8", "s3.internal:9000"]: '
    + 'domains (a leading "." = subdomains only), IP addresses or CIDR ranges, optional ports, or "*"';
  return {
    name: 'host list',
    expected,
    fromProp: (v) => {
      if (!Array.isArray(v)) throw new Invalid();
      return check(v);
    },
    toProp: (v) => v,
    env: {
      expected: 'comma-separated hosts: domains (a leading "." = subdomains only), IP addresses or CIDR ranges, optional ports, or *',
      parse: (raw) => check(raw.split(',').map((x) => x.trim()).filter((x) => x !== '')),
      render: (v) => v.join(','),
      samples: { valid: ['.svc,10.0.0.0/8', ' localhost , 127.0.0.1 ', '*', '::1,[fd00::1]:9000'], invalid: ['a b', 'http://x', '10.0.0.0/33', 'host:123456'] },
    },
    schema: { type: 'array', items: { type: 'string', pattern: NO_PROXY_ENTRY_RE.source } },
    tsType: 'readonly string[]',
    samples: {
      valid: [['.svc', '.cluster.local', '10.0.0.0/8', 'localhost', '127.0.0.1'], [], ['*'], ['s3.example.com:9000', '*.example.com', 'fd00::/8']],
      invalid: ['.svc', ['a b'], ['http://x'], ['10.0.0.0/33'], [7], ['']],
    },
  };
}
