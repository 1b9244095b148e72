/** `ls`, `summary`, `leaks` and `open`: what the API answers, printed for a terminal (every cell escaped). */
import { spawn } from 'node:child_process';
import { resourcePath, SUBRESOURCES } from '../api/paths';
import { escapeText } from '../text/escape';
import { ApiError, errorOf, KubeClient } from './client';
import type { DumpObject } from './get';
import { PLUGIN_EXIT } from './usage';

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const SHOWN = ['Name', 'Pod', 'Node', 'Size', 'Age', 'Complete', 'Top Suspect'];

interface Table {
  columnDefinitions: Array<{ name: string }>;
  rows: Array<{ cells: unknown[]; object?: { metadata?: { namespace?: string } } }>;
}

/** Already escaped by the server; controls are escaped again here in case a server is not ours. */
const cell = (v: unknown) => escapeText(String(v ?? '')).replace(/\\\\/g, '\\');

function printRows(rows: string[][], out: NodeJS.WriteStream): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...r[i]].length)));
  for (const r of rows) out.write(`${r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - [...c].length))).join('   ').trimEnd()}\n`);
}

async function table(client: KubeClient, path: string): Promise<Table> {
  return client.json<Table>(path, { accept: TABLE_ACCEPT });
}

/** Namespaces the user may see on OpenShift (its project list is filtered per user), or undefined elsewhere. */
async function visibleProjects(client: KubeClient): Promise<string[] | undefined> {
  try {
    const list = await client.json<{ items?: Array<{ metadata?: { name?: string } }> }>('/apis/project.openshift.io/v1/projects');
    return (list.items ?? []).map((p) => p.metadata?.name).filter((n): n is string => typeof n === 'string');
  } catch {
    return undefined;
  }
}

export async function listDumps(client: KubeClient, namespace: string, all: boolean, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  let tables: Array<{ ns?: string; t: Table }>;
  if (!all) tables = [{ ns: namespace, t: await table(client, resourcePath(namespace)) }];
  else {
    try {
      tables = [{ t: await table(client, resourcePath()) }];
    } catch (error) {
      // The API server authorizes a list across namespaces before it reaches us: without a cluster-wide grant,
      // list the namespaces one may see (OpenShift projects) one by one.
      if (!(error instanceof ApiError) || error.status !== 403) throw error;
      const projects = await visibleProjects(client);
      if (projects === undefined) {
        err.write('You may not list heap dumps across all namespaces here; name one with -n NAMESPACE.\n');
        return PLUGIN_EXIT.denied;
      }
      tables = [];
      for (const ns of projects) {
        try {
          tables.push({ ns, t: await table(client, resourcePath(ns)) });
        } catch (e) {
          if (!(e instanceof ApiError) || e.status !== 403) throw e;
        }
      }
    }
  }
  const rows: string[][] = [];
  for (const { ns, t } of tables) {
    const idx = SHOWN.map((n) => t.columnDefinitions.findIndex((c) => c.name === n));
    for (const r of t.rows) rows.push([...(all ? [cell(ns ?? r.object?.metadata?.namespace)] : []), ...idx.map((i) => (i < 0 ? '' : cell(r.cells[i])))]);
  }
  if (rows.length === 0) {
    err.write(all ? 'No heap dumps found in any namespace you may see.\n' : `No heap dumps found in ${namespace} namespace.\n`);
    return PLUGIN_EXIT.ok;
  }
  printRows([[...(all ? ['NAMESPACE'] : []), ...SHOWN.map((s) => s.toUpperCase())], ...rows], out);
  return PLUGIN_EXIT.ok;
}

/** `summary` / `leaks`: the text rendering (escaped line by line), or the JSON document with -o json. */
export async function printReport(client: KubeClient, which: 'summary' | 'leaks', namespace: string, name: string, format: string | undefined, out: NodeJS.WriteStream): Promise<number> {
  const sub = which === 'summary' ? SUBRESOURCES.summary : SUBRESOURCES.leaks;
  if (format === 'json') {
    out.write(`${JSON.stringify(await client.json(resourcePath(namespace, name, sub)), null, 2)}\n`);
    return PLUGIN_EXIT.ok;
  }
  if (format !== undefined) throw new ApiError(`-o ${format} is not a format of ${which}: expected json, or no -o for text`, 0, 'Usage');
  const res = await client.open(resourcePath(namespace, name, sub), { accept: 'text/plain' });
  const text = await KubeClient.text(res);
  if (res.statusCode !== 200) throw errorOf(res.statusCode ?? 0, text);
  for (const line of text.replace(/\n$/, '').split('\n')) out.write(`${escapeText(line, 4096)}\n`);
  return PLUGIN_EXIT.ok;
}

export async function openPage(client: KubeClient, namespace: string, name: string, browser: boolean, out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  const obj = await client.json<DumpObject>(resourcePath(namespace, name));
  const url = obj.status.webUrl;
  if (url === undefined || !/^https:\/\/[^\s]+$/.test(url)) {
    err.write('The web page\'s address is not configured (api.web.url); ask your platform team, or use "kubectl heapdump get".\n');
    return PLUGIN_EXIT.notFound;
  }
  out.write(`${url}\n`);
  if (browser) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => err.write(`could not start ${opener}: open the address above yourself\n`));
    child.unref();
  }
  return PLUGIN_EXIT.ok;
}
