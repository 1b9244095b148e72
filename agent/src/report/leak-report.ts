/**
 * "A dump was analysed": what the analyzer tells the owning team once `<key>.leaks.json` is written, and
 * the short texts made from it (pure): the Event's note and the webhook's messages. The headline comes
 * from the leak report already escaped (agent/src/leaks/render.ts); everything else from a dump or a
 * tenant is escaped here before it is shown.
 */
import { escapeText } from '../text/escape';
import { truncateUtf8 } from './report';
import type { RetrievalHint } from './retrieval-hint';

/** What the analyzer knows about an analysed dump. */
export interface LeakNotice {
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
  /** `s3://<bucket>/<key>` of the dump object. */
  readonly objectUri: string;
  readonly key: string;
  /** Keys of `<key>.leaks.json` and `<key>.leaks.txt`. */
  readonly reportKeys: { readonly json: string; readonly text: string };
  readonly status: 'analyzed' | 'not-analyzed';
  /** The top suspect's line (escaped), null when there is none. */
  readonly headline: string | null;
  /** Why not analysed. */
  readonly reason?: string;
  /** Suspects found. */
  readonly suspects: number;
  /** When the report was written, ms since the epoch. */
  readonly analyzedAt: number;
  /** How the team reads the report with its own identity (`oc heapdump leaks ...`), when the heapdumps API is deployed. */
  readonly retrieval?: RetrievalHint;
}

export const LEAK_NOTIFICATION_EVENT = 'dump-analyzed';

/** `s3://bucket/` + key, from the dump's URI (which ends with its key). */
export function reportUri(n: LeakNotice, key: string): string {
  const base = n.objectUri.endsWith(n.key) ? n.objectUri.slice(0, n.objectUri.length - n.key.length) : '';
  return base + key;
}

/** The first sentence: the headline, or why there is none. Escaped. */
export function leakSentence(n: LeakNotice): string {
  if (n.status === 'not-analyzed') return `Heap dump ${escapeText(n.objectUri)} was not analysed for leaks: ${escapeText(n.reason ?? 'no reason given', 300)}.`;
  if (n.headline !== null) return n.headline;
  return `No leak suspect in heap dump ${escapeText(n.objectUri)}: no object or class retains 10 % of the heap or more.`;
}

/** Where the team reads the whole report: the command (and web page) when the API is there, else the S3 URI. */
export function reportPointer(n: LeakNotice): string {
  return n.retrieval !== undefined ? n.retrieval.text : `Leak report: ${escapeText(reportUri(n, n.reportKeys.text))}`;
}

/**
 * The Event's note (at most `maxBytes` UTF-8 bytes, the API server's limit): the headline first (what the
 * team needs), then where the report is; when too long, the report pointer goes, then the headline is cut.
 */
export function leakEventNote(n: LeakNotice, maxBytes = 1024): string {
  const first = leakSentence(n);
  const pointer = reportPointer(n);
  // a headline ends with a class name, not a full stop: the pointer is a sentence of its own
  const both = `${/[.!?]$/.test(first) ? first : `${first}.`} ${pointer}`;
  if (Buffer.byteLength(both, 'utf8') <= maxBytes) return both;
  return truncateUtf8(first, maxBytes);
}

/** The webhook's text line: `<cluster>: <ns>/<pod> on <node>: <headline>`. */
export function leakPlainText(n: LeakNotice, cluster?: string): string {
  return `${cluster ? `${escapeText(cluster)}: ` : ''}${escapeText(n.namespace)}/${escapeText(n.pod)} on ${escapeText(n.node)}: ${leakSentence(n)}`;
}

export const LEAK_NOTIFICATION_SCHEMA = 'heapdump-pipeline.io/notification/v1';

/** The generic JSON message (same schema as the upload notification, event `dump-analyzed`). */
export function leakJsonPayload(n: LeakNotice, cluster?: string): Record<string, unknown> {
  return {
    schema: LEAK_NOTIFICATION_SCHEMA,
    event: LEAK_NOTIFICATION_EVENT,
    ...(cluster !== undefined ? { cluster } : {}),
    namespace: n.namespace,
    pod: n.pod,
    node: n.node,
    object: { uri: n.objectUri, key: n.key },
    leaks: {
      status: n.status,
      headline: n.headline,
      ...(n.reason !== undefined ? { reason: n.reason } : {}),
      suspects: n.suspects,
      keys: [n.reportKeys.json, n.reportKeys.text],
      uris: [reportUri(n, n.reportKeys.json), reportUri(n, n.reportKeys.text)],
    },
    ...(n.retrieval !== undefined ? { retrieval: { name: n.retrieval.name, command: n.retrieval.command, ...(n.retrieval.webUrl !== undefined ? { webUrl: n.retrieval.webUrl } : {}) } } : {}),
    analyzedAt: new Date(n.analyzedAt).toISOString(),
    text: leakPlainText(n, cluster),
  };
}

const clip = (s: string, max: number): string => {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
};

/**
 * A Slack message: the headline in plain_text blocks (Slack renders nothing in them: a name with
 * backticks or `<!channel>` stays text), the report's location in a context block.
 */
export function leakSlackPayload(n: LeakNotice, cluster?: string): { text: string; blocks: unknown[] } {
  const title = `${n.status === 'analyzed' ? 'Leak report' : 'Leak report not made'}: ${n.namespace}/${n.pod}`;
  return {
    text: clip(leakPlainText(n, cluster), 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(escapeText(title), 150), emoji: false } },
      { type: 'section', text: { type: 'plain_text', text: clip(leakSentence(n), 3000), emoji: false } },
      {
        type: 'context',
        elements: [{ type: 'plain_text', text: clip(`${cluster ? `${escapeText(cluster)} · ` : ''}node ${escapeText(n.node)} · ${n.retrieval !== undefined ? n.retrieval.text : `report ${escapeText(reportUri(n, n.reportKeys.text))}`}`, 2000), emoji: false }],
      },
    ],
  };
}

export function leakWebhookBody(format: 'json' | 'slack', n: LeakNotice, cluster?: string): string {
  return JSON.stringify(format === 'slack' ? leakSlackPayload(n, cluster) : leakJsonPayload(n, cluster));
}
