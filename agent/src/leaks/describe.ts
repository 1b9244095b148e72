/**
 * Suspects in preorder numbers -> the report's suspects, top dominators and heap figures, with names:
 * the objects shown are read again (reread.ts), their names resolved (names.ts, naming.ts), and who
 * holds each suspect worked out from its GC roots and the shortest path to it.
 */
import { SUB } from '../triage/hprof-format';
import type { DumpInput } from './analyze';
import type { Budget } from './budget';
import { CLASS_NODE } from './classes';
import type { HeldBy, LeakHeap, LeakSuspect, PathStep, TopDominator } from './document';
import type { Dominators } from './dominators';
import { type Graph, shallowOf } from './graph';
import { resolveNames } from './names';
import { Naming, ROOT_KINDS } from './naming';
import type { GraphRecorder } from './records';
import { headlineOf } from './render';
import { rereadObjects, windowsOf } from './reread';
import type { SuspectCore, SuspectResult } from './suspects';

export interface Findings {
  readonly heap: LeakHeap;
  readonly suspects: LeakSuspect[];
  readonly topDominators: TopDominator[];
  readonly thresholdPercent: number;
  readonly peakAnalysisBytes: number;
  readonly durationMs: number;
}

export interface DescribeContext {
  readonly input: DumpInput;
  readonly budget: Budget;
  readonly recorder: GraphRecorder;
  readonly graph: Graph;
  readonly doms: Dominators;
  readonly found: SuspectResult;
  readonly issues: string[];
  readonly read: { readonly bytes: number; readonly complete: boolean; readonly version: string };
  readonly threadValue: ReadonlyMap<number, number>;
  readonly totalEdges: number;
  readonly thresholdPercent: number;
  readonly started: number;
}

/** Thread-held GC roots, in the order they explain a suspect: the live thread itself, then its stack. */
const THREAD_KINDS = [SUB.rootThreadObject, SUB.rootJavaFrame, SUB.rootJniLocal, SUB.rootNativeStack, SUB.rootThreadBlock] as number[];

const round1 = (x: number) => Math.round(x * 10) / 10;

export async function describeFindings(ctx: DescribeContext): Promise<Findings> {
  const { recorder: rec, graph: g, doms: d, found } = ctx;
  const node = (pre: number) => d.pre2node[pre];
  const total = d.retained[0];
  const pct = (bytes: number) => (total > 0 ? round1((100 * bytes) / total) : 0);
  // GC root entries per suspect / path start
  const rootsOf = (pre: number): number[] => {
    const out: number[] = [];
    for (let k = 0; k < g.roots.count; k++) if (d.rootPre[k] === pre) out.push(k);
    return out;
  };

  // what to read again
  const naming0 = new Naming(rec, g, new Map(), ctx.threadValue);
  const want = new Set<number>();
  const threadNodes = new Set<number>();
  const frames: Array<{ trace: number; depth: number }> = [];
  const addThread = (serial: number) => {
    const t = naming0.thread(serial);
    if (!t) return;
    threadNodes.add(t.node);
    for (const n of [t.node, ...naming0.threadNameNodes(t.node)]) want.add(n);
  };
  for (const s of found.suspects) {
    for (const p of [...s.path, s.pre, s.accumulation.point]) want.add(node(p));
    for (const pre of [s.pre, s.path[0]]) {
      for (const k of rootsOf(pre)) {
        if (!THREAD_KINDS.includes(g.roots.kind[k])) continue;
        addThread(g.roots.serial[k]);
        const t = naming0.thread(g.roots.serial[k]);
        if (t && (g.roots.kind[k] === SUB.rootJavaFrame || g.roots.kind[k] === SUB.rootJniLocal)) frames.push({ trace: t.trace, depth: g.roots.frame[k] });
      }
    }
  }
  // class objects referencing a suspect directly (a static field, maybe)
  const classPreds = (pre: number): number[] => {
    const out: number[] = [];
    for (let k = d.revOff[pre]; k < d.revOff[pre + 1] && out.length < 16; k++) {
      const v = d.rev[k];
      if (v !== 0 && (g.cls[node(v)] & CLASS_NODE) !== 0) out.push(v);
    }
    return out;
  };
  for (const s of found.suspects) {
    for (const v of classPreds(s.pre)) want.add(node(v));
    for (const v of s.staticPath ?? []) want.add(node(v));
  }
  for (const t of found.top) want.add(node(t));
  const objects = await rereadObjects([...want], rec.checkpoints, rec.idSize, ctx.input.windows ?? windowsOf(ctx.input.read));
  const naming = new Naming(rec, g, objects, ctx.threadValue);

  const rows = new Set<number>();
  for (const s of found.suspects) {
    for (const p of [...s.path, s.pre, s.accumulation.point]) rows.add(g.cls[node(p)]);
    rows.add(s.cls).add(s.accumulation.cls);
    if (s.accumulation.via) rows.add(s.accumulation.via.cls);
  }
  for (const t of found.top) rows.add(g.cls[node(t)]);
  // the classes whose static fields may hold a suspect (directly, or through a few objects)
  for (const s of found.suspects) for (const v of [...classPreds(s.pre), ...(s.staticPath ?? [])]) rows.add(g.cls[node(v)]);
  const frameNames = frames.map((f) => rec.top.stacks.frameOf(f.trace, f.depth)).filter((f) => f !== undefined);
  const { names, error } = await resolveNames(rec.top.names, Naming.wantedNames(rec, rows, objects, frameNames), ctx.input.read);
  naming.names = names;
  if (error) ctx.issues.push(`names could not be read: ${error}`);

  const threadHeld = (kind: number, k: number): HeldBy => {
    const t = naming.thread(g.roots.serial[k]);
    const thread = t ? naming.threadName(t.node) : null;
    const frame = t && (kind === SUB.rootJavaFrame || kind === SUB.rootJniLocal) ? naming.frame(t.trace, g.roots.frame[k]) : undefined;
    const what = kind === SUB.rootJavaFrame ? `local variable${frame ? ` in ${frame}` : ''}` : kind === SUB.rootThreadObject ? 'the thread itself' : `${ROOT_KINDS[kind]}${frame ? ` in ${frame}` : ''}`;
    const who = thread !== null ? `thread "${thread}"` : `thread #${g.roots.serial[k]}`;
    return { kind: 'thread', text: `${who} (${what})`, thread, root: ROOT_KINDS[kind], ...(frame ? { frame } : {}) };
  };
  /** A static field holding the suspect through `path` (class, ..., suspect), or undefined. */
  const staticHolder = (path: readonly number[] | undefined): HeldBy | undefined => {
    if (!path || path.length < 2) return undefined;
    const f = naming.fieldName(node(path[0]), node(path[1]));
    if (!f.startsWith('static ')) return undefined;
    const className = naming.clsName(g.cls[node(path[0])]);
    const field = f.slice(7);
    const via = path.slice(1, -1).map((p, i) => naming.fieldName(node(p), node(path[i + 2])));
    return { kind: 'static-field', text: `static field ${className}.${field}${via.map((v) => ` → ${v}`).join('')}`, className, field, ...(via.length > 0 ? { via } : {}) };
  };
  const heldBy = (s: SuspectCore): HeldBy => {
    const entries = rootsOf(s.pre);
    const rootOf = (kind: number) => entries.find((e) => g.roots.kind[e] === kind);
    const self = rootOf(SUB.rootThreadObject);
    if (self !== undefined) return threadHeld(SUB.rootThreadObject, self);
    for (const v of classPreds(s.pre)) {
      const direct = staticHolder([v, s.pre]);
      if (direct) return direct;
    }
    // a method's local variable is gone when it returns: a static field holding it too is what keeps it
    const viaStatic = staticHolder(s.staticPath);
    if (viaStatic) return viaStatic;
    for (const kind of THREAD_KINDS) {
      const k = rootOf(kind);
      if (k !== undefined) return threadHeld(kind, k);
    }
    if (rootOf(SUB.rootJniGlobal) !== undefined) return { kind: 'jni-global', text: 'a JNI global reference', root: ROOT_KINDS[SUB.rootJniGlobal] };
    const path = s.path;
    const start = path.length > 0 ? path[0] : s.pre;
    const startKinds = rootsOf(start).map((k) => ROOT_KINDS[g.roots.kind[k]]);
    return { kind: 'other', text: `reachable from ${naming.clsName(g.cls[node(start)])} (GC root: ${[...new Set(startKinds)].join(', ') || 'unknown'})` };
  };

  const pathOf = (s: SuspectCore): PathStep[] => s.path.map((p, i) => {
    const n = node(p);
    const isClass = (g.cls[n] & CLASS_NODE) !== 0;
    return {
      className: naming.clsName(g.cls[n]),
      objectId: naming.objectId(n),
      ...(isClass ? { objectKind: 'class' as const } : {}),
      field: i + 1 < s.path.length ? naming.fieldName(n, node(s.path[i + 1])) : null,
      ...(i === 0 ? { gcRoot: [...new Set(rootsOf(p).map((k) => ROOT_KINDS[g.roots.kind[k]]))] } : {}),
    };
  });

  const suspects: LeakSuspect[] = found.suspects.map((s) => {
    const a = s.accumulation;
    const core = {
      kind: s.kind,
      className: naming.clsName(s.cls),
      ...((s.cls & CLASS_NODE) !== 0 ? { objectKind: 'class' as const } : {}),
      objectId: naming.objectId(node(s.pre)),
      instances: s.instances,
      retainedBytes: s.retained,
      retainedPercent: pct(s.retained),
      heldBy: heldBy(s),
      pathFromGcRoot: pathOf(s),
      accumulation: {
        className: naming.clsName(g.cls[node(a.point)]),
        objectId: naming.objectId(node(a.point)),
        retainedBytes: d.retained[a.point],
        accumulated: { className: naming.clsName(a.cls), instances: a.instances, retainedBytes: a.retained, ...(a.chain ? { chain: true as const } : {}) },
        ...(a.via ? { via: { className: naming.clsName(a.via.cls), instances: a.via.instances, retainedBytes: a.via.retained } } : {}),
      },
    };
    return { ...core, headline: headlineOf(core, a.point === s.pre && a.instances === 1 && a.cls === s.cls) };
  });

  const topDominators: TopDominator[] = found.top.map((t) => ({
    className: naming.clsName(g.cls[node(t)]),
    ...((g.cls[node(t)] & CLASS_NODE) !== 0 ? { objectKind: 'class' as const } : {}),
    objectId: naming.objectId(node(t)),
    retainedBytes: d.retained[t],
    retainedPercent: pct(d.retained[t]),
    shallowBytes: shallowOf(g, node(t)),
  }));

  let classes = 0;
  for (const n of rec.classes.node) if (n >= 0) classes++;
  const heap: LeakHeap = {
    reachableBytes: total,
    reachableObjects: d.count - 1,
    objects: g.nodes,
    shallowBytes: rec.shallowTotal,
    unreachableObjects: g.nodes - (d.count - 1),
    unreachableBytes: rec.shallowTotal - total,
    references: ctx.totalEdges,
    danglingReferences: g.dangling,
    gcRoots: g.roots.count,
    classes,
    format: {
      version: ctx.read.version,
      idSize: rec.idSize,
      timestamp: rec.timestampMs > 0 && rec.timestampMs < 8.64e15 ? new Date(rec.timestampMs).toISOString() : null,
    },
    complete: ctx.read.complete,
    issues: ctx.issues,
  };
  return { heap, suspects, topDominators, thresholdPercent: ctx.thresholdPercent, peakAnalysisBytes: ctx.budget.peakBytes, durationMs: Date.now() - ctx.started };
}
