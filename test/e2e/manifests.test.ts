/** The simulation finds its workloads in the synthesized manifests (in memory) and in dist/ alike. */
import * as path from 'path';
import { COMMANDS, ENV } from '../../agent/src/contract';
import { containerOf, loadManifests, pickWorkloads, readManifestDir, REPO_ROOT } from './manifests';

describe('e2e manifests', () => {
  it('finds the guard, the uploader and the gated app in the in-memory synth', () => {
    const m = loadManifests();
    expect(containerOf(m.guard, COMMANDS.mountGuard).env?.map((e) => e.name)).toEqual(expect.arrayContaining([ENV.mountSourceRoot, ENV.mountTarget]));
    expect(containerOf(m.uploader, COMMANDS.uploader)).toBeDefined();
    expect(containerOf(m.app, COMMANDS.waitReady, true)).toBeDefined();
    expect(containerOf(m.app).command).toBeDefined();
  });
  it('reads dist/ the same way', () => {
    const m = pickWorkloads('dist', readManifestDir(path.join(REPO_ROOT, 'dist')));
    expect([m.guard.name, m.uploader.name, m.app.name]).toEqual([loadManifests().guard.name, loadManifests().uploader.name, loadManifests().app.name]);
  });
  it('names a missing directory', () => {
    expect(() => readManifestDir('/nonexistent-dir')).toThrow(/nonexistent-dir/);
  });
  it('rejects manifests without a mount guard', () => {
    expect(() => pickWorkloads('x', [])).toThrow(/mount-guard.*exactly one/);
  });
});
