/**
 * The agent's command line, apart from main.ts (which wires the runtime):
 *
 *   node agent.js <command>             run mount-guard, uploader, wait-ready, inject or api (settings: the environment)
 *   node agent.js [<command>] --help    commands, every variable with its default, exit codes
 *
 * Anything else (an unknown option, an unknown command, an extra argument) is a usage error: one line,
 * exit code 2. The variables come from the settings table (agent/src/settings/table.ts).
 */
import { type Command, COMMANDS, EXIT } from './contract';
import { ConfigError, parseCommand } from './config';
import type { Logger } from './runtime/logger';
import { envSettings, type Setting } from './settings';

const HELP_FLAGS = ['--help', '-h'];

export const COMMAND_DOCS: Readonly<Record<Command, string>> = {
  'mount-guard': 'Keeps the node\'s dump directory bind-mounted from the PVC and writes the ready marker (DaemonSet).',
  uploader: 'Ships every finished dump to S3 once, whole and verified (DaemonSet).',
  'wait-ready': 'Waits until the mount guard\'s marker proves the mount on this node, then exits 0 (init container).',
  inject: 'Serves the mutating admission webhook that gives collected pods their dump folder and JVM options (Deployment).',
  api: 'Serves the heapdumps API (oc get heapdumps, downloads) and the web page to the teams RBAC allows (Deployment).',
};

export type CliAction =
  | { readonly kind: 'run'; readonly command: Command }
  | { readonly kind: 'help'; readonly command?: Command };

const COMMAND_LIST = Object.values(COMMANDS).join(', ');

/** argv (without node and the script) -> what to do; a ConfigError (one line) for anything else. */
export function parseArgs(argv: readonly string[]): CliAction {
  const help = argv.some((a) => HELP_FLAGS.includes(a));
  const option = argv.find((a) => a.startsWith('-') && !HELP_FLAGS.includes(a));
  if (option !== undefined) {
    throw new ConfigError('argument', `option "${option}" is unknown: expected --help, or a command: ${COMMAND_LIST}`);
  }
  const positional = argv.filter((a) => !HELP_FLAGS.includes(a));
  if (positional.length > 1) {
    throw new ConfigError('argument', `argument "${positional[1]}" is unexpected: expected only a command (${COMMAND_LIST}); settings come from the environment (see --help)`);
  }
  if (help) return positional.length === 0 ? { kind: 'help' } : { kind: 'help', command: parseCommand(positional[0]) };
  return { kind: 'run', command: parseCommand(positional[0]) };
}

function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/.exec(text);
  return m ? m[1] : text;
}

function defaultOf(s: Setting): string {
  if (s.default !== undefined) {
    const shown = s.kind.env!.render(s.kind.fromProp(s.default));
    return shown === '' ? '""' : shown;
  }
  if (s.required) return '(required)';
  return '(unset)';
}

/** What an unset variable without a default value means, e.g. " Unset: AWS S3 for the region." */
function unsetMeans(s: Setting): string {
  const text = s.default === undefined ? s.defaultText?.replace(/^unset(: )?/, '') : undefined;
  return text ? ` Unset: ${text}.` : '';
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd());
}

/** The help text: commands, variables (name, default, what it is), exit codes. */
export function helpText(command?: Command): string {
  const commands = command === undefined ? Object.values(COMMANDS) : [command];
  const out = [
    'heapdump agent: keeps JVM heap dumps of a node on shared storage and ships them to S3.',
    '',
    'Usage:',
    '  node agent.js <command>             run a command; its settings come from environment variables',
    '  node agent.js [<command>] --help    this text (with a command: that command\'s variables only)',
    '',
    'Commands:',
    ...table(commands.map((c) => [c, COMMAND_DOCS[c]])),
  ];
  const vars = envSettings().map(([, s]) => s).filter((s) => (s.readBy ?? []).some((c) => commands.includes(c)));
  const all = Object.values(COMMANDS);
  const sections: [string, Setting[]][] = [
    ['all commands', vars.filter((s) => all.every((c) => s.readBy!.includes(c)))],
    ...commands.map((c): [string, Setting[]] => [c, vars.filter((s) => s.readBy!.includes(c) && !all.every((x) => s.readBy!.includes(x)))]),
  ];
  for (const [title, list] of sections) {
    if (list.length === 0) continue;
    out.push('', `Environment (${title}): name, default, meaning`);
    out.push(...table(list.map((s) => [s.env!, defaultOf(s), firstSentence(s.doc) + unsetMeans(s)])));
  }
  out.push(
    '',
    'An empty value counts as unset. Durations are seconds (decimals allowed, no unit); booleans true/false.',
    'Every variable, with the values it accepts: docs/configuration.md.',
    '',
    'Exit codes:',
    ...table([
      [String(EXIT.ok), 'success; also after SIGTERM/SIGINT and a clean, ordered shutdown'],
      [String(EXIT.failure), 'runtime failure (e.g. wait-ready timed out, the mount could not be made, the shutdown deadline passed)'],
      [String(EXIT.config), 'bad configuration or usage: one line names the variable or argument, the value and what was expected'],
    ]),
    '',
  );
  return out.join('\n');
}

/**
 * Handles the command line for main.ts: prints the help, or logs a usage error (one JSON line, like
 * every configuration error), or returns the command to run.
 */
export function runCli(argv: readonly string[], logger: Logger, write: (text: string) => void): { readonly exit: number } | { readonly command: Command } {
  let action: CliAction;
  try {
    action = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error('invalid configuration', { variable: error.variable, problem: error.message });
    return { exit: EXIT.config };
  }
  if (action.kind === 'help') {
    write(helpText(action.command));
    return { exit: EXIT.ok };
  }
  return { command: action.command };
}
