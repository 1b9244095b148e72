/**
 * Request path -> what is asked, strictly. Each `/`-separated segment is percent-decoded exactly once; a segment
 * that is `.` or `..` (before or after decoding), that decodes to something holding `/`, `\`, `%` or a control
 * character (double encoding, encoded traversal), or that does not decode at all, makes the whole request
 * malformed (400): nothing is resolved, normalised or looked up. Namespaces must be DNS labels and names must
 * have the shape of a dump name (agent/src/dump-name.ts).
 */
import { isDumpName } from '../dump-name';
import { API_GROUP, API_VERSION, RESOURCE, type Subresource, SUBRESOURCE_NAMES } from './paths';

export type Route =
  | { readonly kind: 'discovery'; readonly path: string }
  | { readonly kind: 'list'; readonly namespace?: string }
  | { readonly kind: 'get'; readonly namespace: string; readonly name: string; readonly subresource?: Subresource }
  | { readonly kind: 'malformed'; readonly why: string }
  | { readonly kind: 'not-found' };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UNSAFE = /[/\\%\u0000-\u001f\u007f]/;

/** The decoded segments of a path, or why it is malformed (the rules above). */
export function segments(rawPath: string): string[] | string {
  if (!rawPath.startsWith('/')) return 'the path does not start with /';
  const raw = rawPath.slice(1).split('/');
  const out: string[] = [];
  for (const r of raw) {
    if (r === '') return 'the path has an empty segment';
    let d: string;
    try {
      d = decodeURIComponent(r);
    } catch {
      return 'a path segment is not valid percent-encoding';
    }
    if (r === '.' || r === '..' || d === '.' || d === '..' || UNSAFE.test(d)) return 'a path segment is not a plain name';
    out.push(d);
  }
  return out;
}

/** The route of a request target (`req.url`: path and query). */
export function parseRoute(target: string): Route {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (path === '/apis') return { kind: 'discovery', path };
  const s = segments(path);
  if (typeof s === 'string') return { kind: 'malformed', why: s };
  if (s[0] !== 'apis' || s[1] !== API_GROUP) return { kind: 'not-found' };
  if (s.length === 2) return { kind: 'discovery', path: `/apis/${API_GROUP}` };
  if (s[2] !== API_VERSION) return { kind: 'not-found' };
  if (s.length === 3) return { kind: 'discovery', path: `/apis/${API_GROUP}/${API_VERSION}` };
  const rest = s.slice(3);
  if (rest.length === 1 && rest[0] === RESOURCE) return { kind: 'list' };
  if (rest[0] !== 'namespaces' || rest.length < 3 || rest[2] !== RESOURCE) return { kind: 'not-found' };
  const namespace = rest[1];
  if (!DNS_LABEL.test(namespace)) return { kind: 'malformed', why: 'the namespace is not a namespace name' };
  if (rest.length === 3) return { kind: 'list', namespace };
  const name = rest[3];
  if (!isDumpName(name)) return { kind: 'malformed', why: 'the name is not a heap dump name' };
  if (rest.length === 4) return { kind: 'get', namespace, name };
  const sub = rest[4] as Subresource;
  if (rest.length === 5 && SUBRESOURCE_NAMES.includes(sub)) return { kind: 'get', namespace, name, subresource: sub };
  return { kind: 'not-found' };
}

/** `k=v`, `k==v`, `k!=v` terms of a label selector; undefined for anything else (set-based selectors). */
export function parseLabelSelector(raw: string): Array<{ key: string; value: string; equal: boolean }> | undefined {
  if (raw.trim() === '') return [];
  const terms: Array<{ key: string; value: string; equal: boolean }> = [];
  for (const t of raw.split(',')) {
    const m = /^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$/.exec(t);
    if (m === null) return undefined;
    terms.push({ key: m[1], value: m[3], equal: m[2] !== '!=' });
  }
  return terms;
}
