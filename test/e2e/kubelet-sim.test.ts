/** Unit tests of the path/env translation used by the one-node simulation (pure functions). */
import {
  commandLine,
  Container,
  expandVars,
  mountTable,
  NodeLayout,
  PodContext,
  PodSpec,
  processIdentity,
  resolveEnv,
  setprivArgs,
  translatePath,
  translateValue,
} from './kubelet-sim';

const ctx: PodContext = {
  nodeName: 'node-a',
  namespace: 'demo',
  podName: 'app-123',
  configMaps: { cfg: { S3_PREFIX: 'dumps/', FILE_STABLE_TIME: '30' }, code: { 'Leak.java': 'class Leak {}' } },
  secrets: { creds: { 'access-key': 'AK', 'secret-key': 'SK' } },
};

const layout: NodeLayout = {
  nodeRoot: '/sim/node',
  claims: { 'dump-pvc': '/sim/pvc' },
  configMapDirs: { code: '/sim/cm/code' },
  emptyDirRoot: '/sim/empty',
};

const app: Container = {
  name: 'app',
  command: ['java', '/app/Leak.java'],
  env: [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx256m -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/dumps -Dx=$(POD_NAME)' },
  ],
  volumeMounts: [
    { name: 'dumps', mountPath: '/dumps', subPathExpr: '$(POD_NAMESPACE)/$(POD_NAME)' },
    { name: 'code', mountPath: '/app', readOnly: true },
  ],
  securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
};
const spec: PodSpec = {
  containers: [app],
  volumes: [
    { name: 'dumps', hostPath: { path: '/mnt/dump' } },
    { name: 'code', configMap: { name: 'code' } },
    { name: 'pvc', persistentVolumeClaim: { claimName: 'dump-pvc' } },
  ],
};

describe('expandVars', () => {
  const lookup = (n: string) => ({ A: 'x', B: 'y' } as Record<string, string>)[n];
  it('replaces defined references, keeps undefined ones and $$ escapes', () => {
    expect(expandVars('$(A)/$(B)', lookup)).toBe('x/y');
    expect(expandVars('$(C)-$(A)', lookup)).toBe('$(C)-x');
    expect(expandVars('$$(A) $ $', lookup)).toBe('$(A) $ $');
    expect(expandVars('$(A', lookup)).toBe('$(A');
  });
});

describe('resolveEnv', () => {
  it('applies envFrom first, then env in order, with fieldRef, refs and $(VAR)', () => {
    const env = resolveEnv(
      {
        name: 'c',
        envFrom: [{ configMapRef: { name: 'cfg' } }],
        env: [
          { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'creds', key: 'access-key' } } },
          { name: 'SUB', value: '$(NODE_NAME)/$(S3_PREFIX)$(LATER)' },
          { name: 'LATER', value: 'z' },
        ],
      },
      ctx,
    );
    expect(env).toEqual({ S3_PREFIX: 'dumps/', FILE_STABLE_TIME: '30', NODE_NAME: 'node-a', AWS_ACCESS_KEY_ID: 'AK', SUB: 'node-a/dumps/$(LATER)', LATER: 'z' });
  });
  it('names a missing secret key', () => {
    expect(() => resolveEnv({ name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'creds', key: 'nope' } } }] }, ctx)).toThrow(/creds\/nope/);
  });
  it('names an unknown fieldRef', () => {
    expect(() => resolveEnv({ name: 'c', env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } }] }, ctx)).toThrow(/metadata\.uid/);
  });
});

describe('mountTable and translation', () => {
  const env = resolveEnv(app, ctx);
  const table = mountTable(spec, app, env, layout);

  it('resolves hostPath + subPathExpr and configMap volumes', () => {
    expect(table).toEqual([
      { mountPath: '/dumps', source: '/sim/node/mnt/dump/demo/app-123', volume: 'dumps', propagation: 'None', readOnly: false },
      { mountPath: '/app', source: '/sim/cm/code', volume: 'code', propagation: 'None', readOnly: true },
    ]);
  });
  it('translates paths under a mount (longest match), leaves others alone', () => {
    expect(translatePath('/dumps', table)).toBe('/sim/node/mnt/dump/demo/app-123');
    expect(translatePath('/dumps/x/../y.hprof', table)).toBe('/sim/node/mnt/dump/demo/app-123/y.hprof');
    expect(translatePath('/dumpsX', table)).toBeUndefined();
    expect(translatePath('/usr/bin/java', table)).toBeUndefined();
    expect(translatePath('relative', table)).toBeUndefined();
  });
  it('translates option values inside JAVA_TOOL_OPTIONS and the command line', () => {
    expect(translateValue(env.JAVA_TOOL_OPTIONS, table)).toBe(
      '-Xmx256m -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=/sim/node/mnt/dump/demo/app-123 -Dx=app-123',
    );
    expect(commandLine(app, env, table)).toEqual(['java', '/sim/cm/code/Leak.java']);
  });
  it('rejects a subPathExpr naming an undefined variable, and unknown volumes', () => {
    const bad: Container = { ...app, volumeMounts: [{ name: 'dumps', mountPath: '/d', subPathExpr: '$(NOPE)' }] };
    expect(() => mountTable(spec, bad, env, layout)).toThrow(/subPathExpr.*NOPE/);
    const unknown: Container = { ...app, volumeMounts: [{ name: 'ghost', mountPath: '/g' }] };
    expect(() => mountTable(spec, unknown, env, layout)).toThrow(/ghost/);
  });
  it('maps a PVC volume to the claim directory', () => {
    const c: Container = { name: 'g', volumeMounts: [{ name: 'pvc', mountPath: '/pv-storage' }] };
    expect(mountTable(spec, c, {}, layout)[0].source).toBe('/sim/pvc');
  });
});

describe('processIdentity / setprivArgs', () => {
  it('non-root app: uid from the SCC default, no capabilities, no_new_privs', () => {
    const id = processIdentity(spec, app, 1000);
    expect(id).toEqual({ privileged: false, uid: 1000, gid: 1000, caps: [], noNewPrivs: true });
    expect(setprivArgs(id)).toEqual([
      'setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
    ]);
  });
  it('root uploader with drop ALL + add DAC_READ_SEARCH keeps only that capability', () => {
    const c: Container = { name: 'u', securityContext: { runAsUser: 0, capabilities: { drop: ['ALL'], add: ['DAC_READ_SEARCH'] } } };
    const id = processIdentity(spec, c, 1000);
    expect(id.caps).toEqual(['dac_read_search']);
    expect(setprivArgs(id)).toContain('--bounding-set=-all,+dac_read_search');
    expect(setprivArgs(id)).not.toContain('--reuid=0');
  });
  it('privileged container runs unchanged', () => {
    const c: Container = { name: 'g', securityContext: { privileged: true, runAsUser: 0 } };
    expect(setprivArgs(processIdentity(spec, c, 1000))).toEqual([]);
  });
  it('added capabilities do not reach a non-root process', () => {
    const c: Container = { name: 'u', securityContext: { runAsUser: 5, capabilities: { add: ['DAC_READ_SEARCH'] } } };
    expect(processIdentity(spec, c, 1000).caps).toEqual([]);
  });
  it('refuses runAsNonRoot with uid 0', () => {
    const c: Container = { name: 'u', securityContext: { runAsNonRoot: true, runAsUser: 0 } };
    expect(() => processIdentity(spec, c, 1000)).toThrow(/runAsNonRoot/);
  });
});
