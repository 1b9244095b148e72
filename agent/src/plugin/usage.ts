/** `kubectl heapdump` help texts, options and exit codes. */

export const PLUGIN_EXIT = {
  ok: 0,
  /** Anything else: the API server or the dump store unreachable (503), a network error, a local file problem. */
  failure: 1,
  /** Bad usage: an unknown command or option, a missing or malformed name (400); or an unusable kubeconfig. */
  usage: 2,
  /** No such heap dump (404), or no summary or leak report for it (yet). */
  notFound: 3,
  /** Not allowed: not logged in or the token expired (401), or RBAC does not allow it in that namespace (403). */
  denied: 4,
  /** The downloaded bytes do not have the dump's sha256 (they are deleted, never left under the name asked for). */
  integrity: 5,
} as const;

export class UsageError extends Error {}

export const COMMANDS_HELP: Readonly<Record<string, string>> = {
  ls: `List heap dumps, newest first.

Usage:
  kubectl heapdump ls [-n NAMESPACE | -A]

Options:
  -n, --namespace NS     the namespace (default: the context's)
  -A, --all-namespaces   every namespace whose dumps you may list
`,
  get: `Download a heap dump: resumable, with a progress bar on a terminal, checked against its sha256.

Usage:
  kubectl heapdump get NAME [-n NAMESPACE] [-o FILE]

Options:
  -o, --output FILE      where to write it (default: ./NAME.hprof); "-" writes to standard output
  -n, --namespace NS     the dump's namespace (default: the context's)

An interrupted download continues where it stopped: run the same command again (the bytes so far are in
FILE.partial). The file gets its name only once its sha256 matches the dump's.
`,
  summary: `Print a heap dump's triage summary (class histogram, largest objects, threads).

Usage:
  kubectl heapdump summary NAME [-n NAMESPACE] [-o json]
`,
  leaks: `Print a heap dump's leak report (leak suspects and their retained sizes).

Usage:
  kubectl heapdump leaks NAME [-n NAMESPACE] [-o json]
`,
  open: `Print the web page of a heap dump (and open it with --browser).

Usage:
  kubectl heapdump open NAME [-n NAMESPACE] [--browser]
`,
};

export const MAIN_HELP = `kubectl heapdump: get your JVM heap dumps with your own cluster identity.

Usage:
  kubectl heapdump ls [-n NAMESPACE | -A]         list heap dumps
  kubectl heapdump get NAME [-o FILE]             download one (resumable, sha256-checked)
  kubectl heapdump summary NAME                   its triage summary
  kubectl heapdump leaks NAME                     its leak report
  kubectl heapdump open NAME [--browser]          its web page
  kubectl heapdump COMMAND --help                 help for a command

Global options:
  -n, --namespace NS     namespace (default: the current context's)
  --context NAME         kubeconfig context (default: the current one)
  --kubeconfig FILE      kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)

Works as "oc heapdump" too when this file is on your PATH as kubectl-heapdump. Uses your kubeconfig's
credentials: a token, a client certificate or an exec credential plugin (as after oc login).

Exit codes:
  0  success
  1  failure (API server or dump store unreachable, network, local file)
  2  bad usage (also a malformed name) or an unusable kubeconfig
  3  no such heap dump, or no summary / leak report for it
  4  not allowed: not logged in, or RBAC denies it in that namespace
  5  the download does not match the dump's sha256 (it is deleted)
`;

export interface Parsed {
  readonly command?: string;
  readonly args: string[];
  readonly namespace?: string;
  readonly allNamespaces: boolean;
  readonly output?: string;
  readonly context?: string;
  readonly kubeconfig?: string;
  readonly help: boolean;
  readonly browser: boolean;
}

const VALUE_OPTS: Record<string, 'namespace' | 'output' | 'context' | 'kubeconfig'> = {
  '-n': 'namespace', '--namespace': 'namespace', '-o': 'output', '--output': 'output', '--context': 'context', '--kubeconfig': 'kubeconfig',
};

export function parseArgv(argv: readonly string[]): Parsed {
  const out: { -readonly [K in keyof Parsed]: Parsed[K] } = { args: [], allNamespaces: false, help: false, browser: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_OPTS[flag] !== undefined) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`option ${flag} needs a value`);
      out[VALUE_OPTS[flag]] = value;
    } else if (a === '-A' || a === '--all-namespaces') out.allNamespaces = true;
    else if (a === '-h' || a === '--help') out.help = true;
    else if (a === '--browser') out.browser = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`option "${a}" is unknown (see kubectl heapdump --help)`);
    else if (out.command === undefined) out.command = a;
    else out.args.push(a);
  }
  return out;
}
