/**
 * The demo's progress view: one row per component (what it is doing now), redrawn in place on a terminal;
 * on anything else (CI logs, a pipe) one plain line per step, with the seconds since the start, and byte
 * counts only at milestones (no carriage-return noise in a log file).
 */

export type RowState = 'wait' | 'run' | 'done' | 'fail';

export interface Update {
  readonly state?: RowState;
  /**
   * A frequent update (bytes on the way): redrawn on a terminal, not printed as a plain line.
   * @default false
   */
  readonly quiet?: boolean;
}

const MARK: Record<RowState, string> = { wait: '·', run: '›', done: '✓', fail: '✗' };
const LABEL_WIDTH = 10;
/** Terminal redraws at most this often. */
const REDRAW_MS = 80;

interface Row {
  readonly label: string;
  state: RowState;
  text: string;
}

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly start = Date.now();

  constructor(
    private readonly out: NodeJS.WritableStream & { columns?: number },
    /** Redraw in place (a terminal) or print plain lines. */
    readonly live: boolean,
  ) {}

  /** Seconds since the view was made, e.g. ` 12.3s`. */
  elapsed(): string {
    return `${((Date.now() - this.start) / 1000).toFixed(1).padStart(5)}s`;
  }

  /** Sets what a component is doing (a new component gets the next row). */
  set(id: string, text: string, u: Update = {}): void {
    const row = this.rows.get(id) ?? { label: id, state: 'run' as RowState, text: '' };
    const state = u.state ?? row.state;
    if (row.text === text && row.state === state) return;
    row.text = text;
    row.state = state;
    this.rows.set(id, row);
    if (this.closed) return;
    if (this.live) this.schedule();
    else if (!u.quiet) this.out.write(`[${this.elapsed()}] ${this.format(row)}\n`);
  }

  /** A line above the rows (a warning, a degraded mode): printed once in both modes. */
  note(line: string): void {
    if (this.closed || !this.live) {
      this.out.write(`${line}\n`);
      return;
    }
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Stops redrawing; on a terminal the rows stay as last drawn. Idempotent. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.live) this.draw();
    this.closed = true;
  }

  private format(r: Row): string {
    return `${MARK[r.state]} ${r.label.padEnd(LABEL_WIDTH)} ${r.text}`;
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.draw();
    }, REDRAW_MS);
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    // one terminal line per row: a wrapped row would break the cursor arithmetic
    const width = Math.max(20, (this.out.columns || 100) - 1);
    const lines = [...this.rows.values()].map((r) => {
      const s = this.format(r);
      return s.length > width ? `${s.slice(0, width - 1)}…` : s;
    });
    this.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }
}
