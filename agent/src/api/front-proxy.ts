/**
 * The aggregation layer's identity headers (as metrics-server and every aggregated API server reads them).
 *
 * The API server authenticates the user, then proxies the request to us over TLS with its front-proxy client
 * certificate and X-Remote-User / X-Remote-Group / X-Remote-Extra-* headers. Those headers are believed only
 * on a connection whose client certificate verifies against the requestheader client CA and whose common name
 * is one of the allowed names; on any other connection they are ignored (a forged X-Remote-User is nothing).
 * CA, names and header names come from the `extension-apiserver-authentication` ConfigMap in kube-system,
 * which the API server keeps current; the server re-reads it periodically.
 */
import type * as http from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { UserInfo } from './identity';

export interface RequestHeaderConfig {
  /** PEM of the CA that signs the front proxy's client certificate. */
  readonly clientCa: string;
  /** Common names a front-proxy certificate may have; empty: any certificate of that CA. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly uidHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraHeaderPrefixes: readonly string[];
}

export const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

function jsonList(data: Record<string, string>, key: string, fallback: readonly string[]): readonly string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return fallback;
  const parsed = JSON.parse(raw) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) throw new Error(`${key} is not a JSON list of strings`);
  return parsed as string[];
}

/** The ConfigMap's data -> the config; undefined when it has no requestheader CA (aggregation not set up). */
export function parseRequestHeaderConfig(data: Record<string, string> | undefined): RequestHeaderConfig | undefined {
  const ca = data?.['requestheader-client-ca-file'];
  if (data === undefined || ca === undefined || !ca.includes('BEGIN CERTIFICATE')) return undefined;
  return {
    clientCa: ca,
    allowedNames: jsonList(data, 'requestheader-allowed-names', []),
    usernameHeaders: jsonList(data, 'requestheader-username-headers', ['X-Remote-User']),
    uidHeaders: jsonList(data, 'requestheader-uid-headers', []),
    groupHeaders: jsonList(data, 'requestheader-group-headers', ['X-Remote-Group']),
    extraHeaderPrefixes: jsonList(data, 'requestheader-extra-headers-prefix', ['X-Remote-Extra-']),
  };
}

/** Every value of a header, one per occurrence (never split at commas: a group name may hold one). */
function values(req: http.IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name.toLowerCase()] ?? []).filter((v) => v !== '');
}

export type FrontProxyResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'user'; readonly user: UserInfo }
  | { readonly kind: 'no-user' };

/**
 * `none`: not a verified front-proxy connection (its headers, if any, are ignored); `user`: the forwarded user;
 * `no-user`: a verified front proxy that named no user (refused, never anonymous).
 */
export function frontProxyUser(req: http.IncomingMessage, config: RequestHeaderConfig | undefined): FrontProxyResult {
  const socket = req.socket as TLSSocket;
  if (config === undefined || typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return { kind: 'none' };
  const cert = socket.getPeerCertificate();
  if (cert === null || cert.subject === undefined) return { kind: 'none' };
  const cn = Array.isArray(cert.subject.CN) ? cert.subject.CN[0] : cert.subject.CN;
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(cn ?? '')) return { kind: 'none' };
  const username = config.usernameHeaders.map((h) => values(req, h)[0]).find((v) => v !== undefined);
  if (username === undefined) return { kind: 'no-user' };
  const uid = config.uidHeaders.map((h) => values(req, h)[0]).find((v) => v !== undefined);
  const groups = config.groupHeaders.flatMap((h) => values(req, h));
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
    for (const header of Object.keys(req.headersDistinct)) {
      if (!header.startsWith(prefix) || header.length === prefix.length) continue;
      // Keys are sent lower-case and percent-encoded (k8s.io/apiserver requestheader).
      let key: string;
      try {
        key = decodeURIComponent(header.slice(prefix.length));
      } catch {
        key = header.slice(prefix.length);
      }
      extra[key] = [...(extra[key] ?? []), ...values(req, header)];
    }
  }
  return { kind: 'user', user: { username, ...(uid !== undefined ? { uid } : {}), groups, extra } };
}
