/**
 * The leak report for people: the one-line headline (Events, notifications, tables) and
 * `<dump key>.leaks.txt`. Every name from the dump goes through escapeText (one visible line, capped).
 */
import { escapeText } from '../text/escape';
import type { LeakSuspect, LeaksDocument } from './document';

const NAME_MAX = 200;
const esc = (s: string) => escapeText(s, NAME_MAX);

/** `812 MiB`, `50.0 MiB`, `512 B`: binary units, no decimal from 100 up. */
export function bytesText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** `1,204,118`, whatever the locale. */
export const countText = (n: number): string => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');

const percentText = (p: number): string => `${p >= 10 ? Math.round(p) : p.toFixed(1)} %`;

/** Who holds it, escaped, for the headline. */
function holderText(s: Omit<LeakSuspect, 'headline'>): string {
  const h = s.heldBy;
  if (h.kind === 'static-field') return `static field ${esc(`${h.className}.${h.field}`)}${(h.via ?? []).map((f) => ` → ${esc(f)}`).join('')}`;
  if (h.kind === 'thread') {
    const who = h.thread != null ? `thread "${esc(h.thread)}"` : 'a thread';
    if (h.root === 'Java frame') return `local variable of ${who}`;
    if (h.root === 'thread object') return who;
    return `${h.root} of ${who}`;
  }
  if (h.kind === 'jni-global') return 'JNI global reference';
  return '';
}

/**
 * `Leak suspect: static field com.acme.Cache.ENTRIES (java.util.HashMap) retains 812 MiB (84 %): 1,204,118 × com.acme.Order`.
 * `leaf`: the suspect is its own accumulation point and nothing accumulates below it (no `: N × C` tail).
 */
export function headlineOf(s: Omit<LeakSuspect, 'headline'>, leaf = false): string {
  const size = `${bytesText(s.retainedBytes)} (${percentText(s.retainedPercent)})`;
  const acc = s.accumulation.accumulated;
  const tail = leaf ? '' : `: ${acc.chain ? 'a chain of ' : ''}${countText(acc.instances)} × ${esc(acc.className)}`;
  if (s.kind === 'class-group') return `Leak suspect: ${countText(s.instances)} × ${esc(s.className)} retain ${size}${tail}`;
  const holder = holderText(s);
  const what = `${s.objectKind === 'class' ? 'class ' : ''}${esc(s.className)}`;
  return `Leak suspect: ${holder ? `${holder} (${what})` : what} retains ${size}${tail}`;
}

function table(head: string[], rows: string[][], right: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].map((l) => `  ${l}`);
}

/** `<dump key>.leaks.txt`. */
export function renderLeaksText(doc: LeaksDocument): string {
  const out: string[] = [];
  const d = doc.dump;
  out.push(`Leak report for ${esc(d.uri)}`);
  const where = [d.namespace && d.pod ? `pod ${esc(d.namespace)}/${esc(d.pod)}` : undefined, d.node ? `node ${esc(d.node)}` : undefined].filter(Boolean).join(', ');
  out.push(`  ${bytesText(d.size)}${d.compression ? ` ${d.compression} (${bytesText(d.uncompressedSize ?? 0)} uncompressed)` : ''}${d.sha256 ? `, sha256 ${d.sha256}` : ''}${where ? `; ${where}` : ''}`);
  out.push('');
  if (doc.status === 'not-analyzed') {
    out.push(`NOT ANALYZED: ${esc(doc.reason ?? 'no reason given')}`);
    return out.join('\n') + '\n';
  }
  const h = doc.heap!;
  out.push(`Reachable heap: ${bytesText(h.reachableBytes)} in ${countText(h.reachableObjects)} objects (${countText(h.references)} references, ${countText(h.gcRoots)} GC roots, ${countText(h.classes)} classes)`);
  out.push(`  left out as garbage: ${countText(h.unreachableObjects)} unreachable objects, ${bytesText(h.unreachableBytes)}`);
  out.push(`  sizes: shallow sizes as in the summary (${h.format.idSize}-byte ids: instance header ${2 * h.format.idSize} bytes, array header ${2 * h.format.idSize + 4}); retained = what would be freed with the object`);
  if (!h.complete) out.push('PARTIAL ANALYSIS: the dump could not be read whole; the figures are of what was read.');
  for (const issue of h.issues) out.push(`  note: ${esc(issue)}`);
  out.push('');
  out.push(doc.headline ?? `No leak suspect: no object or class retains ${doc.analysis?.thresholdPercent ?? 10} % of the reachable heap or more.`);
  doc.suspects.forEach((s, i) => {
    out.push('');
    out.push(`Suspect ${i + 1} of ${doc.suspects.length}: ${s.kind === 'object' ? 'one object' : `${countText(s.instances)} instances of one class`}`);
    out.push(`  ${s.objectKind === 'class' ? 'class ' : ''}${esc(s.className)}${s.objectId ? ` @ ${s.objectId}` : ''}${s.kind === 'class-group' ? ' (the biggest)' : ''} — ${s.kind === 'class-group' ? 'together retain' : 'retains'} ${countText(s.retainedBytes)} bytes (${bytesText(s.retainedBytes)}, ${percentText(s.retainedPercent)} of the reachable heap)`);
    out.push(`  Held by: ${esc(s.heldBy.text)}`);
    out.push('  Shortest path from a GC root:');
    s.pathFromGcRoot.forEach((p, k) => {
      const what = `${p.objectKind === 'class' ? 'class ' : ''}${esc(p.className)}${p.objectId ? ` @ ${p.objectId}` : ''}`;
      const root = p.gcRoot ? `  [GC root: ${p.gcRoot.join(', ')}]` : '';
      out.push(`    ${' '.repeat(Math.min(k, 20))}${k > 0 ? '↳ ' : ''}${what}${root}${p.field !== null ? `  .${esc(p.field)}` : ''}`);
    });
    const a = s.accumulation;
    out.push(`  Accumulation point: ${esc(a.className)}${a.objectId ? ` @ ${a.objectId}` : ''} retains ${bytesText(a.retainedBytes)}`);
    out.push(`    ${a.accumulated.chain ? 'a chain of ' : ''}${countText(a.accumulated.instances)} × ${esc(a.accumulated.className)}, ${countText(a.accumulated.retainedBytes)} bytes (${bytesText(a.accumulated.retainedBytes)}) retained together` +
      (a.via ? `, in ${countText(a.via.instances)} × ${esc(a.via.className)}` : ''));
  });
  if (doc.topDominators.length > 0) {
    out.push('');
    out.push('Top dominators (objects nothing else keeps alive, by retained size)');
    out.push(...table(['Retained bytes', '', '%', 'Class', 'Id'], doc.topDominators.map((t) => [countText(t.retainedBytes), bytesText(t.retainedBytes), percentText(t.retainedPercent), `${t.objectKind === 'class' ? 'class ' : ''}${esc(t.className)}`, t.objectId ?? '?']), [true, true, true, false, false]));
  }
  return out.join('\n') + '\n';
}
