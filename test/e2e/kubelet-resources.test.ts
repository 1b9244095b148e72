/** Unit tests of the resource and probe reading of the one-node simulation (pure functions). */
import { limitsOf, parseCpu, parseMemory, probesOf, restartBackoffMs } from './kubelet-resources';

describe('resources and probes as the kubelet reads them', () => {
  it('parses CPU and memory quantities', () => {
    expect([parseCpu('1'), parseCpu('0.5'), parseCpu('250m'), parseCpu(2)]).toEqual([1000, 500, 250, 2000]);
    expect([parseMemory('256Mi'), parseMemory('1Gi'), parseMemory('128M'), parseMemory(1000)]).toEqual([268435456, 1073741824, 128000000, 1000]);
    expect(() => parseCpu('1 core')).toThrow('kubelet-sim: CPU quantity is "1 core"');
    expect(() => parseMemory('1GB')).toThrow('kubelet-sim: memory quantity is "1GB"');
  });

  it('reads the limits, not the requests', () => {
    expect(limitsOf({ name: 'c', resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } } })).toEqual({ cpuMillis: 1000, memoryBytes: 268435456 });
    expect(limitsOf({ name: 'c' })).toEqual({});
  });

  it('fills in the kubelet\'s probe defaults and refuses what is not simulated', () => {
    expect(probesOf({ name: 'c', livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 30, timeoutSeconds: 5 } })).toEqual({
      liveness: { path: '/healthz', port: 'http', initialDelaySeconds: 0, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3, successThreshold: 1 },
    });
    expect(() => probesOf({ name: 'c', readinessProbe: {} })).toThrow('kubelet-sim: readiness probe is [], expected an httpGet probe');
  });

  it('backs off restarts as the kubelet does', () => {
    expect([0, 1, 2, 5, 10].map(restartBackoffMs)).toEqual([10_000, 20_000, 40_000, 300_000, 300_000]);
  });
});
