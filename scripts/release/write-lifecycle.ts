/**
 * `npm run lifecycle -- [MANIFEST] [OUTDIR]`: install.sh, upgrade.sh and uninstall.sh for your own
 * synthesized manifest (default dist/heapdump-pipeline.k8s.yaml into .build/lifecycle/), the same scripts a
 * release ships for its manifests (scripts/release/lifecycle.ts says what each does).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { lifecycleScripts, type ManifestObject } from './lifecycle';

const [manifest = 'dist/heapdump-pipeline.k8s.yaml', outdir = '.build/lifecycle'] = process.argv.slice(2);
try {
  const objects = (yaml.loadAll(fs.readFileSync(manifest, 'utf8')) as (ManifestObject | null)[]).filter((o): o is ManifestObject => o !== null);
  fs.mkdirSync(outdir, { recursive: true });
  const relative = path.relative(path.resolve(outdir), path.resolve(manifest));
  for (const [name, text] of Object.entries(lifecycleScripts(relative, objects))) {
    fs.writeFileSync(path.join(outdir, name), text, { mode: 0o755 });
    console.log(path.join(outdir, name));
  }
} catch (err) {
  console.error(`npm run lifecycle: ${(err as Error).message}`);
  process.exitCode = 1;
}
