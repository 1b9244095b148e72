/**
 * The demo application with a real JVM: the installed JDK (17) launches lib/demo-app/Leak.java as
 * a single source file, with the JAVA_TOOL_OPTIONS the Deployment sets (dump folder moved to a temp
 * dir, smaller heap so it runs out fast). It must serve /health, leak, write a complete HPROF into
 * the dump folder on OutOfMemoryError, and exit.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { synthPipeline } from '../../../lib/synth';
import { container, envVar, find } from '../../support/manifests';

const SOURCE = path.resolve(__dirname, '..', '..', '..', 'lib', 'demo-app', 'Leak.java');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, proc: ChildProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`JVM exited with ${proc.exitCode} before serving ${url}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return await res.text();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

describe('demo application (Leak.java) on the installed JDK', () => {
  let dir: string;
  let proc: ChildProcess | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leak-dumps-'));
  });

  afterEach(() => {
    if (proc !== undefined && proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('serves /health, leaks, dumps a complete HPROF into the dump folder on OOM and exits', async () => {
    const deployment = find(synthPipeline({ agentImage: 'registry.example.com/a:1' }).objects, 'Deployment', 'memory-leak-app');
    const options = envVar(container(deployment, 'app'), 'JAVA_TOOL_OPTIONS').value as string;
    expect(options).toContain('-XX:HeapDumpPath=/dumps');
    const localOptions = options.replace('-XX:HeapDumpPath=/dumps', `-XX:HeapDumpPath=${dir}`).replace(/-Xmx\S+/, '-Xmx48m');

    const port = await freePort();
    let output = '';
    proc = spawn('java', [SOURCE], {
      env: { ...process.env, JAVA_TOOL_OPTIONS: localOptions, HOST: '127.0.0.1', PORT: String(port), LEAK_MB: '8', LEAK_INTERVAL_SECONDS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => { output += String(d); });
    proc.stderr!.on('data', (d) => { output += String(d); });
    const exited = new Promise<number | null>((resolve) => proc!.once('exit', (code) => resolve(code)));

    expect(await waitForHealth(`http://127.0.0.1:${port}/health`, proc, 30_000)).toBe('{"status":"UP"}');
    const code = await exited;

    expect(output).toContain('Leak: retained 8 MB');
    expect(output).toMatch(/Dumping heap to .*java_pid\d+\.hprof/);
    expect(code).not.toBe(0); // -XX:+ExitOnOutOfMemoryError
    const dumps = fs.readdirSync(dir);
    expect(dumps).toEqual([`java_pid${proc.pid}.hprof`]);
    const fd = fs.openSync(path.join(dir, dumps[0]), 'r');
    try {
      const header = Buffer.alloc(18);
      fs.readSync(fd, header, 0, 18, 0);
      expect(header.toString('latin1')).toBe('JAVA PROFILE 1.0.2');
      // A finished dump ends with the HEAP DUMP END record: tag 0x2C, then time and a zero length.
      const size = fs.fstatSync(fd).size;
      const tail = Buffer.alloc(9);
      fs.readSync(fd, tail, 0, 9, size - 9);
      expect(tail[0]).toBe(0x2c);
      expect(tail.readUInt32BE(5)).toBe(0);
      expect(size).toBeGreaterThan(8 * 1024 * 1024);
    } finally {
      fs.closeSync(fd);
    }
  }, 60_000);
});
