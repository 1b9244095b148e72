/**
 * The leak report's top retainers as a horizontal bar chart, plain SVG (no script, no style attribute: the CSP
 * allows neither), one bar per retainer scaled to the largest, labelled with the escaped class name, the
 * retained size and the share of the heap.
 */
import { formatBytes } from '../../report/report';
import { html, type Safe } from './html';

export interface Bar {
  readonly label: string;
  readonly bytes: number;
  readonly percent?: number;
}

const WIDTH = 1000;
const LABEL_W = 420;
const ROW_H = 26;

/** Retainers from a leak report: its suspects first, then the top dominators, at most `max`, largest first. */
export function barsOf(report: unknown, max = 10): Bar[] {
  const r = (report ?? {}) as { suspects?: unknown; topDominators?: unknown };
  const list = (v: unknown) => (Array.isArray(v) ? v as Array<Record<string, unknown>> : []);
  const bars: Bar[] = [];
  for (const x of [...list(r.suspects), ...list(r.topDominators)]) {
    if (typeof x.className !== 'string' || typeof x.retainedBytes !== 'number' || !Number.isFinite(x.retainedBytes) || x.retainedBytes < 0) continue;
    const label = x.kind === 'class-group' ? `${x.className} (all instances)` : x.className;
    if (bars.some((b) => b.label === label && b.bytes === x.retainedBytes)) continue;
    bars.push({ label, bytes: x.retainedBytes, ...(typeof x.retainedPercent === 'number' ? { percent: x.retainedPercent } : {}) });
  }
  return bars.sort((a, b) => b.bytes - a.bytes).slice(0, max);
}

export function barChart(bars: readonly Bar[], title: string): Safe {
  const top = Math.max(1, ...bars.map((b) => b.bytes));
  const height = bars.length * ROW_H + 8;
  const rows = bars.map((b, i) => {
    const y = 4 + i * ROW_H;
    const w = Math.max(1, Math.round(((WIDTH - LABEL_W - 170) * b.bytes) / top));
    const value = `${formatBytes(b.bytes)}${b.percent !== undefined ? ` · ${b.percent.toFixed(1)} %` : ''}`;
    return html`<g><title>${b.label}: ${value}</title>
<text x="${LABEL_W - 8}" y="${y + 16}" text-anchor="end">${[...b.label].length > 50 ? `…${[...b.label].slice(-49).join('')}` : b.label}</text>
<rect class="track" x="${LABEL_W}" y="${y + 3}" width="${WIDTH - LABEL_W - 170}" height="${ROW_H - 8}"></rect>
<rect class="bar" x="${LABEL_W}" y="${y + 3}" width="${w}" height="${ROW_H - 8}"></rect>
<text class="value" x="${LABEL_W + w + 6}" y="${y + 16}">${value}</text></g>`;
  });
  return html`<svg class="chart" role="img" aria-label="${title}" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg">${rows}</svg>`;
}
