/**
 * The agent's command line, apart from main.ts (which wires the runtime):
 *
 *   node agent.js COMMAND                 run a command (settings: the environment)
 *   node agent.js COMMAND --help          what it does, every variable it reads with its default
 *   node agent.js --help | -h | help [COMMAND]
 *   node agent.js --version | -v | COMMAND --version
 *
 * Anything else (an unknown option, an unknown command, an extra argument) is a usage error: one line,
 * exit code 2. How problems are shown follows LOG_FORMAT: JSON log lines on stdout in a pod, plain lines
 * on stderr at a terminal. The help text itself is agent/src/cli-help.ts.
 */
import { COMMAND_DOCS, helpText } from './cli-help';
import { ConfigError, ConfigErrors } from './config-read';
import { parseCommand } from './config';
import { type Command, COMMANDS, EXIT } from './contract';
import type { Logger, LogFormat } from './runtime/logger';
import { VERSION_LINE } from './version';

export { COMMAND_DOCS, helpText };

const HELP_FLAGS = ['--help', '-h'];
const VERSION_FLAGS = ['--version', '-v'];
const HELP_WORD = 'help';

export type CliAction =
  | { readonly kind: 'run'; readonly command: Command }
  | { readonly kind: 'help'; readonly command?: Command }
  | { readonly kind: 'version' };

const COMMAND_LIST = Object.values(COMMANDS).join(', ');

/** argv (without node and the script) -> what to do; a ConfigError (one line) for anything else. */
export function parseArgs(argv: readonly string[]): CliAction {
  const isFlag = (a: string) => HELP_FLAGS.includes(a) || VERSION_FLAGS.includes(a);
  const option = argv.find((a) => a.startsWith('-') && !isFlag(a));
  if (option !== undefined) {
    throw new ConfigError('argument', `option "${option}" is unknown: expected --help, --version, or a command: ${COMMAND_LIST}`);
  }
  const help = argv.some((a) => HELP_FLAGS.includes(a)) || argv[0] === HELP_WORD;
  const positional = argv.filter((a) => !isFlag(a)).slice(argv[0] === HELP_WORD ? 1 : 0);
  if (positional.length > 1) {
    throw new ConfigError('argument', `argument "${positional[1]}" is unexpected: expected only a command (${COMMAND_LIST}); settings come from the environment (see --help)`);
  }
  const command = positional.length === 1 ? parseCommand(positional[0]) : undefined;
  if (help) return command === undefined ? { kind: 'help' } : { kind: 'help', command };
  if (argv.some((a) => VERSION_FLAGS.includes(a))) return { kind: 'version' };
  return { kind: 'run', command: parseCommand(positional[0]) };
}

/** Where problems go: the log (JSON in a pod) or plain lines on stderr (a person at a terminal). */
export interface ProblemOutput {
  readonly format: LogFormat;
  readonly logger: Logger;
  readonly writeErr: (text: string) => void;
}

/**
 * Every configuration or usage problem, at once: one `invalid configuration` log event per problem
 * (JSON), or one line each plus where to read more (text).
 */
export function reportProblems(error: ConfigError, out: ProblemOutput, command?: Command): void {
  const errors = error instanceof ConfigErrors ? error.errors : [error];
  if (out.format === 'json') {
    for (const e of errors) out.logger.error('invalid configuration', { variable: e.variable, problem: e.message });
    return;
  }
  const what = errors.length === 1 ? 'configuration error' : `${errors.length} configuration errors`;
  const help = command === undefined ? 'node agent.js --help' : `node agent.js ${command} --help`;
  out.writeErr([`heapdump-agent${command === undefined ? '' : ` ${command}`}: ${what}:`, ...errors.map((e) => `  ${e.message}`), `See ${help}.`, ''].join('\n'));
}

/**
 * Handles the command line for main.ts: prints the help or the version (stdout), or reports a usage
 * error, or returns the command to run.
 */
export function runCli(argv: readonly string[], out: ProblemOutput, write: (text: string) => void): { readonly exit: number } | { readonly command: Command } {
  let action: CliAction;
  try {
    action = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    reportProblems(error, out);
    return { exit: EXIT.config };
  }
  if (action.kind === 'help') {
    write(helpText(action.command));
    return { exit: EXIT.ok };
  }
  if (action.kind === 'version') {
    write(`${VERSION_LINE}\n`);
    return { exit: EXIT.ok };
  }
  return { command: action.command };
}
