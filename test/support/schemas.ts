/**
 * Schema validation of synthesized objects: Kubernetes kinds with kubernetes-models 4.x (the
 * upstream OpenAPI schemas), custom resources (OpenShift SCC and Route, Prometheus operator kinds)
 * with the openAPIV3Schema of the CRDs vendored in `<repo>/crds` (provenance in crds/SOURCES.md).
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import * as yaml from 'js-yaml';

/** `<repo root>/crds`: the vendored upstream CRD files. */
export const CRD_DIR = path.resolve(__dirname, '..', '..', 'crds');

/** CRDs the pipeline's own objects need: a checkout without them must fail loudly, not skip. */
export const REQUIRED_CRDS = ['security.openshift.io_securitycontextconstraints.crd.yaml', 'route.openshift.io_routes.crd.yaml'];

interface Obj { apiVersion: string; kind: string; metadata?: { name?: string } }

interface CrdVersion { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }
interface Crd { spec: { group: string; names: { kind: string }; versions: CrdVersion[] } }

/**
 * The CRD schemas leave unknown fields to the API server's pruning, which would silently drop a
 * misspelt field; for validation every object schema that lists properties and does not
 * preserve unknown fields gets `additionalProperties: false`, so a typo fails here instead.
 */
function closeObjects(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  // Some CRD schemas carry `anyOf: null` (Go's nil slice); JSON Schema wants the keyword absent.
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(schema).filter(([, v]) => v !== null));
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(out.properties)) {
    out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, closeObjects(v)]));
    if (out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  }
  if (isObj(out.items)) out.items = closeObjects(out.items);
  if (isObj(out.additionalProperties)) out.additionalProperties = closeObjects(out.additionalProperties);
  // allOf/anyOf/not hold partial constraints (properties without a type): left open on purpose.
  return out;
}

/** A validator per `group/version/Kind`, compiled on first use (the monitoring CRDs are large). */
export interface CrdValidators {
  readonly kinds: readonly string[];
  get(key: string): ValidateFunction | undefined;
}

let crdValidators: CrdValidators | undefined;

/**
 * CRD patterns are Go (RE2) regular expressions, checked by the API server; the only RE2 syntax in
 * the vendored files that JavaScript lacks is the case-insensitive flag `(?i)` at the start (`^(?i)...`).
 */
function goRegExp(pattern: string, flags: string): RegExp {
  const m = /^(\^?)\(\?i\)/.exec(pattern);
  return m ? new RegExp(m[1] + pattern.slice(m[0].length), `${flags}i`) : new RegExp(pattern, flags);
}
goRegExp.code = 'goRegExp';

/**
 * Reads every CRD file (`*.yaml`) in `dir`, keyed by `apiVersion/kind`; throws if the folder or a
 * REQUIRED_CRDS file is missing. Schemas are compiled lazily, once per kind.
 */
export function loadCrdValidators(dir = CRD_DIR): CrdValidators {
  if (crdValidators !== undefined && dir === CRD_DIR) return crdValidators;
  for (const file of REQUIRED_CRDS) {
    if (!fs.existsSync(path.join(dir, file))) {
      throw new Error(`CRD schema ${file} not found in ${dir}: the tests read the CRDs vendored in <repo>/crds (see crds/SOURCES.md)`);
    }
  }
  // Formats (int64, byte ...) are Kubernetes annotations, not checks ajv knows: types are still checked.
  // useDefaults: the API server applies the schema's defaults before validating (e.g. Route wildcardPolicy None).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, useDefaults: true, code: { regExp: goRegExp } });
  const schemas = new Map<string, Record<string, unknown>>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const crd = yaml.load(fs.readFileSync(path.join(dir, file), 'utf8')) as Crd;
    for (const version of crd.spec.versions) {
      schemas.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, version.schema.openAPIV3Schema);
    }
  }
  const compiled = new Map<string, ValidateFunction>();
  const validators: CrdValidators = {
    kinds: [...schemas.keys()],
    get(key) {
      const schema = schemas.get(key);
      if (schema === undefined) return undefined;
      let fn = compiled.get(key);
      if (fn === undefined) {
        fn = ajv.compile(closeObjects(schema) as Record<string, unknown>);
        compiled.set(key, fn);
      }
      return fn;
    },
  };
  if (dir === CRD_DIR) crdValidators = validators;
  return validators;
}

/** `<repo root>/crds`: CRDs vendored into the repository (with their provenance in crds/SOURCES*.md). */
export const REPO_CRD_DIR = path.resolve(__dirname, '..', '..', 'crds');

/** The Prometheus Operator CRDs (PodMonitor, ServiceMonitor, PrometheusRule), vendored in crds/. */
export const MONITORING_CRD_FILES = [
  'monitoring.coreos.com_podmonitors.yaml', 'monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml',
] as const;

let monitoringValidators: Map<string, ValidateFunction> | undefined;

/** Validators of the monitoring CRDs in REPO_CRD_DIR, keyed by `apiVersion/kind`, compiled like loadCrdValidators'. */
export function loadMonitoringCrdValidators(): Map<string, ValidateFunction> {
  if (monitoringValidators !== undefined) return monitoringValidators;
  // The operator's schemas use Go's inline flag `(?i)` (e.g. `^(?i)(abort|warn)?$`), which JavaScript
  // regexps do not have: the same pattern, case-insensitive.
  const goRegExp = Object.assign((pattern: string, u: string) => {
    const m = /^(\^?)\(\?i\)(.*)$/s.exec(pattern);
    return m ? new RegExp(m[1] + m[2], u + 'i') : new RegExp(pattern, u);
  }, { code: 'new RegExp' });
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, useDefaults: true, code: { regExp: goRegExp } });
  const validators = new Map<string, ValidateFunction>();
  for (const file of MONITORING_CRD_FILES) {
    const crd = yaml.load(fs.readFileSync(path.join(REPO_CRD_DIR, file), 'utf8')) as Crd;
    for (const version of crd.spec.versions) {
      validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, ajv.compile(closeObjects(version.schema.openAPIV3Schema) as Record<string, unknown>));
    }
  }
  monitoringValidators = validators;
  return validators;
}

/**
 * kubernetes-models module for an apiVersion: `v1` -> kubernetes-models/v1, `apps/v1` -> kubernetes-models/apps/v1;
 * cert-manager's kinds (Issuer, Certificate) from @kubernetes-models/cert-manager (the same generator over
 * cert-manager's CRDs).
 */
function k8sModel(apiVersion: string, kind: string): { new(data: unknown): { validate(): void } } | undefined {
  try {
    const module = apiVersion.startsWith('cert-manager.io/') ? `@kubernetes-models/cert-manager/${apiVersion}` : `kubernetes-models/${apiVersion}`;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(module) as Record<string, unknown>;
    return mod[kind] as { new(data: unknown): { validate(): void } } | undefined;
  } catch {
    return undefined;
  }
}

/** Errors of one object against its schema; [] when it is valid. Unknown kinds are an error too. */
export function schemaErrors(obj: Obj): string[] {
  const id = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  // Kubernetes kinds first: they need no CRD file.
  const Model = k8sModel(obj.apiVersion, obj.kind);
  if (Model !== undefined) {
    try {
      new Model(obj).validate();
      return [];
    } catch (err) {
      return [`${id}: ${(err as Error).message}`];
    }
  }
  const key = `${obj.apiVersion}/${obj.kind}`;
  const crd = obj.apiVersion.startsWith('monitoring.coreos.com/') ? loadMonitoringCrdValidators().get(key) : loadCrdValidators().get(key);
  if (crd === undefined) return [`${id}: no schema for ${obj.apiVersion} ${obj.kind}`];
  // First pass applies the schema defaults (as the API server does before validating); ajv may
  // evaluate allOf/anyOf before it fills defaults, so the verdict is taken from the second pass.
  const defaulted = structuredClone(obj);
  crd(defaulted);
  if (crd(defaulted)) return [];
  return (crd.errors ?? []).map((e) => `${id}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
