/**
 * Webhook notifications: a generic JSON document or a Slack incoming-webhook message, POSTed to a
 * URL that comes from a Secret.
 *
 * The URL's path, query and userinfo are the secret (a Slack webhook URL is a bearer credential),
 * so nothing here logs more than `scheme://host[:port]`, and every error text is scrubbed of the URL
 * and its parts before it can reach a log line (an HTTP client's "Invalid URL <url>" would leak it).
 */
import { promises as fsp } from 'fs';
import type { LogFields } from '../runtime/logger';
import { parseWebhookUrl, type WebhookFormat, type WebhookUrlSource } from './config';
import { createPost, type Post } from '../net/http-post';
import { escapeMrkdwn, escapeText, inertJson } from '../text/escape';
import type { AttemptOutcome } from './queue';
import {
  type ClassSize, type DumpReport, eventOf, formatBytes, formatCount, largestClasses, type NotificationEvent, preferredSummaryUri, summaryUris,
} from './report';

export const JSON_SCHEMA_ID = 'heapdump-pipeline.io/notification/v1';

/** The generic JSON document (versioned by `schema`). */
export interface JsonNotification {
  readonly schema: typeof JSON_SCHEMA_ID;
  readonly event: NotificationEvent;
  readonly cluster?: string;
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
  readonly object: { readonly uri: string; readonly key: string; readonly size: number; readonly sha256: string; readonly complete: boolean };
  readonly summary: { readonly keys: readonly string[]; readonly uris: readonly string[] };
  readonly topClasses: readonly ClassSize[];
  readonly uploadedAt: string;
  /** `oc heapdump get -n <ns> <name>` and the web page, when the heapdumps API is deployed. */
  readonly retrieval?: { readonly name: string; readonly command: string; readonly webUrl?: string };
  readonly text: string;
}

/**
 * The one-line message: every name in it escaped by `esc` (escapeText for plain text; escapeMrkdwn, with the
 * URI as inline code, for Slack's mrkdwn).
 */
export function plainText(report: DumpReport, cluster?: string, esc: (s: string) => string = escapeText, code = (s: string) => s): string {
  const where = `${cluster ? `${esc(cluster)}: ` : ''}${esc(report.namespace)}/${esc(report.pod)} on ${esc(report.node)}`;
  const uploaded = `${report.complete ? 'Heap dump' : 'Incomplete heap dump'} from ${where} uploaded to ${code(esc(report.objectUri))} (${formatBytes(report.size)})`;
  // The hint is made of a namespace (a DNS label), a dump name ([a-z0-9.-]) and the configured URL: nothing to escape.
  return report.retrieval !== undefined ? `${uploaded}. ${report.retrieval.text}` : uploaded;
}

export function jsonPayload(report: DumpReport, cluster?: string): JsonNotification {
  return {
    schema: JSON_SCHEMA_ID,
    event: eventOf(report),
    ...(cluster !== undefined ? { cluster } : {}),
    namespace: report.namespace,
    pod: report.pod,
    node: report.node,
    object: { uri: report.objectUri, key: report.key, size: report.size, sha256: report.sha256, complete: report.complete },
    summary: { keys: [...report.summaryKeys], uris: summaryUris(report) },
    topClasses: largestClasses(report.topClasses),
    uploadedAt: new Date(report.uploadedAt).toISOString(),
    ...(report.retrieval !== undefined ? { retrieval: { name: report.retrieval.name, command: report.retrieval.command, ...(report.retrieval.webUrl !== undefined ? { webUrl: report.retrieval.webUrl } : {}) } } : {}),
    text: plainText(report, cluster),
  };
}

function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

/** Block Kit limits (api.slack.com/reference/block-kit): header 150, section text 3000, field 2000 characters. */
export const SLACK_LIMITS = { header: 150, sectionText: 3000, field: 2000, fields: 10, blocks: 50, text: 40_000 } as const;

/**
 * A Slack incoming-webhook message: `text` (notifications, fallback) + blocks. Every name is escapeMrkdwn'd:
 * one line, `&<>` as entities (no `<!channel>`, no links), no backtick (a class name cannot end the table's
 * code block or the URI's inline code); names from the dump and the key stay inside code, where mrkdwn does
 * not format or link. The header is plain_text (no mrkdwn at all), escapeText'd.
 */
export function slackPayload(report: DumpReport, cluster?: string): { text: string; blocks: unknown[] } {
  const top = largestClasses(report.topClasses);
  const summary = preferredSummaryUri(report);
  const field = (label: string, value: string) => ({ type: 'mrkdwn', text: clip(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.field) });
  // Clipped inside the code span, so the closing backtick (or fence) is never cut off.
  const code = (s: string, max = SLACK_LIMITS.field - 300) => `\`${clip(s, max)}\``;
  const table = top.length === 0
    ? '_Top classes: not available (dump not analysed)._'
    : '*Top classes by shallow size*\n```\n' + top.map((c) => `${formatBytes(c.shallowBytes).padStart(10)}  ${formatCount(c.instances).padStart(13)}  ${clip(escapeMrkdwn(c.name), 900)}`).join('\n') + '\n```';
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${report.complete ? 'Heap dump' : 'Incomplete heap dump'}: ${escapeText(report.namespace)}/${escapeText(report.pod)}`, SLACK_LIMITS.header), emoji: false } },
    {
      type: 'section',
      fields: [
        field('Namespace', report.namespace),
        field('Pod', report.pod),
        field('Node', report.node),
        field('Size', formatBytes(report.size)),
        ...(cluster !== undefined ? [field('Cluster', cluster)] : []),
        ...(!report.complete ? [field('Complete', 'no: the file ends early, the summary is partial')] : []),
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*Object*\n${code(escapeMrkdwn(report.objectUri, 1024))}`, SLACK_LIMITS.sectionText) } },
    ...(report.retrieval !== undefined ? [{ type: 'section', text: { type: 'mrkdwn', text: clip(`*Get it*\n${code(escapeMrkdwn(report.retrieval.command, 1024))}${report.retrieval.webUrl !== undefined ? `\n${escapeMrkdwn(report.retrieval.webUrl, 1024)}` : ''}`, SLACK_LIMITS.sectionText) } }] : []),
    { type: 'section', text: { type: 'mrkdwn', text: clip(table, SLACK_LIMITS.sectionText) } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: clip(`sha256 ${report.sha256}${summary ? ` · summary ${code(escapeMrkdwn(summary, 1024))}` : ''} · ${new Date(report.uploadedAt).toISOString()}`, SLACK_LIMITS.field) }],
    },
  ];
  return { text: clip(plainText(report, cluster, (s) => escapeMrkdwn(s, 1024), (s) => code(s, 10_000)), SLACK_LIMITS.text), blocks };
}

/** The POST body: JSON whose raw names (the generic format's structured fields) are written as inert `\u` escapes. */
export function webhookBody(format: WebhookFormat, report: DumpReport, cluster?: string): string {
  return inertJson(format === 'slack' ? slackPayload(report, cluster) : jsonPayload(report, cluster));
}

/** `scheme://host[:port]`: the only part of a webhook URL that may be logged. */
export function safeOrigin(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** Removes the URL and its secret parts (userinfo, path, query, fragment) from a text. */
export function redactUrl(text: string, url: URL | undefined, raw?: string): string {
  const secrets = new Set<string>();
  if (raw) secrets.add(raw.trim());
  if (url) {
    secrets.add(url.href);
    const tail = url.pathname + url.search + url.hash;
    if (tail.length > 1) secrets.add(tail);
    if (url.pathname.length > 1) secrets.add(url.pathname);
    if (url.search.length > 1) secrets.add(url.search);
    if (url.username) secrets.add(url.username);
    if (url.password) secrets.add(url.password);
  }
  let out = text;
  // Longest first, so a full URL is replaced before its pieces.
  for (const s of [...secrets].filter((x) => x.length >= 2).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('[redacted]');
    // fetch and URL errors may show the URL percent-encoded or decoded
    for (const variant of [encodeURI(s), safeDecode(s)]) if (variant !== s && variant.length >= 2) out = out.split(variant).join('[redacted]');
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface WebhookChannelOptions<T = DumpReport> {
  readonly source: WebhookUrlSource;
  readonly format: WebhookFormat;
  readonly cluster?: string;
  /** The message for one item. @default webhookBody (a DumpReport) */
  readonly body?: (format: WebhookFormat, item: T, cluster?: string) => string;
  /**
   * The HTTP client. @default createPost() (node:https, Node's roots, no proxy); the uploader passes one with
   * its CA bundle and proxy. Never Node's fetch: it needs WebAssembly, which --jitless removes (net/http-post.ts).
   */
  readonly post?: Post;
  /** @default fs.promises.readFile */
  readonly readFile?: (path: string) => Promise<string>;
}

/** Resolves the URL (re-reading a mounted Secret file each time). Errors never contain the URL. */
export async function resolveWebhookUrl(source: WebhookUrlSource, readFile: (path: string) => Promise<string>): Promise<{ url?: URL; raw?: string; problem?: string }> {
  let raw: string;
  if (source.kind === 'env') raw = source.url;
  else {
    try {
      raw = (await readFile(source.path)).trim();
    } catch (error) {
      return { problem: `cannot read the webhook URL file ${source.path}: ${(error as { code?: string }).code ?? 'error'}` };
    }
  }
  const url = parseWebhookUrl(raw);
  return url ? { url, raw } : { raw, problem: `the webhook URL${source.kind === 'file' ? ` in ${source.path}` : ''} is not an http(s) URL` };
}

/** Seconds (or an HTTP date) from Retry-After, in ms; undefined when absent or unreadable. */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** One delivery attempt of the webhook channel. Also returns the origin to log (never the URL). */
export function webhookAttempt<T = DumpReport>(opts: WebhookChannelOptions<T>, now: () => number): {
  attempt: (report: T, signal: AbortSignal) => Promise<AttemptOutcome>;
  /** Scrubs the current URL out of any text. */
  redact: (text: string) => string;
  /** `scheme://host` of the URL last used, for log lines. */
  target: () => LogFields;
} {
  const doPost: Post = opts.post ?? createPost();
  const readFile = opts.readFile ?? ((p: string) => fsp.readFile(p, 'utf8'));
  let last: { url?: URL; raw?: string } = opts.source.kind === 'env' ? { url: parseWebhookUrl(opts.source.url), raw: opts.source.url } : {};
  const redact = (text: string) => redactUrl(text, last.url, last.raw);
  return {
    redact,
    target: () => (last.url ? { target: safeOrigin(last.url) } : {}),
    async attempt(report, signal) {
      const resolved = await resolveWebhookUrl(opts.source, readFile);
      last = { url: resolved.url ?? last.url, raw: resolved.raw ?? last.raw };
      if (!resolved.url) return { ok: false, retryable: opts.source.kind === 'file', cause: 'webhook URL', message: resolved.problem ?? 'no URL' };
      const target = safeOrigin(resolved.url);
      // Credentials in the URL go as Basic auth, never in the request line (nor in an error that prints the URL).
      const endpoint = new URL(resolved.url.href);
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'heapdump-pipeline-uploader' };
      if (endpoint.username || endpoint.password) {
        headers.authorization = 'Basic ' + Buffer.from(`${safeDecode(endpoint.username)}:${safeDecode(endpoint.password)}`).toString('base64');
        endpoint.username = '';
        endpoint.password = '';
      }
      let res;
      try {
        // Redirects are not followed (a redirect would send the message, and the URL's secret path, elsewhere).
        res = await doPost(endpoint.href, { method: 'POST', headers, body: opts.body ? opts.body(opts.format, report, opts.cluster) : webhookBody(opts.format, report as unknown as DumpReport, opts.cluster), signal });
      } catch (error) {
        // PostError carries the system error's code (ECONNREFUSED, ...); a fetch-like client wraps it in `cause`
        const e = error as { cause?: { code?: unknown; message?: unknown }; code?: unknown; name?: string; message?: string };
        const code = typeof e.cause?.code === 'string' ? e.cause.code : typeof e.code === 'string' ? e.code : e.name ?? 'Error';
        const detail = typeof e.cause?.message === 'string' ? e.cause.message : e.message ?? String(error);
        return { ok: false, retryable: true, cause: code, message: redact(`POST to ${target} failed: ${detail}`) };
      }
      // Read a little of the answer: Slack explains errors in a word (`invalid_payload`, `no_service`).
      let answer = '';
      try {
        answer = (await res.text()).slice(0, 200).replace(/\s+/g, ' ').trim();
      } catch {
        // the status is enough
      }
      if (res.status >= 200 && res.status < 300) return { ok: true, detail: { target, status: res.status } };
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      return {
        ok: false,
        retryable,
        cause: `HTTP ${res.status}`,
        message: redact(`POST to ${target} answered ${res.status}${answer ? `: ${answer}` : ''}`),
        ...(res.status === 429 || res.status === 503 ? { retryAfterMs: retryAfterMs(res.headers.get('retry-after'), now()) } : {}),
      };
    },
  };
}
