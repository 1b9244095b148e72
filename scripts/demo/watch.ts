/**
 * What each component is doing, read from what it says: the agents' JSON log lines (the events a platform
 * engineer would see with `oc logs`), the JVM's own output, and the bytes the S3 tap counts. Each turns into
 * a row of the progress view. Nothing here decides the demo's outcome (outcome.ts reads S3 itself).
 */
import * as path from 'path';
import type { SimContainer } from '../../test/e2e/node-sim';
import type { ProgressView } from './progress';
import type { S3Transfer } from './s3-tap';

export const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

type Fields = Record<string, unknown> & { level?: string; msg?: string };

/** Calls `onLine` for every complete line the container writes (stdout and stderr), from now on. */
export function eachLine(c: SimContainer, onLine: (line: string) => void): void {
  for (const stream of [c.proc.child.stdout, c.proc.child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: string | Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p.trim() !== '') onLine(p);
    });
  }
}

function parse(line: string): Fields | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Fields;
  } catch {
    return undefined;
  }
}

export class ComponentWatch {
  /** The dump's size as the uploader announced it (the denominator of the transfer rows). */
  private dumpSize: number | undefined;
  private lastShown = new Map<string, number>();
  /** Warnings and errors the agents logged (printed after the rows, and on failure). */
  readonly warnings: string[] = [];

  constructor(
    private readonly view: ProgressView,
    private readonly heap: string,
    /** The app Deployment's name: its pods' names start with it (which wait-ready is whose). */
    private readonly appName: string,
  ) {}

  /** Wires a started container's output to its row. */
  container(c: SimContainer, role: string): void {
    if (role === 'app') {
      this.view.set('jvm', `starting: java Leak.java (${this.heap}, dump on OOM into the pod's dump folder)`, { state: 'run' });
      eachLine(c, (l) => this.jvmLine(l));
      return;
    }
    // two pods have a wait-ready init container: the uploader's and the app's
    const row = role !== 'wait-ready' ? role : c.name.startsWith(`wait-ready ${this.appName}`) ? 'app init' : 'upl. init';
    // the rows in the order the containers start (an agent's first log line may come later than the next one's)
    this.view.set(row, `container started (pid ${c.proc.pid})`, { state: 'run' });
    eachLine(c, (l) => {
      const f = parse(l);
      if (f) this.agentEvent(role, row, f);
    });
  }

  private agentEvent(role: string, row: string, f: Fields): void {
    if (f.level === 'warn' || f.level === 'error') {
      const why = ['warning', 'detail', 'cause', 'reason', 'error'].map((k) => f[k]).filter((x) => x !== undefined).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
      const line = `${role}: ${f.msg}${why.length > 0 ? ` (${why.join(': ')})` : ''}`;
      this.warnings.push(line.length > 200 ? `${line.slice(0, 199)}…` : line);
    }
    const v = this.view;
    switch (`${role}|${f.msg}`) {
      case 'guard|starting': return v.set('guard', 'binding this node\'s folder of the dump volume onto the node\'s dump directory');
      case 'guard|mounted': return v.set('guard', 'ready: the dump directory is the shared volume (bind mount + ready marker)', { state: 'done' });
      case 'wait-ready|waiting for the mount guard': return v.set(row, 'wait-ready: holding the pod until the guard\'s marker is there');
      case 'wait-ready|mount guard ready': return v.set(row, 'wait-ready: the guard\'s marker is there, the pod may start', { state: 'done' });
      case 'analyzer|leak analyzer started': return v.set('analyzer', `running (${f.lanes}); waiting for a dump in the bucket`);
      case 'analyzer|analysing dump': return v.set('analyzer', `analysing the dump (${f.budgetMiB} MiB budget, downloaded in ${f.downloadMs} ms): dominator tree, suspects`);
      case 'analyzer|leak report written': return v.set('analyzer', `leak report written (${f.status}, ${f.suspects} suspect(s)); waiting for the next dump`, { state: 'done' });
      case 'uploader|uploader started': return v.set('uploader', 'watching the node\'s dump directory');
      case 'uploader|uploading': {
        this.dumpSize = Number(f.size);
        return v.set('upload', `sending ${mib(this.dumpSize)} to S3`, { state: 'run' });
      }
      case 'uploader|uploaded and verified':
        v.set('upload', `verified in S3 (HEAD: size and SHA-256 metadata) after ${f.seconds} s, ${f.mibPerSecond} MiB/s`, { state: 'done' });
        return v.set('summary', 'analysing the dump for its summary (off the probe thread)', { state: 'run' });
      case 'uploader|dump analysed': return v.set('summary', 'summary computed (classes, largest objects, threads)');
      case 'uploader|dump summary written': return v.set('summary', 'summary written next to the dump (.summary.json, .summary.txt)', { state: 'done' });
      default:
    }
  }

  private jvmLine(line: string): void {
    const v = this.view;
    let m: RegExpExecArray | null;
    if (/^Picked up JAVA_TOOL_OPTIONS/.test(line)) v.set('jvm', `compiling Leak.java in the JVM (single-source launch), ${this.heap}`);
    else if (/^Leak: listening/.test(line)) v.set('jvm', `running: leaking into the static list Leak.RETAINED (${this.heap})`);
    // plain lines every 12 MB only: the terminal row follows every chunk
    else if ((m = /^Leak: retained (\d+) MB/.exec(line))) v.set('jvm', `leaking: ${m[1]} MB retained (${this.heap})`, { quiet: Number(m[1]) % 12 !== 0 });
    else if (/^java\.lang\.OutOfMemoryError/.test(line)) v.set('jvm', `${line.trim()}: HotSpot dumps the heap`, { state: 'fail' });
    else if ((m = /^Dumping heap to (\S+)/.exec(line))) v.set('dump', `HotSpot writing ${path.basename(m[1])} into the pod's dump folder (the shared volume)`, { state: 'run' });
    else if ((m = /^Heap dump file created \[(\d+) bytes in ([\d.]+) secs\]/.exec(line))) {
      v.set('dump', `written: ${mib(Number(m[1]))} in ${m[2]} s`, { state: 'done' });
    } else if (/^Terminating due to/.test(line)) v.set('jvm', 'exited after the OutOfMemoryError (-XX:+ExitOnOutOfMemoryError)', { state: 'fail' });
  }

  /** The dump file growing (polled while HotSpot writes it). */
  dumpGrowing(bytes: number): void {
    this.view.set('dump', `HotSpot writing: ${mib(bytes)} so far`, { quiet: true });
  }

  /** Bytes of the dump through the S3 tap: the uploader's PUTs, the analyzer's GET. */
  transfer(t: S3Transfer): void {
    if (!t.key.endsWith('.hprof') && !t.key.endsWith('.hprof.gz')) return;
    const total = this.dumpSize;
    const row = t.method === 'PUT' ? 'upload' : 'analyzer';
    const what = t.method === 'PUT' ? 'uploading' : 'downloading the dump';
    const shown = total !== undefined ? `${mib(Math.min(t.bytes, total))} / ${mib(total)}` : mib(t.bytes);
    // plain lines at each quarter only; the terminal row follows every chunk
    const quarter = total ? Math.floor((4 * Math.min(t.bytes, total)) / total) : 0;
    const key = `${row} ${t.method}`;
    const quiet = (this.lastShown.get(key) ?? -1) >= quarter;
    if (!quiet) this.lastShown.set(key, quarter);
    this.view.set(row, `${what}: ${shown} ${t.method === 'PUT' ? 'received by' : 'sent by'} the S3 server`, { quiet });
  }
}
