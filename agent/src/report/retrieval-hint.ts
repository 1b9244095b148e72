/**
 * How the owning team gets a dump: the line the Event and the notifications carry (issue 22, item 7), instead
 * of an S3 URI the team has no credentials for. Pure; the name is the API's (agent/src/dump-name.ts).
 *
 *   Get it: oc heapdump get -n team-orders orders-api-6f7c9d8b5-x7k2p.20261130-010203.3f9a1c0b5e2d
 *   (web: https://heapdumps.apps.example.com/namespaces/team-orders/heapdumps/orders-api-...)
 */
import { webDumpUrl } from '../api/paths';
import { dumpName } from '../dump-name';

/** The command line tools the hint can name: `oc` on OpenShift, `kubectl` elsewhere. */
export const RETRIEVAL_CLIS = ['oc', 'kubectl'] as const;
export type RetrievalCli = (typeof RETRIEVAL_CLIS)[number];

export interface RetrievalHintOptions {
  /** Which tool the command names. */
  readonly cli: RetrievalCli;
  /** Base URL of the web page (`api.web.url`), when there is one. */
  readonly webUrl?: string;
}

/** What the hint's command does: download the dump, or print its leak report. */
export type RetrievalVerb = 'get' | 'leaks';

export interface RetrievalHint {
  /** The dump's object name. */
  readonly name: string;
  /** `oc heapdump get -n <namespace> <name>` (or `leaks`) */
  readonly command: string;
  /** The dump's web page, when a base URL is configured. */
  readonly webUrl?: string;
  /** One line: `Get it: <command>` (`Read it: ` for the leak report) and ` (web: <url>)` when there is one. */
  readonly text: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The hint for the dump stored under `key`, written by a pod of `namespace`; undefined when `namespace` is not
 * a namespace name (a folder nobody's pod made: the API serves no such dump). The namespace is then a DNS label
 * and the object name is made of [a-z0-9.-] only, so the command is one shell-safe line as it stands.
 */
export function retrievalHint(namespace: string, key: string, opts: RetrievalHintOptions, verb: RetrievalVerb = 'get'): RetrievalHint | undefined {
  if (!DNS_LABEL.test(namespace)) return undefined;
  const name = dumpName(key);
  const command = `${opts.cli} heapdump ${verb} -n ${namespace} ${name}`;
  const webUrl = opts.webUrl !== undefined ? webDumpUrl(opts.webUrl, namespace, name) : undefined;
  return {
    name,
    command,
    ...(webUrl !== undefined ? { webUrl } : {}),
    text: `${verb === 'get' ? 'Get it' : 'Read it'}: ${command}${webUrl !== undefined ? ` (web: ${webUrl})` : ''}`,
  };
}
