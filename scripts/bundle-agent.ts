/** One command builds the agent into a single JavaScript file: `npm run bundle`. */
import * as path from 'path';
import { build } from 'esbuild';

export const AGENT_BUNDLE = path.join(__dirname, '..', '.build', 'agent', 'agent.js');

export async function buildAgentBundle(outfile = AGENT_BUNDLE): Promise<string> {
  await build({
    entryPoints: [path.join(__dirname, '..', 'agent', 'src', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    outfile,
    sourcemap: false,
    minify: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

if (require.main === module) {
  buildAgentBundle().then((f) => console.log(f), (e) => { console.error(e); process.exit(1); });
}
