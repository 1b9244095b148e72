/**
 * Text that comes from a dump (class, field and thread names) or from a tenant's file names is chosen by
 * whoever wrote the dump. Before any of it is shown (an Event, a text summary, a log line, a notification,
 * a web page, a terminal) it goes through `escapeText`: one visible, unambiguous line, capped in length.
 *
 * Escaped: C0 and C1 controls (newlines and ESC included, so no fake paragraphs and no terminal escape
 * sequences such as OSC 52), DEL, the Unicode line/paragraph separators, bidi embeddings/overrides/isolates
 * and invisible format characters (a name that reads differently from what it is), lone surrogates, and the
 * backslash itself (so the escaping is injective: `\x0a` in the output always means a newline in the input).
 * Channel-specific escaping is applied on top of this: Slack mrkdwn here (`escapeMrkdwn`), HTML by the page.
 */

/** Code points shown as `\x..`/`\u{..}` rather than as themselves. */
function mustEscape(cp: number): boolean {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0x5c
    || cp === 0x061c || cp === 0x180e
    || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e)
    || (cp >= 0x2060 && cp <= 0x206f) || cp === 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb)
    || (cp >= 0xd800 && cp <= 0xdfff);
}

function escapeCodePoint(cp: number): string {
  if (cp === 0x5c) return '\\\\';
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** Default cap, in code points of the input. */
export const DEFAULT_MAX_CHARS = 512;

/**
 * `s` as one safe line: escaped as above and cut after `maxChars` code points of the input, with
 * `…(+N)` saying how many were left out.
 */
export function escapeText(s: string, maxChars = DEFAULT_MAX_CHARS): string {
  let out = '';
  let n = 0;
  let total = 0;
  for (const ch of s) {
    total++;
    if (n >= maxChars) continue;
    n++;
    const cp = ch.codePointAt(0)!;
    // A lone surrogate iterates as one unit of 0xd800-0xdfff.
    out += mustEscape(cp) ? escapeCodePoint(cp) : ch;
  }
  return total > n ? `${out}…(+${total - n})` : out;
}

/**
 * Text for Slack mrkdwn: escapeText, then the backtick as `\x60` (so a name can never open or close inline
 * code or a code block: a name with ``` would end the block and the rest would render as mrkdwn), then `&`,
 * `<` and `>` as entities (they make links and mentions such as `<!channel>`). Still injective: escapeText
 * doubles every backslash of the input, so `\x60` in the output always was a backtick.
 */
export function escapeMrkdwn(s: string, maxChars = DEFAULT_MAX_CHARS): string {
  return escapeText(s, maxChars).replace(/`/g, '\\x60').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * JSON.stringify for a document that keeps names as data (summary.json, the webhook's JSON): every code point
 * escapeText would escape and JSON leaves as it is (C1 controls, DEL, separators, bidi and invisible format
 * characters) is written as `\uXXXX`. A parser reads exactly the same strings; a terminal or a log viewer that
 * shows the file shows inert bytes. (JSON already escapes C0 controls and lone surrogates.)
 */
export function inertJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(/[\u007f-\uffff]/g, (c) => {
    const cp = c.charCodeAt(0);
    return mustEscape(cp) && !(cp >= 0xd800 && cp <= 0xdfff) ? `\\u${cp.toString(16).padStart(4, '0')}` : c;
  });
}
