/** The web page's pages: the list of dumps by namespace, one dump's page, the login form, errors. */
import { formatBytes, formatCount } from '../../report/report';
import type { DumpMeta, DumpRecord } from '../dump-index';
import { webDumpPath } from '../paths';
import { humanDuration, topSuspectCell } from '../table';
import { barChart, barsOf } from './chart';
import { html, layout, type Safe } from './html';

export interface Viewer {
  readonly name: string;
  /** The logout control for this viewer (a form, or the oauth-proxy's sign-out link). */
  readonly logout?: Safe;
}

export function listPage(viewer: Viewer, groups: ReadonlyArray<{ namespace: string; dumps: readonly DumpRecord[] }>, now: number): Safe {
  const sections = groups.map(({ namespace, dumps }) => html`<section><h2>Namespace <code>${namespace}</code> <span class="muted">(${dumps.length})</span></h2>
<table><thead><tr><th>Name</th><th>Pod</th><th>Node</th><th class="num">Size</th><th>Age</th><th>Complete</th><th>Top suspect</th></tr></thead><tbody>
${dumps.map((r) => html`<tr><td class="name"><a href="${webDumpPath(namespace, r.name)}">${r.name}</a></td><td><code>${r.pod}</code></td><td>${r.node}</td>
<td class="num">${formatBytes(r.size)}</td><td>${humanDuration(now - r.uploadedAt)}</td><td>${completeBadge(r.meta)}</td><td>${topSuspectCell(r)}</td></tr>`)}
</tbody></table></section>`);
  const body = groups.length === 0
    ? html`<h1>Heap dumps</h1><p class="empty">No heap dumps you may see. Dumps of a namespace are shown to whoever may <code>list</code> <code>heapdumps</code> there (the namespace's <code>admin</code> and <code>edit</code> roles).</p>`
    : html`<h1>Heap dumps</h1><p class="muted">Newest first, in every namespace where you may list them.</p>${sections}`;
  return layout('Heap dumps', viewer.name, body, viewer.logout);
}

function completeBadge(meta: DumpMeta | undefined): Safe {
  if (meta?.complete === undefined) return html`<span class="muted">unknown</span>`;
  return meta.complete ? html`<span class="badge">complete</span>` : html`<span class="badge bad">truncated</span>`;
}

export interface DumpPageData {
  readonly record: DumpRecord;
  readonly meta: DumpMeta;
  readonly summary?: unknown;
  readonly leaks?: unknown;
  readonly canDownload: boolean;
  readonly command: string;
}

interface ClassRow { name: string; instances: number; shallowBytes: number }

function classRows(summary: unknown): ClassRow[] {
  const classes = (summary as { heap?: { classes?: unknown } } | undefined)?.heap?.classes;
  if (!Array.isArray(classes)) return [];
  return (classes as ClassRow[]).filter((c) => typeof c?.name === 'string' && typeof c.shallowBytes === 'number' && typeof c.instances === 'number')
    .sort((a, b) => b.shallowBytes - a.shallowBytes).slice(0, 10);
}

function leakSection(leaks: unknown): Safe {
  if (leaks === undefined) return html`<h2>Leak suspects</h2><p class="muted">No leak report for this dump yet.</p>`;
  const l = leaks as { status?: unknown; reason?: unknown; headline?: unknown; suspects?: unknown };
  if (l.status !== 'analyzed') {
    return html`<h2>Leak suspects</h2><p class="muted">Not analysed${typeof l.reason === 'string' ? html`: ${l.reason}` : ''}.</p>`;
  }
  const bars = barsOf(leaks);
  const suspects = Array.isArray(l.suspects) ? (l.suspects as Array<{ headline?: unknown }>).filter((s) => typeof s.headline === 'string') : [];
  return html`<h2>Leak suspects</h2>
${typeof l.headline === 'string' ? html`<div class="headline">${l.headline}</div>` : ''}
${bars.length > 0 ? html`<h2>Top retainers</h2>${barChart(bars, 'Top retainers by retained size')}` : ''}
${suspects.length > 0 ? html`<ol>${suspects.slice(0, 10).map((s) => html`<li>${String(s.headline)}</li>`)}</ol>` : ''}`;
}

export function dumpPage(viewer: Viewer, d: DumpPageData, now: number): Safe {
  const r = d.record;
  const rows = classRows(d.summary);
  const totals = (d.summary as { heap?: { totals?: { objects?: unknown; shallowBytes?: unknown } } } | undefined)?.heap?.totals;
  const body = html`<p class="muted"><a href="/">All heap dumps</a> / <code>${r.namespace}</code></p>
<h1>${r.name}</h1>
<dl class="facts">
<dt>Pod</dt><dd><code>${r.pod}</code></dd><dt>Node</dt><dd>${r.node}</dd><dt>File</dt><dd><code>${r.fileName}</code></dd>
<dt>Size</dt><dd>${formatBytes(r.size)}${d.meta.encodingApplied === 'gzip' && d.meta.originalSize !== undefined ? ` (gzip; ${formatBytes(d.meta.originalSize)} uncompressed)` : ''}</dd>
<dt>Uploaded</dt><dd>${new Date(r.uploadedAt).toISOString()} (${humanDuration(now - r.uploadedAt)} ago)</dd>
<dt>Complete</dt><dd>${completeBadge(d.meta)}</dd>
<dt>sha256</dt><dd><code>${d.meta.sha256 ?? 'unknown'}</code></dd>
<dt>Command</dt><dd><code>${d.command}</code></dd>
</dl>
${d.canDownload ? html`<p><a class="button" href="${webDumpPath(r.namespace, r.name)}/download">Download</a></p>` : html`<p class="muted">You may see this dump but not download it (no <code>get</code> on <code>heapdumps/download</code>).</p>`}
${leakSection(d.leaks)}
<h2>Summary</h2>
${d.summary === undefined ? html`<p class="muted">No summary for this dump (not analysed).</p>` : html`
${totals !== undefined && typeof totals.objects === 'number' && typeof totals.shallowBytes === 'number' ? html`<p>${formatCount(totals.objects)} objects, ${formatBytes(totals.shallowBytes)} of shallow size.</p>` : ''}
<table><thead><tr><th>Class (by shallow size)</th><th class="num">Instances</th><th class="num">Shallow size</th></tr></thead><tbody>
${rows.map((c) => html`<tr><td class="mono">${c.name}</td><td class="num">${formatCount(c.instances)}</td><td class="num">${formatBytes(c.shallowBytes)}</td></tr>`)}
</tbody></table>`}`;
  return layout(r.name, viewer.name, body, viewer.logout);
}

export function loginPage(token: string, error?: string): Safe {
  const body = html`<h1>Sign in</h1>
<p>Paste a Kubernetes token of yours: <code>kubectl create token &lt;service-account&gt;</code>, or your OIDC ID token. It is checked with a TokenReview and not stored; you then see the dumps of every namespace where you may list <code>heapdumps</code>.</p>
${error !== undefined ? html`<p class="error">${error}</p>` : ''}
<form class="login" method="post" action="/login"><input type="hidden" name="csrf" value="${token}">
<p><textarea name="token" required autocomplete="off" spellcheck="false" aria-label="token"></textarea></p>
<p><button type="submit">Sign in</button></p></form>`;
  return layout('Sign in', undefined, body);
}

export function messagePage(title: string, message: string, viewer?: Viewer): Safe {
  return layout(title, viewer?.name, html`<h1>${title}</h1><p>${message}</p><p><a href="/">All heap dumps</a></p>`, viewer?.logout);
}
