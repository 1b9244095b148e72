/**
 * The agent's `--help` text, wrapped at HELP_WIDTH columns. Everything in it is data: the commands and
 * their one-line descriptions (COMMANDS, COMMAND_DOCS), the variables each reads with their defaults (the
 * settings table), the exit codes (EXIT). A new command is one COMMAND_DOCS entry.
 */
import { type Command, COMMANDS, EXIT } from './contract';
import { envSettings, type Setting } from './settings';

/** Columns of a terminal the help text fits in. */
export const HELP_WIDTH = 100;

/** One line per command: what it is and where it runs. */
export const COMMAND_DOCS: Readonly<Record<Command, string>> = {
  'mount-guard': 'Keeps the node\'s dump directory bind-mounted from the PVC and writes the ready marker (DaemonSet '
    + 'dump-volume-manager; privileged, refuses to run outside a pod).',
  uploader: 'Ships every finished dump to S3 once, whole and verified, with its summary (DaemonSet heap-dump-s3-uploader).',
  'wait-ready': 'Waits until the mount guard\'s marker proves the mount on this node, then exits 0 (the heapdump-wait-ready '
    + 'init container of collected pods).',
  inject: 'Serves the mutating admission webhook that gives collected pods their dump folder, JVM options and the '
    + 'heapdump-wait-ready init container (Deployment heapdump-injector).',
  api: 'Serves the heapdumps API (oc get heapdumps, downloads) and the web page to the teams RBAC allows (Deployment '
    + 'heapdump-api, behind the APIService v1alpha1.heapdump-pipeline.io).',
  analyzer: 'Writes a leak report next to every dump in the bucket and tells the team its top suspect (Deployment '
    + 'heapdump-analyzer).',
};

/** `text` wrapped at `width` columns, every line indented by `indent` spaces (words longer than a line stay whole). */
export function wrap(text: string, indent: number, width = HELP_WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) {
      lines.push(' '.repeat(indent) + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(' '.repeat(indent) + line);
  return lines;
}

/** Rows of `name  text`, the text column wrapped (and its continuation lines aligned under it). */
function definitions(rows: readonly (readonly [string, string])[]): string[] {
  const nameWidth = Math.max(...rows.map(([n]) => n.length));
  return rows.flatMap(([name, text]) => {
    const [first, ...rest] = wrap(text, 2 + nameWidth + 2);
    return [`  ${name.padEnd(nameWidth)}  ${first.trimStart()}`, ...rest];
  });
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

/** A variable: its name and default on one line, what it is below, wrapped. */
function variable(s: Setting & { env: string }): string[] {
  return [`  ${s.env}  ${defaultOf(s)}`, ...wrap(firstSentence(s.doc) + unsetMeans(s), 6)];
}

/** Environment sections: the variables every command reads, then each of `commands`' own. */
function environment(commands: readonly Command[]): string[] {
  const all = Object.values(COMMANDS);
  const everyCommand = (s: Setting) => all.every((c) => (s.readBy ?? []).includes(c));
  const vars = envSettings().map(([, s]) => s);
  const sections: [string, (Setting & { env: string })[]][] = [
    ['every command', vars.filter(everyCommand)],
    ...commands.map((c): [string, (Setting & { env: string })[]] => [c, vars.filter((s) => (s.readBy ?? []).includes(c) && !everyCommand(s))]),
  ];
  const out: string[] = [];
  for (const [title, list] of sections) {
    if (list.length === 0) continue;
    out.push('', `Environment (${title}): NAME  DEFAULT, then what it is`, ...list.flatMap(variable));
  }
  return out;
}

/**
 * The help text. Without a command: usage, the commands, the variables every command reads, exit codes.
 * With one: what it does and every variable it reads.
 */
export function helpText(command?: Command): string {
  const usage: [string, string][] = [
    ['node agent.js COMMAND', 'run COMMAND; its settings come from environment variables'],
    ['node agent.js COMMAND --help', 'what COMMAND does, and every variable it reads with its default'],
    ['node agent.js help [COMMAND]', 'this text (also --help, -h)'],
    ['node agent.js --version', 'the version (also -v, COMMAND --version)'],
    ['node agent.js analyze FILE.hprof', 'the leak report of a dump on local disk (analyze --help: its options)'],
  ];
  const out = [
    ...wrap('heapdump agent: keeps the JVM heap dumps of a node on shared storage and ships them to S3.', 0),
    '',
    'Usage:',
    ...definitions(usage),
    '',
    command === undefined ? 'Commands:' : 'Command:',
    ...definitions((command === undefined ? Object.values(COMMANDS) : [command]).map((c) => [c, COMMAND_DOCS[c]])),
    ...(command === undefined ? ['', ...wrap('Each command\'s own variables: node agent.js COMMAND --help.', 0)] : []),
    ...environment(command === undefined ? [] : [command]),
  ];
  out.push(
    '',
    ...wrap('An empty value counts as unset. Durations are seconds (decimals allowed, no unit); booleans true/false. '
      + 'Logs: JSON lines on stdout in a pod, text on stderr at a terminal (LOG_FORMAT). Every variable, with the values '
      + 'it accepts: docs/configuration.md.', 0),
    '',
    'Exit codes:',
    ...definitions([
      [String(EXIT.ok), 'success; also after SIGTERM/SIGINT and a clean, ordered shutdown'],
      [String(EXIT.failure), 'runtime failure (e.g. wait-ready timed out, the mount could not be made, the shutdown deadline passed)'],
      [String(EXIT.config), 'bad configuration or usage: one line per problem names the variable or argument, the value and what was expected'],
    ]),
    '',
  );
  return out.join('\n');
}
