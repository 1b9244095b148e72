/** A one-line progress bar on a terminal (stderr), redrawn at most 10 times a second; nothing when not a TTY. */
import { formatBytes } from '../report/report';

export class Progress {
  private done = 0;
  private last = 0;
  private readonly t0 = Date.now();

  public constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly enabled = out.isTTY === true,
  ) {}

  public start(at: number): void {
    this.done = at;
    this.draw(true);
  }

  public add(n: number): void {
    this.done += n;
    this.draw(false);
  }

  public finish(): void {
    if (!this.enabled) return;
    this.draw(true);
    this.out.write('\n');
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * width);
    const secs = Math.max(0.001, (now - this.t0) / 1000);
    const rate = this.done / secs;
    const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === width ? '=' : '>') : ''}${' '.repeat(width - filled)}`;
    this.out.write(`\r${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(this.done)} / ${formatBytes(this.total)} ${formatBytes(rate)}/s   `);
  }
}
