/**
 * `npm run demo`: the pipeline doing its job on this machine, no cluster, in well under a minute. The
 * synthesized manifests run on one simulated node (scripts/demo/stack.ts): mount guard, uploader and leak
 * analyzer as their containers say; the demo application's JVM runs out of memory and HotSpot writes its
 * dump; it reaches S3 (the embedded s3rver on loopback, or `--s3 URL --bucket NAME` with AWS_* credentials),
 * gets its summary and leak report; the demo prints them and the command the owning team would use.
 *
 * A terminal gets a live view (progress.ts), anything else plain lines. Everything started is stopped by PID
 * and its temp dirs removed, also on Ctrl-C and on failure. Exit codes: 0 done, 1 the pipeline failed,
 * 2 a prerequisite or argument is wrong (one line), 130/143 interrupted.
 */
// the SDK's notice about this machine's Node 20 (the agents run the image's Node 24): noise for a newcomer
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

import { ENV } from '../../agent/src/contract';
import { RETRIEVAL_CLIS, type RetrievalCli } from '../../agent/src/report/retrieval-hint';
import { SETTINGS } from '../../agent/src/settings';
import { loadManifests, type Manifests } from '../../test/e2e/manifests';
import { makeS3Client } from '../../test/support/s3';
import { LocalDump } from './local-dump';
import { finishedDump, readOutcome, renderEvents, renderOutcome } from './outcome';
import { checkPrerequisites, DemoError } from './prereqs';
import { ProgressView } from './progress';
import { DEMO_APP, DemoSetupError, DemoStack } from './stack';
import { ComponentWatch, mib } from './watch';

/** How long the JVM may take to run out of memory, and the dump to get its reports, before the demo gives up. */
const OOM_TIMEOUT_MS = 60_000;
const REPORTS_TIMEOUT_MS = 90_000;
/** How long the Events (the uploader's and the analyzer's) may trail the reports. */
const EVENTS_WAIT_MS = 5000;

const USAGE = 'usage: npm run demo [-- --s3 URL --bucket NAME]   (with --s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set for that server)';

function parseArgs(argv: readonly string[]): { external?: { endpoint: string; bucket: string } } {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n\nRuns the pipeline on one simulated node (no cluster): the demo JVM's OOM dump to S3, its summary and leak report.\n`);
      process.exit(0);
    }
    if ((a === '--s3' || a === '--bucket') && argv[i + 1] !== undefined) opts[a] = argv[++i];
    else throw new DemoError(`unknown argument ${JSON.stringify(a)}; ${USAGE}`);
  }
  if ((opts['--s3'] === undefined) !== (opts['--bucket'] === undefined)) throw new DemoError(`--s3 and --bucket go together; ${USAGE}`);
  if (opts['--s3'] === undefined) return {};
  if (!/^https?:\/\/[^\s/]+/.test(opts['--s3'])) throw new DemoError(`--s3 is ${JSON.stringify(opts['--s3'])}, expected an http(s) URL such as http://127.0.0.1:9000`);
  return { external: { endpoint: opts['--s3'], bucket: opts['--bucket'] } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, stopped: () => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stopped()) throw new Interrupted();
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

class Interrupted extends Error {}

/** The manifests the demo runs (synthesized from pipeline.config.json, or PIPELINE_CONFIG, as `npm run synth` does). */
function manifests(): Manifests {
  try {
    return loadManifests();
  } catch (error) {
    throw new DemoError(`the demo runs the pipeline your config synthesizes, with its demo application (app.enabled) and analyzer: ${(error as Error).message}`);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  const env = checkPrerequisites();
  const view = new ProgressView(process.stdout, process.stdout.isTTY === true && process.env.CI !== 'true');
  const watch = new ComponentWatch(view, DEMO_APP.heap, manifests().app.name);
  const stack = new DemoStack(env, {
    onContainer: (c, role) => watch.container(c, role),
    onTransfer: (t) => watch.transfer(t),
    onStep: (c, text) => view.set(c, text, { state: 'done' }),
  });
  let signal: NodeJS.Signals | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => (cleaning ??= stack.dispose());
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) return;
    signal = s;
    view.close();
    process.stderr.write(`\n${s}: stopping everything the demo started...\n`);
    void cleanUp().finally(() => process.exit(s === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  view.note(`heapdump-pipeline demo: the synthesized manifests on one simulated node (${env.mode === 'root' ? 'root: private mount namespace' : 'user namespace'}), ` +
    `agents on Node ${env.node.version}, JVM ${env.javaVersion}`);
  for (const d of env.degraded) view.note(`note: ${d}`);
  const local = { dump: undefined as LocalDump | undefined };
  try {
    view.set('build', 'bundling the agent (npm run bundle)');
    await stack.buildAgent();
    view.set('build', 'agent bundle built', { state: 'done' });
    await stack.startS3(args.external);
    await stack.startKubeApi();
    await stack.startNode();
    view.set('node', `simulated node ${stack.sim.nodeName}: its own mount namespace, the PVC and hostPaths under a temp dir`, { state: 'done' });
    await stack.startAgents();
    const app = await stack.startApp();
    const dump = (local.dump = new LocalDump(stack.sim.appDumpDirs(app.podName).pvcDir));

    // the JVM leaks until HotSpot dumps and exits; meanwhile the dump file's growth is shown
    await until('the JVM\'s OutOfMemoryError', OOM_TIMEOUT_MS, async () => {
      const size = await dump.size();
      if (size !== undefined && app.proc.exitInfo() === undefined) watch.dumpGrowing(size);
      return app.proc.exitInfo();
    }, () => signal !== undefined);
    const written = await dump.digest().catch((e: Error) => {
      throw new Error(`the JVM exited without a dump (${e.message}):\n${app.proc.output()}`);
    });
    view.set('dump', `written: ${dump.name}, ${mib(written.size)}, sha256 ${written.sha256.slice(0, 16)}… (hashed here)`, { state: 'done' });
    await dump.close();

    const client = makeS3Client(stack.s3.endpoint, stack.s3.accessKeyId, stack.s3.secretAccessKey);
    try {
      const prefix = stack.sim.uploaderEnv()[ENV.s3Prefix] ?? '';
      const key = await until('the dump\'s summary and leak report in S3', REPORTS_TIMEOUT_MS, () => finishedDump(client, stack.s3.bucket, prefix), () => signal !== undefined);
      view.set('report', 'leak report in S3 next to the dump; reading it back', { state: 'done' });
      const outcome = await readOutcome(client, stack.s3.bucket, key, written);
      // the analyzer's Event follows its report: give it a moment
      if (stack.kube) await until('the Events', EVENTS_WAIT_MS, async () => (stack.events().length >= 2 ? true : undefined), () => signal !== undefined).catch(() => undefined);
      view.close();
      const configured = stack.sim.uploaderEnv()[SETTINGS.notifyRetrievalCli.env!];
      const cli: RetrievalCli = (RETRIEVAL_CLIS as readonly string[]).includes(configured ?? '') ? (configured as RetrievalCli) : 'oc';
      process.stdout.write(`${renderOutcome(outcome, cli)}\n`);
      const events = renderEvents(stack.events(), stack.manifests.app.namespace);
      if (events) process.stdout.write(`${events}\n`);
    } finally {
      client.destroy();
    }
    if (watch.warnings.length > 0) {
      process.stdout.write(`\nWarnings the agents logged (their pods' logs show the same):\n${watch.warnings.map((w) => `  ${w}\n`).join('')}`);
    }
    await cleanUp();
    process.stdout.write(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s; every process the demo started is stopped and its temp dirs are removed.\n`);
    return 0;
  } catch (error) {
    view.close();
    // after Ctrl-C, whatever failed because its processes were stopped is no news: onSignal exits
    if (error instanceof Interrupted || signal !== undefined) return new Promise<number>(() => undefined);
    await local.dump?.close();
    await cleanUp().catch((e: Error) => process.stderr.write(`${e.message}\n`));
    // a set-up problem the user can fix: one line, as for the prerequisites
    if (error instanceof DemoSetupError) {
      process.stderr.write(`demo: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`\ndemo failed: ${(error as Error).message ?? String(error)}\n`);
    for (const w of watch.warnings) process.stderr.write(`  agent warning: ${w}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    // argument and prerequisite problems: one line, no stack
    if (error instanceof DemoError) {
      process.stderr.write(`demo: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`demo: ${error.message}\n`);
    process.exit(1);
  },
);
