/** The status line and headers of an HTTP/1.1 answer, as direct-response.ts reads them off the socket. */

export interface ResponseHead {
  readonly statusCode: number;
  readonly reason: string;
  /** Lower-case names; a repeated header's values joined with ", ". */
  readonly headers: Record<string, string>;
  /** Undefined when the body is framed otherwise (chunked, or until the connection closes). */
  readonly contentLength?: number;
}

/** `text`: everything before the blank line. A string is what is wrong with it. */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (status === null) return `S3 answered with something that is not HTTP/1.1: ${JSON.stringify(lines[0].slice(0, 80))}`;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const length = headers['transfer-encoding'] === undefined && /^\d+$/.test(headers['content-length'] ?? '') ? Number(headers['content-length']) : undefined;
  return { statusCode: Number(status[1]), reason: status[2] ?? '', headers, ...(length !== undefined ? { contentLength: length } : {}) };
}
