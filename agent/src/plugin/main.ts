/**
 * `kubectl-heapdump`: the kubectl / oc plugin (a single bundled file on the PATH: `kubectl heapdump ...`,
 * `oc heapdump ...`). Talks to the cluster's API server with the user's kubeconfig and identity; the heapdumps
 * API behind it (aggregated) decides with RBAC. Errors are one line on stderr and an exit code (usage.ts).
 */
import { ApiError, KubeClient } from './client';
import { listDumps, openPage, printReport } from './commands';
import { getDump, IntegrityError } from './get';
import { KubeconfigError, resolveKubeconfig } from './kubeconfig';
import { COMMANDS_HELP, MAIN_HELP, parseArgv, PLUGIN_EXIT, UsageError } from './usage';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function exitFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof KubeconfigError) return PLUGIN_EXIT.usage;
  if (error instanceof IntegrityError) return PLUGIN_EXIT.integrity;
  if (error instanceof ApiError) {
    if (error.reason === 'Usage') return PLUGIN_EXIT.usage;
    if (error.status === 400) return PLUGIN_EXIT.usage;
    if (error.status === 404) return PLUGIN_EXIT.notFound;
    if (error.status === 401 || error.status === 403) return PLUGIN_EXIT.denied;
  }
  return PLUGIN_EXIT.failure;
}

export async function run(argv: readonly string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; env: NodeJS.ProcessEnv }): Promise<number> {
  try {
    const p = parseArgv(argv);
    if (p.command === undefined) {
      (p.help ? io.stdout : io.stderr).write(MAIN_HELP);
      return p.help ? PLUGIN_EXIT.ok : PLUGIN_EXIT.usage;
    }
    const help = COMMANDS_HELP[p.command];
    if (help === undefined) throw new UsageError(`"${p.command}" is not a command: expected ls, get, summary, leaks or open (see --help)`);
    if (p.help) {
      io.stdout.write(help);
      return PLUGIN_EXIT.ok;
    }
    const takesName = p.command !== 'ls';
    if (takesName && p.args.length !== 1) throw new UsageError(`${p.command} takes exactly one NAME (see kubectl heapdump ${p.command} --help)`);
    if (!takesName && p.args.length > 0) throw new UsageError(`ls takes no argument "${p.args[0]}" (a namespace goes after -n)`);
    if (p.allNamespaces && (p.command !== 'ls' || p.namespace !== undefined)) throw new UsageError('-A goes with ls only, and not together with -n');
    if (p.namespace !== undefined && !DNS_LABEL.test(p.namespace)) throw new UsageError(`namespace "${p.namespace}" is not a namespace name`);
    const ctx = resolveKubeconfig({ kubeconfig: p.kubeconfig, context: p.context, env: io.env });
    const client = new KubeClient(ctx, io.stderr.isTTY === true);
    const ns = p.namespace ?? ctx.namespace;
    switch (p.command) {
      case 'ls':
        return await listDumps(client, ns, p.allNamespaces, io.stdout, io.stderr);
      case 'get':
        return await getDump(client, ns, p.args[0], p.output, io);
      case 'summary':
      case 'leaks':
        return await printReport(client, p.command, ns, p.args[0], p.output, io.stdout);
      default:
        return await openPage(client, ns, p.args[0], p.browser, io.stdout, io.stderr);
    }
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return exitFor(error);
  }
}

if (require.main === module) {
  run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code;
  }, (error: Error) => {
    process.stderr.write(`kubectl-heapdump crashed: ${error.message}\n`);
    process.exitCode = PLUGIN_EXIT.failure;
  });
}
