/**
 * Agent entry point: `node agent.js <command>`. The only reader of process.env and process.argv;
 * wires dependencies, serves health/metrics, handles signals and the ordered shutdown.
 *
 * Shutdown: the first SIGTERM/SIGINT aborts ctx.signal, waits for the command to return, runs the
 * registered shutdown steps in order, closes HTTP and exits 0 (1 if a step failed). All of it runs
 * under SHUTDOWN_TIMEOUT: past that deadline the process logs and kills itself (runtime/exit.ts: a
 * thread stuck in a read of hung storage would keep a plain exit waiting forever). A second signal
 * while shutting down is logged and ignored; the deadline still bounds the wait.
 */
import { COMMANDS, EXIT } from './contract';
import { type ProblemOutput, reportProblems, runCli } from './cli';
import { ConfigError, ConfigErrors, findTypos, type ResolvedConfig, resolveConfig, resolveLogFormat } from './config';
import type { CommandContext, HttpRouteHandler } from './runtime/context';
import { systemClock } from './runtime/clock';
import { startHttpServer } from './runtime/http';
import { StuckReads } from './fs/stuck-io';
import { ANALYSIS_PROCESS_ARG } from './triage/child-protocol';
import { killSelf } from './runtime/exit';
import { Lifecycle } from './runtime/lifecycle';
import { createLogger, type LogFormat, type Logger } from './runtime/logger';
import { createRegistry } from './runtime/metrics';

/**
 * Command modules are loaded on demand, so a command runs only its own top-level code. The
 * uploader, the API server and the analyzer (with the AWS SDK, once for all: s3-commands.ts) are additionally embedded
 * in the bundle as text and compiled only here (scripts/bundle-agent.ts): otherwise V8 would still parse
 * them in every process.
 */
async function dispatch(resolved: ResolvedConfig, ctx: CommandContext): Promise<number> {
  switch (resolved.command) {
    case COMMANDS.mountGuard: {
      const { runMountGuard } = await import('./mount-guard/guard');
      const { commandMounter } = await import('./mount-guard/mounter');
      await runMountGuard(resolved.config, ctx, { mounter: commandMounter() });
      return EXIT.ok;
    }
    case COMMANDS.waitReady: {
      const { runWaitReady } = await import('./wait-ready/wait-ready');
      return runWaitReady(resolved.config, ctx);
    }
    case COMMANDS.uploader: {
      const { runUploader } = await import('./s3-commands');
      await runUploader(resolved.config, ctx);
      return EXIT.ok;
    }
    case COMMANDS.inject: {
      const { runInject } = await import('./inject/command');
      await runInject(resolved.config, ctx);
      return EXIT.ok;
    }
    case COMMANDS.api: {
      const { runApi } = await import('./s3-commands');
      await runApi(resolved.config, ctx);
      return EXIT.ok;
    }
    case COMMANDS.analyzer: {
      const { runAnalyzer } = await import('./s3-commands');
      await runAnalyzer(resolved.config, ctx);
      return EXIT.ok;
    }
  }
}

/**
 * Node's own warnings go through the logger, not raw to stderr. Deprecations are for whoever updates the
 * code (on Node 24 the Kubernetes client's use of url.parse() and punycode raises them at every start
 * with Events on): debug, once per code; everything else (an SDK's end-of-support notice) a warning.
 */
function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  const deprecations = new Set<string>();
  process.on('warning', (w: Error & { code?: string }) => {
    if (w.name !== 'DeprecationWarning') {
      logger.warn('runtime warning', { warning: w.name, detail: w.message });
      return;
    }
    const code = w.code ?? w.message;
    if (deprecations.has(code)) return;
    deprecations.add(code);
    logger.debug('runtime deprecation (for the maintainers)', { warning: w.name, code, detail: w.message });
  });
}

/** JSON lines on stdout (pods); text on stderr (a terminal). */
function writerFor(format: LogFormat): (line: string) => void {
  return format === 'json' ? (line) => void process.stdout.write(line) : (line) => void process.stderr.write(line);
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // The uploader's analysis process (triage/child-protocol.ts): not a command, no config, no HTTP.
  if (argv[0] === ANALYSIS_PROCESS_ARG) {
    const { runAnalysisChild } = await import('./triage/child');
    return runAnalysisChild();
  }
  if (argv[0] === 'analyze') {
    // A local tool (a dump's leak report on a terminal; the analyzer's child process), not a pod command.
    const { runAnalyzeCli } = await import('./leaks/cli');
    return runAnalyzeCli(argv.slice(1), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  }
  const { format, error: formatError } = resolveLogFormat(env, process.stderr.isTTY === true);
  const write = writerFor(format);
  const bootLogger = createLogger({ level: 'info', format, write }, { component: 'main' });
  routeProcessWarnings(bootLogger);
  const problems: ProblemOutput = { format, logger: bootLogger, writeErr: (text) => void process.stderr.write(text) };
  // --help, --version, usage errors (agent/src/cli.ts).
  const cli = runCli(argv, problems, (text) => process.stdout.write(text));
  if ('exit' in cli) return cli.exit;
  // Before validation: a typo is often the reason a value is missing.
  for (const typo of findTypos(env)) {
    bootLogger.warn('unknown variable looks like a typo', { variable: typo.variable, suggestion: typo.suggestion });
  }
  let resolved: ResolvedConfig;
  try {
    resolved = resolveConfig(cli.command, env);
    if (formatError !== undefined) throw formatError;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Every problem at once, LOG_FORMAT's among them.
    let all = error;
    if (formatError !== undefined && error !== formatError) {
      all = new ConfigErrors([formatError, ...(error instanceof ConfigErrors ? error.errors : [error])]);
    }
    reportProblems(all, problems, cli.command);
    return EXIT.config;
  }
  const { config } = resolved;

  const root = createLogger({ level: config.logLevel, format, write }, { command: resolved.command, node: config.nodeName });
  const log = root.child('main');
  routeProcessWarnings(log);

  const lifecycle = new Lifecycle(root.child('lifecycle'));
  const stuckReads = new StuckReads();
  const registry = createRegistry({ node: config.nodeName, command: resolved.command });
  const routes = new Map<string, HttpRouteHandler>();
  let http;
  try {
    http = await startHttpServer({
      routes,
      host: config.httpHost,
      port: config.httpPort,
      registry,
      readiness: () => lifecycle.ready,
      health: () => lifecycle.health,
      logger: root.child('http'),
    });
  } catch (error) {
    log.error('http server failed to start', { host: config.httpHost, port: config.httpPort, error: error as Error });
    return EXIT.failure;
  }

  let deadline: NodeJS.Timeout | undefined;
  const armDeadline = () => {
    // Not unref'd: a hung step with nothing else pending must still end the process, after a log line.
    deadline ??= setTimeout(() => {
      log.error('shutdown deadline exceeded, exiting', { timeoutMs: config.shutdownTimeoutMs });
      killSelf();
    }, config.shutdownTimeoutMs);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (lifecycle.signal.aborted) {
      log.warn('signal ignored: shutdown already in progress', { signal });
      return;
    }
    log.info('shutdown requested', { signal });
    armDeadline();
    lifecycle.setReady(false, 'shutting down'); // out of Service endpoints while stopping
    lifecycle.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const ctx: CommandContext = {
    logger: root.child(resolved.command),
    clock: systemClock,
    registry,
    signal: lifecycle.signal,
    setReady: (ready, reason) => lifecycle.setReady(ready, reason),
    onShutdown: (name, step) => lifecycle.onShutdown(name, step),
    heartbeat: (loop, maxSilenceMs) => lifecycle.heartbeat(loop, maxSilenceMs),
    stuckReads,
    agentCommand: [process.execPath, process.argv[1]],
    httpRoute: (method, path, handler) => routes.set(`${method} ${path}`, handler),
  };

  let code: number;
  try {
    code = await dispatch(resolved, ctx);
  } catch (error) {
    log.error('command failed', { error: error as Error });
    code = EXIT.failure;
  }
  armDeadline();
  lifecycle.abort();
  lifecycle.setReady(false, 'shutting down');
  if (!(await lifecycle.runShutdownSteps())) code = EXIT.failure;
  await http.close();
  clearTimeout(deadline);
  if (stuckReads.count() > 0) {
    // process.exit() would wait forever for the thread-pool threads those reads hold.
    log.error('stopped, but reads of the dump storage never returned: ending the process with SIGKILL', { exitCode: code, stuckReads: stuckReads.count() });
    killSelf();
    return new Promise<number>(() => undefined);
  }
  log.info('stopped', { exitCode: code });
  return code;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'agent crashed', error: error.message }) + '\n');
    process.exit(EXIT.failure);
  },
);
