/**
 * The user's kubeconfig, read as kubectl reads it: `--kubeconfig`, else every file of $KUBECONFIG (merged: the
 * first file that names a context, cluster or user wins, and the first `current-context` wins), else
 * ~/.kube/config. Relative file paths are relative to the file that names them.
 *
 * Supported credentials: a bearer token (`token`, `tokenFile`), a client certificate (`client-certificate[-data]`,
 * `client-key[-data]`), and exec credential plugins (client.authentication.k8s.io v1 and v1beta1: `oc login`'s
 * tokens, cloud CLIs, kubelogin for OIDC). Not supported: `auth-provider` (removed from kubectl in 1.26) and
 * basic auth; either is one clear error.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { load } from 'js-yaml';

export class KubeconfigError extends Error {}

export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly interactiveMode?: string;
  readonly provideClusterInfo?: boolean;
  /** Folder of the kubeconfig that named it (a relative command is relative to it). */
  readonly dir: string;
}

export interface ResolvedContext {
  readonly contextName: string;
  readonly server: string;
  readonly namespace: string;
  readonly ca?: Buffer;
  readonly insecure: boolean;
  readonly tlsServerName?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly exec?: ExecConfig;
}

interface Named<T> { name?: string; [k: string]: unknown; value?: T }
interface Doc { 'current-context'?: string; contexts?: Array<Named<unknown> & { context?: Record<string, string> }>; clusters?: Array<Named<unknown> & { cluster?: Record<string, unknown> }>; users?: Array<Named<unknown> & { user?: Record<string, unknown> }> }

function files(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit !== undefined) return [explicit];
  const list = (env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  return list.length > 0 ? list : [path.join(env.HOME ?? os.homedir(), '.kube', 'config')];
}

function readDoc(file: string, required: boolean): Doc | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KubeconfigError(`kubeconfig ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return (load(text) ?? {}) as Doc;
  } catch (error) {
    throw new KubeconfigError(`kubeconfig ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

function dataOrFile(data: unknown, file: unknown, dir: string, what: string): Buffer | undefined {
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file !== '') {
    const p = path.resolve(dir, file);
    try {
      return readFileSync(p);
    } catch (error) {
      throw new KubeconfigError(`${what} ${p} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  return undefined;
}

/** The context to use (`--context`, else the current one) with its cluster and user resolved. */
export function resolveKubeconfig(o: { kubeconfig?: string; context?: string; env: NodeJS.ProcessEnv }): ResolvedContext {
  const contexts = new Map<string, { ctx: Record<string, string>; dir: string }>();
  const clusters = new Map<string, { c: Record<string, unknown>; dir: string }>();
  const users = new Map<string, { u: Record<string, unknown>; dir: string }>();
  let current: string | undefined;
  const list = files(o.kubeconfig, o.env);
  for (const file of list) {
    const doc = readDoc(file, o.kubeconfig !== undefined || list.length === 1);
    if (doc === undefined) continue;
    const dir = path.dirname(path.resolve(file));
    if (current === undefined && typeof doc['current-context'] === 'string' && doc['current-context'] !== '') current = doc['current-context'];
    for (const c of doc.contexts ?? []) if (typeof c.name === 'string' && !contexts.has(c.name)) contexts.set(c.name, { ctx: c.context ?? {}, dir });
    for (const c of doc.clusters ?? []) if (typeof c.name === 'string' && !clusters.has(c.name)) clusters.set(c.name, { c: c.cluster ?? {}, dir });
    for (const u of doc.users ?? []) if (typeof u.name === 'string' && !users.has(u.name)) users.set(u.name, { u: u.user ?? {}, dir });
  }
  const name = o.context ?? current;
  if (name === undefined) throw new KubeconfigError(`no current context in ${list.join(', ')}: log in first (oc login / kubectl config use-context), or pass --context`);
  const context = contexts.get(name);
  if (context === undefined) throw new KubeconfigError(`context "${name}" is not in ${list.join(', ')}`);
  const cluster = clusters.get(context.ctx.cluster ?? '');
  if (cluster === undefined || typeof cluster.c.server !== 'string') throw new KubeconfigError(`context "${name}" names cluster "${context.ctx.cluster ?? ''}", which has no server`);
  const user = users.get(context.ctx.user ?? '')?.u ?? {};
  const userDir = users.get(context.ctx.user ?? '')?.dir ?? cluster.dir;
  if (user['auth-provider'] !== undefined) throw new KubeconfigError(`user "${context.ctx.user}" uses an auth-provider, which kubectl dropped in 1.26: use an exec credential plugin (e.g. kubelogin for OIDC)`);
  if (user.username !== undefined || user.password !== undefined) throw new KubeconfigError(`user "${context.ctx.user}" uses basic authentication, which is not supported: use a token, a client certificate or an exec plugin`);
  const exec = user.exec as Record<string, unknown> | undefined;
  return {
    contextName: name,
    server: cluster.c.server.replace(/\/+$/, ''),
    namespace: typeof context.ctx.namespace === 'string' && context.ctx.namespace !== '' ? context.ctx.namespace : 'default',
    ...(dataOrFile(cluster.c['certificate-authority-data'], cluster.c['certificate-authority'], cluster.dir, 'certificate authority') !== undefined
      ? { ca: dataOrFile(cluster.c['certificate-authority-data'], cluster.c['certificate-authority'], cluster.dir, 'certificate authority') } : {}),
    insecure: cluster.c['insecure-skip-tls-verify'] === true,
    ...(typeof cluster.c['tls-server-name'] === 'string' ? { tlsServerName: cluster.c['tls-server-name'] } : {}),
    ...(typeof user.token === 'string' && user.token !== '' ? { token: user.token } : {}),
    ...(typeof user.tokenFile === 'string' ? { tokenFile: path.resolve(userDir, user.tokenFile) } : {}),
    ...(dataOrFile(user['client-certificate-data'], user['client-certificate'], userDir, 'client certificate') !== undefined ? {
      cert: dataOrFile(user['client-certificate-data'], user['client-certificate'], userDir, 'client certificate'),
      key: dataOrFile(user['client-key-data'], user['client-key'], userDir, 'client key'),
    } : {}),
    ...(exec !== undefined ? {
      exec: {
        apiVersion: String(exec.apiVersion ?? ''),
        command: String(exec.command ?? ''),
        args: Array.isArray(exec.args) ? exec.args.map(String) : [],
        env: Array.isArray(exec.env) ? (exec.env as Array<{ name: unknown; value: unknown }>).map((e) => ({ name: String(e.name), value: String(e.value) })) : [],
        ...(typeof exec.interactiveMode === 'string' ? { interactiveMode: exec.interactiveMode } : {}),
        provideClusterInfo: exec.provideClusterInfo === true,
        dir: userDir,
      },
    } : {}),
  };
}
