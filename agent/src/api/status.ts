/**
 * Answers of the API port: JSON documents and Kubernetes `Status` objects for every error (what kubectl and
 * oc print as "Error from server (Forbidden): ..."). Messages never name another namespace's dump or key.
 */
import type * as http from 'node:http';

export type StatusReason = 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'MethodNotAllowed' | 'NotAcceptable'
  | 'RequestedRangeNotSatisfiable' | 'ServiceUnavailable' | 'InternalError';

export interface KubeStatus {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: StatusReason;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
  readonly code: number;
}

export function status(code: number, reason: StatusReason, message: string, details?: KubeStatus['details']): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details !== undefined ? { details } : {}), code };
}

export const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

export function sendJson(res: http.ServerResponse, code: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...SECURITY_HEADERS, ...extra });
  res.end(text);
}

export function sendStatus(res: http.ServerResponse, s: KubeStatus, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    // Too late for a Status (a download already streaming): end the connection so the client sees a cut, not a file.
    res.destroy();
    return;
  }
  sendJson(res, s.code, s, extra);
}
