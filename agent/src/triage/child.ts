/**
 * The analysis process (see child-protocol.ts): reads one request, analyses the dump on descriptor 3
 * within the request's budgets, writes one reply line and exits. It never writes anything else and
 * opens nothing: the uploader opened the file (pinned, no symlinks) and hands over the descriptor.
 */
import { fstatSync, read as readFd, readFileSync, writeFileSync } from 'fs';
import { analyseDump } from './dump-analysis';
import { type AnalysisReply, type AnalysisRequest, DUMP_FD, MAX_REQUEST_BYTES } from './child-protocol';
import type { RangeRead } from './name-readers';

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function peakRss(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function readRequest(): Promise<AnalysisRequest> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error(`request longer than ${MAX_REQUEST_BYTES} bytes`);
    parts.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as AnalysisRequest;
}

const read: RangeRead = (buffer, offset, length, position) =>
  new Promise((resolve, reject) => readFd(DUMP_FD, buffer, offset, length, position, (error, n) => (error ? reject(error) : resolve(n))));

export async function runAnalysisChild(): Promise<number> {
  let reply: AnalysisReply;
  try {
    // First in line for the OOM killer: a runaway analysis must never take the uploader with it.
    try {
      writeFileSync('/proc/self/oom_score_adj', '1000');
    } catch {
      // not fatal: the uploader's own memory watch still bounds this process
    }
    const req = await readRequest();
    const st = fstatSync(DUMP_FD, { bigint: true });
    if (!st.isFile() || String(st.dev) !== req.expect.dev || String(st.ino) !== req.expect.ino) throw new Error('descriptor 3 is not the expected dump file');
    const analysis = await analyseDump(read, { kind: req.kind, size: req.size, budgets: req.budgets, cpuSeconds });
    reply = { ok: true, analysis, cpuSeconds: cpuSeconds(), peakRssBytes: peakRss() };
  } catch (error) {
    reply = { ok: false, error: (error as Error).message };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
  return reply.ok ? 0 : 1;
}
