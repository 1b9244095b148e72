/**
 * agent/src/report/kube-api.ts bundled with esbuild, as the image bundles it.
 *
 * @kubernetes/client-node 1.x is ESM-only, which jest (CommonJS via ts-jest) cannot load; esbuild
 * turns it into CommonJS exactly as scripts/bundle-agent.ts does for the agent, so tests run the
 * same client code the image runs.
 */
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as KubeApiModule from '../../agent/src/report/kube-api';
import type { KubeApiLoader } from '../../agent/src/report/kube-events';

export const KUBE_API_SOURCE = path.resolve(__dirname, '..', '..', 'agent', 'src', 'report', 'kube-api.ts');

export interface KubeClientBundle {
  readonly file: string;
  readonly load: KubeApiLoader;
  dispose(): void;
}

export async function buildKubeClientBundle(): Promise<KubeClientBundle> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kube-api-bundle-'));
  const file = path.join(dir, 'kube-api.js');
  await build({
    entryPoints: [KUBE_API_SOURCE], bundle: true, platform: 'node', target: 'node20', format: 'cjs',
    legalComments: 'none', logLevel: 'warning', outfile: file,
  });
  return {
    file,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    load: async (opts) => (require(file) as typeof KubeApiModule).createKubeApi(opts),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
