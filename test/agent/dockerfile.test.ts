/**
 * The image cannot be built here, so the Dockerfile is checked statically against what
 * `npm run bundle` really produces and what the pods run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AGENT_BUNDLE } from '../../scripts/bundle-agent';

const ROOT = path.join(__dirname, '..', '..');
const dockerfile = fs.readFileSync(path.join(ROOT, 'agent', 'Dockerfile'), 'utf8');
const instructions = dockerfile.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('agent/Dockerfile', () => {
  const bundleOut = path.relative(ROOT, AGENT_BUNDLE);
  const entrypoint = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length)) as string[];
  const copy = instructions.find((l) => l.startsWith('COPY --from=build '))!.split(/\s+/);

  test('the build stage runs `npm run bundle` and copies exactly its output', () => {
    expect(instructions).toContain('RUN npm run bundle');
    // `npm run bundle` runs the same builder (scripts/bundle-agent.ts) as jest's globalSetup,
    // so the integration tests execute the file the image ships.
    expect(pkg.scripts.bundle).toMatch(/^esbuild scripts\/bundle-agent\.ts .*--outfile=(\S+) && node \1$/);
    expect(bundleOut).toBe('.build/agent/agent.js');
    expect(instructions).toContain('COPY scripts/bundle-agent.ts ./scripts/');
    const workdir = instructions.find((l) => l.startsWith('WORKDIR '))!.split(/\s+/)[1];
    expect(copy[2]).toBe(path.posix.join(workdir, bundleOut!));
  });

  test('ENTRYPOINT runs the copied bundle with node', () => {
    expect(entrypoint).toEqual(['node', '/opt/heapdump/agent.js']);
    expect(copy[3]).toBe(entrypoint[1]);
  });

  test('multi-stage, pinned base images, non-root default user, mount binaries checked', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:\d+\.\d+-bookworm-slim( AS build)?$/);
    const user = instructions.filter((l) => l.startsWith('USER ')).pop()!.split(/\s+/)[1];
    expect(Number(user)).toBeGreaterThan(0);
    expect(instructions).toContain('RUN mount --version && umount --version');
  });

  test('the build context admits what the build stage copies', () => {
    const ignore = fs.readFileSync(path.join(ROOT, 'agent', 'Dockerfile.dockerignore'), 'utf8');
    for (const p of ['package.json', 'package-lock.json', 'agent/src/**', 'scripts/bundle-agent.ts']) expect(ignore).toContain(`!${p}`);
  });
});
