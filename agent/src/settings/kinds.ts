/**
 * The value types of the settings table. A kind knows, for one type of value:
 * - how a construct prop / `pipeline.config.json` writes it (JSON: `fromProp`, `toProp`),
 * - how the agent's environment writes it (a string: `env.parse`, `env.render`),
 * - how to say what is expected (one phrase that completes "expected ..."),
 * - its JSON Schema (editors, `pipeline.config.schema.json`) and its TypeScript type (generated props),
 * - sample values, valid and invalid, that the docs and the tests use.
 *
 * Both sides convert to one canonical value (e.g. milliseconds for `seconds`), so a prop rendered for
 * the agent and parsed back by the agent is the value the constructs validated: `env.parse(env.render(v))`
 * equals `v` for every kind (tested). Kinds are pure: no I/O, no imports, nothing but `Invalid` thrown.
 */

/** A value a kind does not accept. `path`/`value`: the innermost offending part of a structured value. */
export class Invalid extends Error {
  public constructor(
    /** Completes "expected ...", when it is more precise than the kind's own phrase. */
    public readonly expected?: string,
    /** Path below the setting (e.g. `requests.cpu`), for structured values. */
    public readonly path?: string,
    /** The offending part of the value (with `path`). */
    public readonly part?: unknown,
  ) {
    super(expected ?? 'invalid value');
    this.name = 'Invalid';
  }
}

/**
 * A key a structured value does not have. The constructs show it as "Unknown key <path>: did you mean
 * ...?" with the value left out (lib/validation.ts); `known` are the keys there are.
 */
export class UnknownKeyInvalid extends Invalid {
  public constructor(public readonly known: readonly string[], path: string, part: unknown) {
    super(`no such setting; known: ${known.join(', ')}`, path, part);
    this.name = 'UnknownKeyInvalid';
  }
}

export type JsonSchema = { readonly [keyword: string]: unknown };

/** How the agent's environment writes a value of this kind. */
export interface EnvForm<T> {
  /** Completes "expected ..." in the agent's messages and docs. */
  readonly expected: string;
  /** Parses a non-empty environment string (empty means unset and never reaches a kind). */
  parse(raw: string): T;
  /** The string that `parse` turns back into `value`. */
  render(value: T): string;
  readonly samples: { readonly valid: readonly string[]; readonly invalid: readonly string[] };
}

export interface Kind<T, P = T> {
  /** Short name of the type, for the docs (`seconds`, `bucket`, ...). */
  readonly name: string;
  /** Completes "expected ..." in construct errors and the docs. */
  readonly expected: string;
  /** Validates a prop value (JSON as written in the config file or in code) into the canonical value. */
  fromProp(value: unknown): T;
  /** The prop (JSON) form of a canonical value. */
  toProp(value: T): P;
  /** Absent for kinds that only constructs read (e.g. container resources). */
  readonly env?: EnvForm<T>;
  /** JSON Schema of the prop form. */
  readonly schema: JsonSchema;
  /**
   * Shared sub-schemas `schema` refers to as `#/definitions/<name>` (structured Kubernetes values would
   * otherwise repeat them many times); the generator puts them at the root of the config file's schema.
   */
  readonly definitions?: Readonly<Record<string, JsonSchema>>;
  /** TypeScript type of the prop form (generated interfaces). */
  readonly tsType: string;
  /** Declarations `tsType` needs, emitted once into the generated props (e.g. an interface). */
  readonly tsDeclarations?: string;
  /** How an error message shows a rejected value (e.g. a URL without its user:password part). */
  redact?(value: string): string;
  readonly samples: { readonly valid: readonly P[]; readonly invalid: readonly unknown[] };
}

// ---------------------------------------------------------------------------------------------
// helpers

function stringKind(o: {
  name: string;
  expected: string;
  /** Returns the canonical string or throws Invalid. */
  check: (s: string) => string;
  schema: JsonSchema;
  valid: readonly string[];
  invalid: readonly unknown[];
  envInvalid?: readonly string[];
  /** Whether the agent reads this kind from its environment. */
  env?: boolean;
}): Kind<string> {
  const fromProp = (v: unknown): string => {
    if (typeof v !== 'string') throw new Invalid();
    return o.check(v);
  };
  return {
    name: o.name,
    expected: o.expected,
    fromProp,
    toProp: (v) => v,
    env: o.env === false ? undefined : {
      expected: o.expected,
      parse: (raw) => o.check(raw),
      render: (v) => v,
      samples: { valid: o.valid, invalid: o.envInvalid ?? o.invalid.filter((x): x is string => typeof x === 'string' && x !== '') },
    },
    schema: { type: 'string', ...o.schema },
    tsType: 'string',
    samples: { valid: o.valid, invalid: o.invalid },
  };
}

/** `pattern` must match the whole value; used verbatim in the JSON Schema. */
function matching(re: RegExp, extra?: (s: string) => boolean): (s: string) => string {
  return (s) => {
    if (!re.test(s) || (extra !== undefined && !extra(s))) throw new Invalid();
    return s;
  };
}

function fmt(n: number): string {
  return String(n);
}

// ---------------------------------------------------------------------------------------------
// numbers and booleans

export interface SecondsOptions {
  /** Smallest value; 0.001 means "> 0" (one millisecond is the resolution). */
  readonly min: number;
  readonly max?: number;
  /** What 0 means, when allowed (e.g. "wait forever", "off"). */
  readonly zero?: string;
}

/** A duration in seconds, decimals allowed (`1.5`), no unit. Canonical value: milliseconds. */
export function seconds(o: SecondsOptions): Kind<number, number> {
  const positive = o.min > 0 && o.min <= 0.001;
  const range = o.max === undefined
    ? (positive ? '> 0' : `>= ${fmt(o.min)}`)
    : (positive ? `> 0 and <= ${fmt(o.max)}` : `between ${fmt(o.min)} and ${fmt(o.max)}`);
  const expected = `a number of seconds ${range}${o.zero ? ` (0 = ${o.zero})` : ''}`;
  const inRange = (n: number): number => {
    if (!Number.isFinite(n) || n < o.min || (o.max !== undefined && n > o.max)) throw new Invalid();
    return Math.round(n * 1000);
  };
  const tooBig = o.max !== undefined ? o.max + 1 : undefined;
  return {
    name: 'seconds',
    expected,
    fromProp: (v) => {
      if (typeof v !== 'number') throw new Invalid();
      return inRange(v);
    },
    toProp: (ms) => ms / 1000,
    env: {
      expected,
      parse: (raw) => {
        if (!/^\d+(\.\d+)?$/.test(raw)) throw new Invalid();
        return inRange(Number(raw));
      },
      render: (ms) => String(ms / 1000),
      samples: {
        valid: [fmt(Math.max(o.min, 1)), ...((o.max === undefined || o.max >= 1.5) && o.min <= 1.5 ? ['1.5'] : [])],
        invalid: ['10s', '-1', '1m', ...(tooBig !== undefined ? [fmt(tooBig)] : []), ...(o.min > 0 ? ['0'] : [])],
      },
    },
    schema: { type: 'number', minimum: o.min, ...(o.max !== undefined ? { maximum: o.max } : {}) },
    tsType: 'number',
    samples: {
      valid: [Math.max(o.min, 1), ...(o.max !== undefined ? [o.max] : [3600])],
      invalid: ['60', -1, ...(tooBig !== undefined ? [tooBig] : []), ...(o.min > 0 ? [0] : []), true],
    },
  };
}

export interface IntegerOptions {
  readonly min: number;
  readonly max?: number;
  /** Unit in words, e.g. "MiB". */
  readonly unit?: string;
  /** What 0 means, when allowed. */
  readonly zero?: string;
}

/** A whole number in a range (not negative). */
export function integer(o: IntegerOptions): Kind<number> {
  if (o.min < 0) throw new Error('integer(): negative minimum not supported');
  const what = `a whole number${o.unit ? ` of ${o.unit}` : ''}`;
  const range = o.max === undefined ? `>= ${o.min}` : `between ${o.min} and ${o.max}`;
  const expected = `${what} ${range}${o.zero ? ` (0 = ${o.zero})` : ''}`;
  const inRange = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < o.min || (o.max !== undefined && n > o.max)) throw new Invalid();
    return n;
  };
  return {
    name: 'integer',
    expected,
    fromProp: (v) => {
      if (typeof v !== 'number') throw new Invalid();
      return inRange(v);
    },
    toProp: (n) => n,
    env: {
      expected,
      parse: (raw) => {
        if (!/^\d+$/.test(raw)) throw new Invalid();
        return inRange(Number(raw));
      },
      render: (n) => String(n),
      samples: {
        valid: [String(o.min), ...(o.max !== undefined ? [String(o.max)] : [])],
        invalid: ['x', `${o.min}.5`, '-1', ...(o.max !== undefined ? [String(o.max + 1)] : [])],
      },
    },
    schema: { type: 'integer', minimum: o.min, ...(o.max !== undefined ? { maximum: o.max } : {}) },
    tsType: 'number',
    samples: {
      valid: [o.min, ...(o.max !== undefined ? [o.max] : [])],
      invalid: [String(o.min), o.min + 0.5, -1, ...(o.max !== undefined ? [o.max + 1] : [])],
    },
  };
}

const TRUE = ['true', '1', 'yes'];
const FALSE = ['false', '0', 'no'];

/** `true`/`false`; the environment also accepts 1/0 and yes/no, in any case. */
export function boolean(): Kind<boolean> {
  return {
    name: 'boolean',
    expected: 'true or false',
    fromProp: (v) => {
      if (typeof v !== 'boolean') throw new Invalid();
      return v;
    },
    toProp: (b) => b,
    env: {
      expected: 'true or false',
      parse: (raw) => {
        const v = raw.toLowerCase();
        if (TRUE.includes(v)) return true;
        if (FALSE.includes(v)) return false;
        throw new Invalid();
      },
      render: (b) => String(b),
      samples: { valid: ['true', 'false', 'YES', '0'], invalid: ['on', 'y', 'maybe'] },
    },
    schema: { type: 'boolean' },
    tsType: 'boolean',
    samples: { valid: [true, false], invalid: ['true', 1, null] },
  };
}

/** One of a fixed list of strings (case-sensitive). `typeName` names the generated union type. */
export function oneOf<const V extends string>(values: readonly V[], typeName?: string): Kind<V> & { readonly values: readonly V[]; readonly typeName?: string } {
  const expected = `one of ${values.join(', ')}`;
  const check = (s: unknown): V => {
    if (typeof s !== 'string' || !(values as readonly string[]).includes(s)) throw new Invalid();
    return s as V;
  };
  const wrong = values[0].toLowerCase() !== values[0] ? values[0].toLowerCase() : values[0].toUpperCase();
  return {
    name: 'enum',
    values,
    typeName,
    expected,
    fromProp: check,
    toProp: (v) => v,
    env: { expected, parse: check, render: (v) => v, samples: { valid: [...values], invalid: [wrong, `${values[0]}x`] } },
    schema: { type: 'string', enum: values },
    tsType: typeName ?? values.map((v) => `'${v}'`).join(' | '),
    samples: { valid: [...values], invalid: [wrong, '', 7] },
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const SIZE = /^(\d+)(Ki|Mi|Gi|Ti)?$/;

/** Renders a byte count with the largest exact Ki/Mi/Gi/Ti unit (`2097152` -> `2Mi`). */
function sizeText(n: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki']) if (n >= SIZE_UNITS[unit] && n % SIZE_UNITS[unit] === 0) return `${n / SIZE_UNITS[unit]}${unit}`;
  return String(n);
}

/**
 * A number of bytes: a whole number, or a string with a Ki/Mi/Gi/Ti suffix (`10Gi`). Canonical: bytes.
 * `min`/`max` bound it (inclusive).
 */
export function byteSize(o: { zero?: string; min?: number; max?: number } = {}): Kind<number, number | string> {
  const zero = o.zero ? ` (0 = ${o.zero})` : '';
  const range = o.min === undefined && o.max === undefined ? '' : ` between ${sizeText(o.min ?? 0)} and ${o.max === undefined ? 'any size' : sizeText(o.max)}`;
  const inRange = (n: number): number => {
    if ((o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) throw new Invalid();
    return n;
  };
  const parseString = (s: string): number => {
    const m = SIZE.exec(s);
    if (!m) throw new Invalid();
    const n = Number(m[1]) * SIZE_UNITS[m[2] ?? ''];
    if (!Number.isSafeInteger(n)) throw new Invalid();
    return inRange(n);
  };
  return {
    name: 'bytes',
    expected: `a whole number of bytes, or a size with a Ki/Mi/Gi/Ti suffix such as "10Gi"${range}${zero}`,
    fromProp: (v) => {
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return inRange(v);
      if (typeof v === 'string') return parseString(v);
      throw new Invalid();
    },
    toProp: (n) => n,
    env: {
      expected: `a byte count with optional Ki/Mi/Gi/Ti suffix${range}${zero}`,
      parse: parseString,
      render: (n) => String(n),
      samples: o.min === undefined && o.max === undefined
        ? { valid: ['0', '1024', '10Gi'], invalid: ['10GB', '1.5Gi', '-1', '10 Gi'] }
        : { valid: [sizeText(o.min ?? 0), ...(o.max !== undefined ? [sizeText(o.max)] : [])], invalid: ['10GB', '-1', ...(o.max !== undefined ? [String(o.max + 1)] : [])] },
    },
    schema: { oneOf: [{ type: 'integer', minimum: o.min ?? 0, ...(o.max !== undefined ? { maximum: o.max } : {}) }, { type: 'string', pattern: SIZE.source }] },
    tsType: 'number | string',
    samples: o.min === undefined && o.max === undefined
      ? { valid: [0, 1073741824, '10Gi', '512Mi'], invalid: ['10GB', -1, 1.5, '1.5Gi', true] }
      : { valid: [o.min ?? 0, ...(o.max !== undefined ? [sizeText(o.max)] : [])], invalid: ['10GB', -1, 1.5, true, ...(o.max !== undefined ? [o.max + 1] : [])] },
  };
}

// ---------------------------------------------------------------------------------------------
// names

export const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** RFC 1123 label: namespaces, Services, container and port names. */
export function dnsLabel(): Kind<string> {
  return stringKind({
    name: 'DNS label',
    expected: 'a Kubernetes name (RFC 1123 label): at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit',
    check: matching(DNS_LABEL_RE, (s) => s.length <= 63),
    schema: { pattern: DNS_LABEL_RE.source, maxLength: 63 },
    valid: ['memory-leak-demo', 'a'],
    invalid: ['Memory_Leak', 'a'.repeat(64), '-a', 'a.b', ''],
  });
}

/** RFC 1123 subdomain: node names and most object names (ConfigMaps, PriorityClasses, StorageClasses ...). */
export function dnsSubdomain(): Kind<string> {
  return stringKind({
    name: 'DNS subdomain',
    expected: 'a Kubernetes name (RFC 1123 subdomain): at most 253 lowercase letters, digits, \'-\' and \'.\', starting and ending with a letter or digit',
    check: matching(DNS_SUBDOMAIN_RE, (s) => s.length <= 253),
    schema: { pattern: DNS_SUBDOMAIN_RE.source, maxLength: 253 },
    valid: ['dump-storage-pvc', 'worker-1.example.com'],
    invalid: ['Worker_1', 'dump storage', '-a', 'a..b', ''],
  });
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_RE = /^\d+\.\d+\.\d+\.\d+$/;

/** S3 bucket naming rules (the subset every S3-compatible server accepts). */
export function bucket(): Kind<string> {
  return stringKind({
    name: 'bucket',
    expected: 'an S3 bucket name: 3-63 lowercase letters, digits, \'.\' and \'-\', starting and ending with a letter or digit, not an IP address',
    check: matching(BUCKET_RE, (s) => !s.includes('..') && !IPV4_RE.test(s)),
    schema: { pattern: BUCKET_RE.source, not: { anyOf: [{ pattern: '\\.\\.' }, { pattern: IPV4_RE.source }] } },
    valid: ['heap-dumps', 'payments.heap-dumps'],
    invalid: ['My_Bucket', 'ab', '192.168.1.1', 'a..b', ''],
  });
}

// Control characters (C0 and DEL) and backslashes: S3 accepts them, but consoles, CLIs and log lines mangle them.
const PREFIX_BAD = /[\u0000-\u001f\u007f\\]/;

/**
 * S3 key prefix: keys are `<prefix><node>/...`. '' (none) or a prefix that ends in '/': a missing
 * trailing '/' is added, so "team-a" means "team-a/". No leading '/' (an empty first key segment).
 */
export function prefix(): Kind<string> {
  const expected = 'an S3 key prefix such as "memory-leak-demo/" (no leading "/", no control characters or backslashes, at most 512 characters; a missing trailing "/" is added)';
  const check = (s: string): string => {
    if (s.startsWith('/') || PREFIX_BAD.test(s) || s.length > 512) throw new Invalid();
    return s === '' || s.endsWith('/') ? s : `${s}/`;
  };
  const kind = stringKind({
    name: 'prefix',
    expected,
    check,
    schema: { maxLength: 512, pattern: '^(?!/)[^\\u0000-\\u001f\\u007f\\\\]*$' },
    valid: ['memory-leak-demo/', 'prod', ''],
    invalid: ['/dumps/', 'a\nb', 'a\\b', 'x'.repeat(513)],
  });
  return { ...kind, env: { ...kind.env!, samples: { valid: ['memory-leak-demo/', 'prod'], invalid: ['/dumps/', 'a\nb', 'a\\b'] } } };
}

/** S3 endpoint: an http(s) URL without credentials; trailing '/' removed. */
export function httpUrl(): Kind<string> {
  const expected = 'an http:// or https:// URL without credentials, e.g. https://s3.example.com:9000';
  const check = (s: string): string => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new Invalid();
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || /\s/.test(s)) {
      throw new Invalid();
    }
    return s.replace(/\/+$/, '');
  };
  const kind = stringKind({
    name: 'URL',
    expected,
    check,
    // Scheme, then a host[:port] without userinfo ('@'), then an optional path.
    schema: { pattern: '^https?://[^\\s/?#@]+([/?#]\\S*)?$' },
    valid: ['https://s3.example.com:9000', 'http://127.0.0.1:9000', 'https://minio.example.com/'],
    invalid: ['minio:9000', 'ftp://x', 'https://key:secret@s3.example.com', 's3.example.com', ''],
  });
  // Credentials in a URL are secrets: a message shows the URL without them.
  return { ...kind, redact: (v) => v.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1<redacted>@') };
}

const REGION_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** AWS region name (or an S3-compatible server's region): lowercase, as SigV4 signs it. */
export function region(): Kind<string> {
  return stringKind({
    name: 'region',
    expected: 'a region name such as us-east-1 (lowercase letters, digits and \'-\')',
    check: matching(REGION_RE),
    schema: { pattern: REGION_RE.source },
    valid: ['us-east-1', 'eu-central-1', 'default'],
    invalid: ['US-EAST-1', 'us east', 'eu_west', '-x', ''],
  });
}

// Docker reference grammar (github.com/distribution/reference): [domain[:port]/]path[:tag][@digest], path lowercase.
const IMAGE_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_DOMAIN = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?';
const IMAGE_RE = new RegExp(
  `^(?:${IMAGE_DOMAIN}/)?${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}))?$`,
);

/** What follows `@` in a reference the constructs accept: the digests registries compute. */
const DIGEST_RE = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const DIGEST_EXPECTED = 'a digest after "@": sha256: and 64 lowercase hex digits (or sha512: and 128), '
  + 'e.g. registry.example.com/team/heapdump-agent:0.1.0@sha256:<64 hex digits>';

/**
 * A container image reference: lowercase repository, optional `:tag`, optional `@sha256:...` digest (a
 * release pins the agent by digest: `repo@sha256:...` or `repo:tag@sha256:...`). A malformed digest gets
 * its own message: "a reference" would not say what is wrong with it.
 */
export function image(): Kind<string> {
  return stringKind({
    name: 'image',
    expected: 'a container image reference such as registry.example.com/team/heapdump-agent:0.1.0 (lowercase repository, optional :tag and @sha256: digest)',
    check: (s) => {
      const at = s.indexOf('@');
      if (at > 0 && s.length <= 4096 && IMAGE_RE.test(s.slice(0, at)) && !DIGEST_RE.test(s.slice(at + 1))) throw new Invalid(DIGEST_EXPECTED);
      return matching(IMAGE_RE, (v) => v.length <= 4096)(s);
    },
    schema: { pattern: IMAGE_RE.source },
    valid: ['registry.example.com/team/heapdump-agent:0.1.0', 'image-registry.openshift-image-registry.svc:5000/ns/agent:1',
      `quay.io/a/b@sha256:${'ab'.repeat(32)}`, `registry.example.com/team/heapdump-agent:0.2.0@sha256:${'0f'.repeat(32)}`, 'eclipse-temurin:21.0.5_11-jdk'],
    invalid: ['', 'my app:1', 'Registry.example.com/Agent:1', 'a/b:', 'a:b:c', `a/b@sha256:${'ab'.repeat(16)}`, `a/b:1@sha256:${'AB'.repeat(32)}`, 'a/b@latest'],
  });
}

// Kubernetes quantity (storage, memory, CPU), strictly positive.
export const QUANTITY_RE = /^(?!0*(\.0*)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$)\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export function quantity(): Kind<string> {
  return stringKind({
    name: 'quantity',
    expected: 'a positive Kubernetes quantity such as 10Gi, 512Mi or 100m',
    check: matching(QUANTITY_RE),
    schema: { pattern: QUANTITY_RE.source },
    valid: ['10Gi', '100m', '1', '1.5G'],
    invalid: ['ten gigs', '0', '0Gi', '-1Gi', '10GB', ''],
    env: false,
  });
}

/** `-Xmx` size. */
export function heapSize(): Kind<string> {
  const re = /^[1-9]\d*[kKmMgG]?$/;
  return stringKind({
    name: 'heap size',
    expected: 'a -Xmx size such as 256m or 1g',
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['256m', '1g', '1073741824'],
    invalid: ['256MB', '0m', '1.5g', ''],
    env: false,
  });
}

/** Absolute URL path (probes). */
export function urlPath(): Kind<string> {
  const re = /^\/[\w\-./]*$/;
  return stringKind({
    name: 'URL path',
    expected: 'an absolute URL path such as /health',
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['/health', '/actuator/health'],
    invalid: ['health', '/a b', ''],
    env: false,
  });
}

/** IAM role ARN (IRSA). */
export function roleArn(): Kind<string> {
  const re = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
  return stringKind({
    name: 'role ARN',
    expected: 'an IAM role ARN such as arn:aws:iam::123456789012:role/heap-dump-uploader',
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['arn:aws:iam::123456789012:role/heap-dump-uploader'],
    invalid: ['uploader-role', 'arn:aws:iam::1234:role/x', ''],
    env: false,
  });
}

/** Free text, not empty (e.g. an access key id). */
export function text(): Kind<string> {
  return stringKind({
    name: 'text',
    expected: 'a non-empty string',
    check: (s) => {
      if (s.trim() === '') throw new Invalid();
      return s;
    },
    schema: { minLength: 1, pattern: '\\S' },
    valid: ['AKIAIOSFODNN7EXAMPLE'],
    invalid: ['', '  '],
    envInvalid: ['  '],
  });
}

// ---------------------------------------------------------------------------------------------
// agent paths and addresses (environment only in practice; the constructs set them)

export function absolutePath(): Kind<string> {
  return stringKind({
    name: 'absolute path',
    expected: 'an absolute path',
    check: (s) => {
      if (!s.startsWith('/') || s.includes('\0')) throw new Invalid();
      return s.length > 1 ? s.replace(/\/+$/, '') || '/' : s;
    },
    schema: { pattern: '^/' },
    valid: ['/mnt/dump', '/host/mnt/dump/'],
    invalid: ['mnt/dump', 'host/mnt', ''],
  });
}

export function fileName(): Kind<string> {
  return stringKind({
    name: 'file name',
    expected: 'a file name (no slashes, not . or ..)',
    check: (s) => {
      if (s === '' || s.includes('/') || s === '.' || s === '..' || s.includes('\0')) throw new Invalid();
      return s;
    },
    schema: { pattern: '^(?!\\.\\.?$)[^/\\u0000]+$' },
    valid: ['.ready', 'marker'],
    invalid: ['a/b', '..', '.', ''],
  });
}

/** A relative path without '..' (normalised: no empty or '.' segments). */
export function relativePath(): Kind<string> {
  return stringKind({
    name: 'relative path',
    expected: 'a relative path without ".." (e.g. my-namespace/my-pod)',
    check: (s) => {
      const parts = s.split('/').filter((p) => p !== '' && p !== '.');
      if (s.startsWith('/') || parts.includes('..') || parts.length === 0 || s.includes('\0')) throw new Invalid();
      return parts.join('/');
    },
    schema: { pattern: '^(?!/)(?!(.*/)?\\.\\.(/|$)).*[^/.]' },
    valid: ['ns-a/pod-1', '$(POD_NAMESPACE)/$(POD_NAME)'],
    invalid: ['../etc', '/abs', 'ns/../../x', ''],
  });
}

/** An IP address or host name to bind. */
export function host(): Kind<string> {
  const re = /^[0-9a-zA-Z.:-]+$/;
  return stringKind({
    name: 'host',
    expected: 'an IP address or host name to bind',
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['0.0.0.0', '127.0.0.1', '::'],
    invalid: ['a b', 'http://x', ''],
  });
}

// ---------------------------------------------------------------------------------------------
// lists and objects

/** File name globs (`*`, `?`): a JSON list in props, comma-separated in the environment. */
export function globList(): Kind<readonly string[]> {
  const itemRe = /^[^,/]*[^,/\s][^,/]*$/;
  const checkItems = (items: readonly string[]): string[] => {
    const trimmed = items.map((p) => p.trim());
    if (trimmed.length === 0 || trimmed.some((p) => !itemRe.test(p))) throw new Invalid();
    return trimmed;
  };
  return {
    name: 'globs',
    expected: 'a non-empty list of file name globs such as ["*.hprof"] (no "," or "/" in a glob)',
    fromProp: (v) => {
      if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) throw new Invalid();
      return checkItems(v as string[]);
    },
    toProp: (list) => list,
    env: {
      expected: 'comma-separated file name globs (e.g. *.hprof,*.phd)',
      parse: (raw) => checkItems(raw.split(',')),
      render: (list) => list.join(','),
      samples: { valid: ['*.hprof', ' *.hprof , core.* '], invalid: ['*.hprof,,*.phd', 'dumps/*.hprof', ','] },
    },
    schema: { type: 'array', minItems: 1, items: { type: 'string', pattern: itemRe.source } },
    tsType: 'readonly string[]',
    samples: { valid: [['*.hprof'], ['*.hprof', '*.phd']], invalid: [[], ['*.hprof,*.phd'], ['dumps/*.hprof'], '*.hprof', [' ']] },
  };
}

// Kubernetes qualified name (annotation keys): [DNS subdomain '/'] name.
export const QUALIFIED_NAME_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** One annotation (or label) key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
export function annotationKey(): Kind<string> {
  return stringKind({
    name: 'annotation key',
    expected: 'a qualified annotation key such as example.com/inject (optional DNS-subdomain prefix, a name of at most 63 characters)',
    check: matching(QUALIFIED_NAME_RE, (s) => s.length <= 317),
    schema: { pattern: QUALIFIED_NAME_RE.source },
    valid: ['heapdump-pipeline.io/inject', 'example.com/containers', 'inject'],
    invalid: ['', 'not a key', 'Example.com/x', '/x', 'a/b/c'],
  });
}

/** Kubernetes annotations: qualified-name keys, string values. */
export function annotations(): Kind<Readonly<Record<string, string>>> {
  const expected = 'an object of annotations: keys such as example.com/name, string values';
  return {
    name: 'annotations',
    expected,
    fromProp: (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid();
      for (const [k, val] of Object.entries(v)) {
        if (!QUALIFIED_NAME_RE.test(k) || k.length > 316) throw new Invalid('an annotation key such as example.com/name', k, k);
        if (typeof val !== 'string') throw new Invalid('a string', k, val);
      }
      return { ...(v as Record<string, string>) };
    },
    toProp: (m) => m,
    schema: { type: 'object', propertyNames: { pattern: QUALIFIED_NAME_RE.source }, additionalProperties: { type: 'string' } },
    tsType: 'Readonly<Record<string, string>>',
    samples: {
      valid: [{ 'iam.gke.io/gcp-service-account': 'x@y.iam.gserviceaccount.com' }, {}],
      invalid: [{ 'bad key': 'x' }, { 'example.com/n': 5 }, ['x'], 'x'],
    },
  };
}

export interface ContainerResourcesValue {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Container requests and limits: all four values required, each a positive quantity. */
export function resources(): Kind<ContainerResourcesValue> {
  const q = quantity();
  const object = (v: unknown, path: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid(`an object with ${keys.join(' and ')}`, path || undefined, v);
    const unknown = Object.keys(v).find((k) => !keys.includes(k));
    if (unknown !== undefined) {
      throw new UnknownKeyInvalid(keys, path ? `${path}.${unknown}` : unknown, (v as Record<string, unknown>)[unknown]);
    }
    return v as Record<string, unknown>;
  };
  const quantityAt = (v: unknown, path: string): string => {
    try {
      return q.fromProp(v);
    } catch {
      throw new Invalid(q.expected, path, v);
    }
  };
  const pair = (v: unknown, path: string) => {
    const o = object(v, path, ['cpu', 'memory']);
    return { cpu: quantityAt(o.cpu, `${path}.cpu`), memory: quantityAt(o.memory, `${path}.memory`) };
  };
  const pairSchema = {
    type: 'object', additionalProperties: false, required: ['cpu', 'memory'],
    properties: { cpu: q.schema, memory: q.schema },
  };
  return {
    name: 'resources',
    expected: 'container resources {"requests": {"cpu", "memory"}, "limits": {"cpu", "memory"}}, all four Kubernetes quantities',
    fromProp: (v) => {
      const o = object(v, '', ['requests', 'limits']);
      return { requests: pair(o.requests, 'requests'), limits: pair(o.limits, 'limits') };
    },
    toProp: (r) => r,
    schema: { type: 'object', additionalProperties: false, required: ['requests', 'limits'], properties: { requests: pairSchema, limits: pairSchema } },
    tsType: 'ContainerResources',
    tsDeclarations: [
      '/** Container resources: all four values, as Kubernetes quantities (e.g. `100m`, `128Mi`). */',
      'export interface ContainerResources {',
      '  readonly requests: { readonly cpu: string; readonly memory: string };',
      '  readonly limits: { readonly cpu: string; readonly memory: string };',
      '}',
    ].join('\n'),
    samples: {
      valid: [{ requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } }],
      invalid: [
        { requests: { cpu: 'lots', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } },
        { requests: { cpu: '50m' }, limits: { cpu: '1', memory: '1Gi' } },
        { requests: { cpu: '50m', memory: '64Mi' } },
        { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' }, extra: {} },
        '1Gi',
      ],
    },
  };
}

/** A set of values from a fixed list: a JSON list in props, comma-separated in the environment (duplicates dropped). */
export function oneOfList<const V extends string>(values: readonly V[], typeName?: string): Kind<readonly V[]> {
  const expected = `a non-empty list of ${values.join(', ')}`;
  const envExpected = `a comma-separated subset of ${values.join(', ')}`;
  const check = (items: readonly unknown[]): V[] => {
    const trimmed = items.map((p) => (typeof p === 'string' ? p.trim() : p));
    if (trimmed.length === 0 || trimmed.some((p) => typeof p !== 'string' || !(values as readonly string[]).includes(p))) throw new Invalid();
    return [...new Set(trimmed as V[])];
  };
  const itemType = typeName ?? values.map((v) => `'${v}'`).join(' | ');
  return {
    name: 'list',
    expected,
    fromProp: (v) => {
      if (!Array.isArray(v)) throw new Invalid();
      return check(v);
    },
    toProp: (list) => list,
    env: {
      expected: envExpected,
      parse: (raw) => check(raw.split(',')),
      render: (list) => list.join(','),
      samples: { valid: [values.join(','), ` ${values[0]} `], invalid: [`${values[0]},`, 'x', ','] },
    },
    schema: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: values } },
    tsType: `readonly (${itemType})[]`,
    ...(typeName !== undefined ? { tsDeclarations: `export type ${typeName} = ${values.map((v) => `'${v}'`).join(' | ')};` } : {}),
    samples: { valid: [[...values], [values[0]]], invalid: [[], ['x'], values[0], [7]] },
  };
}

/** A URL with one of `protocols` (e.g. ['https:']) and a host; kept as written (trimmed): a webhook's path may end in '/'. */
export function url(protocols: readonly ('http:' | 'https:')[]): Kind<string> {
  const schemes = protocols.map((p) => `${p}//`).join(' or ');
  const check = (s: string): string => {
    let u: URL;
    try {
      u = new URL(s.trim());
    } catch {
      throw new Invalid();
    }
    if (!(protocols as readonly string[]).includes(u.protocol) || u.hostname === '') throw new Invalid();
    return s.trim();
  };
  return stringKind({
    name: 'URL',
    expected: `an ${schemes} URL`,
    check,
    schema: { pattern: `^\\s*(${protocols.map((p) => p.slice(0, -1)).join('|')})://\\S+` },
    valid: protocols.includes('http:') ? ['https://hooks.example.com/services/T0/B0/x', 'http://127.0.0.1:8080/'] : ['https://10.0.0.1:6443', 'https://api.example.com/'],
    invalid: ['hooks.example.com', 'ftp://x', ...(protocols.includes('http:') ? [] : ['http://api.example.com']), ''],
  });
}

/**
 * A KMS key for SSE-KMS as S3 takes it in x-amz-server-side-encryption-aws-kms-key-id: a key id, a key ARN, an
 * alias (`alias/name`) or an alias ARN on AWS; a key name on S3-compatible servers (Ceph RGW: the KMS backend's key
 * name). No spaces or control characters (it is a header value).
 */
export function kmsKeyId(): Kind<string> {
  const re = /^[A-Za-z0-9:/_+=.@-]{1,2048}$/;
  return stringKind({
    name: 'KMS key id',
    expected: 'a KMS key id, key ARN or alias (letters, digits and : / _ + = . @ -, at most 2048 characters)',
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', 'alias/heap-dumps', 'testkey-1'],
    invalid: ['my key', 'a\nb', ''],
  });
}

/** A short one-line text: 1 to `max` characters, no control characters (e.g. a cluster name shown in messages). */
export function shortText(max: number): Kind<string> {
  const re = new RegExp(`^[^\\u0000-\\u001f\\u007f]{1,${max}}$`);
  return stringKind({
    name: 'short text',
    expected: `a text of at most ${max} characters without control characters`,
    check: matching(re),
    schema: { pattern: re.source },
    valid: ['prod-eu-1', 'Production (EU)'],
    invalid: ['a\nb', 'x'.repeat(max + 1), ''],
  });
}

/** Kubernetes labels: qualified-name keys, label values (at most 63 characters of letters, digits, '-', '_', '.'). */
export function labels(): Kind<Readonly<Record<string, string>>> {
  const valueRe = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
  return {
    name: 'labels',
    expected: 'an object of labels: keys such as example.com/name, values of at most 63 letters, digits, \'-\', \'_\' and \'.\'',
    fromProp: (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Invalid();
      for (const [k, val] of Object.entries(v)) {
        if (!QUALIFIED_NAME_RE.test(k) || k.length > 316) throw new Invalid('a label key such as example.com/name', k, k);
        if (typeof val !== 'string' || !valueRe.test(val)) throw new Invalid('a label value: at most 63 letters, digits, \'-\', \'_\' and \'.\'', k, val);
      }
      return { ...(v as Record<string, string>) };
    },
    toProp: (m) => m,
    schema: { type: 'object', propertyNames: { pattern: QUALIFIED_NAME_RE.source }, additionalProperties: { type: 'string', pattern: valueRe.source } },
    tsType: 'Readonly<Record<string, string>>',
    samples: { valid: [{ release: 'kube-prometheus-stack' }, {}], invalid: [{ 'bad key': 'x' }, { team: 'a b' }, ['x'], 'x'] },
  };
}

/** A collected namespace after validation: its name and, optionally, the only ServiceAccounts that may use the application SCC. */
export interface CollectedNamespaceValue {
  readonly name: string;
  readonly serviceAccounts?: readonly string[];
}

/**
 * Namespaces whose services may be collected: each a namespace name, or `{ name, serviceAccounts }` to
 * grant the application SCC to those ServiceAccounts only (default: every ServiceAccount of the namespace).
 * Names are unique.
 */
export function collectedNamespaces(): Kind<readonly CollectedNamespaceValue[], readonly (string | CollectedNamespaceValue)[]> {
  const ns = dnsLabel();
  const sub = dnsSubdomain();
  const name = (v: unknown, path: string): string => {
    try {
      return ns.fromProp(v);
    } catch {
      throw new Invalid(ns.expected, path, v);
    }
  };
  return {
    name: 'namespaces',
    expected: 'a list of namespace names, or of {"name": ..., "serviceAccounts": [...]} objects',
    fromProp: (v) => {
      if (!Array.isArray(v)) throw new Invalid();
      const seen = new Set<string>();
      return v.map((item, i): CollectedNamespaceValue => {
        let out: CollectedNamespaceValue;
        if (typeof item === 'string') out = { name: name(item, `[${i}]`) };
        else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
          const o = item as Record<string, unknown>;
          const extra = Object.keys(o).find((k) => k !== 'name' && k !== 'serviceAccounts');
          if (extra !== undefined) throw new UnknownKeyInvalid(['name', 'serviceAccounts'], `[${i}].${extra}`, o[extra]);
          const n = name(o.name, `[${i}].name`);
          if (o.serviceAccounts === undefined) out = { name: n };
          else {
            const list = o.serviceAccounts;
            if (!Array.isArray(list) || list.length === 0) throw new Invalid('a non-empty list of ServiceAccount names', `[${i}].serviceAccounts`, list);
            const sas = list.map((s, j) => {
              try {
                return sub.fromProp(s);
              } catch {
                throw new Invalid(sub.expected, `[${i}].serviceAccounts[${j}]`, s);
              }
            });
            out = { name: n, serviceAccounts: [...new Set(sas)] };
          }
        } else throw new Invalid('a namespace name or {"name": ..., "serviceAccounts": [...]}', `[${i}]`, item);
        if (seen.has(out.name)) throw new Invalid('each namespace once', `[${i}]`, out.name);
        seen.add(out.name);
        return out;
      });
    },
    toProp: (list) => list,
    schema: {
      type: 'array',
      // Catches a name listed twice the same way; "a" next to {"name": "a"} only the constructs see.
      uniqueItems: true,
      items: {
        oneOf: [
          { type: 'string', pattern: DNS_LABEL_RE.source, maxLength: 63 },
          {
            type: 'object', additionalProperties: false, required: ['name'],
            properties: {
              name: { type: 'string', pattern: DNS_LABEL_RE.source, maxLength: 63 },
              serviceAccounts: { type: 'array', minItems: 1, items: { type: 'string', pattern: DNS_SUBDOMAIN_RE.source, maxLength: 253 } },
            },
          },
        ],
      },
    },
    tsType: 'readonly (string | CollectedNamespace)[]',
    tsDeclarations: [
      '/** A collected namespace: its name and the only ServiceAccounts that may use the application SCC (default: all of the namespace\'s). */',
      'export interface CollectedNamespace {',
      '  readonly name: string;',
      '  readonly serviceAccounts?: readonly string[];',
      '}',
    ].join('\n'),
    samples: {
      valid: [[], ['team-a', { name: 'team-b', serviceAccounts: ['orders-api'] }]],
      invalid: [['Team_A'], ['a', 'a'], [{ name: 'a', serviceAccounts: [] }], [{ name: 'a', extra: 1 }], 'team-a', [7]],
    },
  };
}

/** A key of a Secret or ConfigMap: letters, digits, '-', '_' and '.', at most 253 characters. */
export function secretKey(): Kind<string> {
  const re = /^(?!\.\.?$)[-._a-zA-Z0-9]+$/;
  return stringKind({
    name: 'key',
    expected: 'a Secret key (letters, digits, \'-\', \'_\' and \'.\')',
    check: matching(re, (s) => s.length <= 253),
    schema: { pattern: re.source, maxLength: 253 },
    valid: ['url', 'webhook.url'],
    invalid: ['a/b', 'a b', '..', ''],
    env: false,
  });
}
