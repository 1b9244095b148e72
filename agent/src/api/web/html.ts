/**
 * HTML building for the web page: every text from a dump (class names, pod names, file names) goes through
 * escapeText (one visible line, no controls, no bidi tricks) and then HTML escaping; every attribute value too.
 * Pages are static HTML with one stylesheet from this server: no script, no inline style, no external asset,
 * under a Content-Security-Policy that allows nothing else.
 */
import { escapeText } from '../../text/escape';

/** A piece of markup that is already safe; only `html` and the helpers below make one. */
export class Safe {
  public constructor(readonly value: string) {}
  public toString(): string {
    return this.value;
  }
}

export type Part = Safe | string | number | undefined | null | false | readonly Part[];

/** Escapes text for element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function render(p: Part): string {
  if (p === undefined || p === null || p === false) return '';
  if (p instanceof Safe) return p.value;
  if (Array.isArray(p)) return (p as readonly Part[]).map(render).join('');
  return escapeHtml(escapeText(String(p)));
}

/** Template tag: literal parts are markup, interpolated ones are escaped (unless Safe). */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Safe {
  let out = strings[0];
  parts.forEach((p, i) => {
    out += render(p) + strings[i + 1];
  });
  return new Safe(out);
}

export const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function pageHeaders(secure: boolean): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Not no-referrer: with it a browser sends `Origin: null` on the page's own form POSTs, which the CSRF check refuses.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    ...(secure ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

export function layout(title: string, user: string | undefined, body: Safe, logout?: Safe): Safe {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · heap dumps</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><a class="brand" href="/">Heap dumps</a>${user !== undefined ? html`<span class="user">${user}</span>${logout ?? ''}` : ''}</header>
<main>${body}</main></body></html>`;
}

export const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --accent: #0969da; --bar: #cf222e; --bg: #ffffff; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 10px 24px; border-bottom: 1px solid var(--line); background: var(--soft); }
header .brand { font-weight: 600; font-size: 16px; color: var(--fg); text-decoration: none; }
header .user { margin-left: auto; color: var(--muted); }
header form { margin: 0; }
main { padding: 16px 24px 48px; max-width: 1200px; }
h1 { font-size: 20px; margin: 8px 0 16px; word-break: break-all; }
h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.name a { word-break: break-all; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; word-break: break-all; }
a { color: var(--accent); }
.muted { color: var(--muted); }
.empty { color: var(--muted); padding: 24px 0; }
.headline { padding: 10px 14px; border-left: 4px solid var(--bar); background: #fff5f5; margin: 8px 0 16px; word-break: break-word; }
.button, button { display: inline-block; padding: 6px 14px; border: 1px solid var(--accent); border-radius: 6px; background: var(--accent); color: #fff; text-decoration: none; font: inherit; cursor: pointer; }
.button.secondary, button.secondary { background: var(--bg); color: var(--accent); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
svg.chart { width: 100%; max-width: 1000px; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg.chart text.value { fill: var(--muted); }
svg.chart rect.bar { fill: var(--bar); }
svg.chart rect.track { fill: var(--soft); }
form.login textarea { width: 100%; max-width: 720px; height: 120px; font-family: ui-monospace, monospace; }
.error { color: var(--bar); }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; border: 1px solid var(--line); }
.badge.bad { border-color: var(--bar); color: var(--bar); }
`;
