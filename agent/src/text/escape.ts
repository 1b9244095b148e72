/**
 * Text that comes from a dump (class, field and thread names) or from a tenant's file names is chosen by
 * whoever wrote the dump. Before any of it is shown (an Event, a text summary, a log line, a notification,
 * a web page, a terminal) it goes through `escapeText`: one visible, unambiguous line, capped in length.
 *
 * Escaped: C0 and C1 controls (newlines and ESC included, so no fake paragraphs and no terminal escape
 * sequences such as OSC 52), DEL, the Unicode line/paragraph separators, bidi embeddings/overrides/isolates
 * and invisible format characters (a name that reads differently from what it is), lone surrogates, and the
 * backslash itself (so the escaping is injective: `\x0a` in the output always means a newline in the input).
 * Channel-specific escaping (HTML, Slack mrkdwn) is applied on top of this by the channel.
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
