import { createHash } from 'crypto';
import { retrievalHint } from '../../../agent/src/report/retrieval-hint';

const KEY = 'prefix/worker-1/team-orders/orders-api-6f7c9d8b5-x7k2p/java_pid1.2026-11-30T01-02-03.456Z.hprof';
const NAME = `orders-api-6f7c9d8b5-x7k2p.20261130-010203.${createHash('sha256').update(KEY).digest('hex').slice(0, 12)}`;

describe('retrievalHint', () => {
  test('the oc command with the namespace and the object name', () => {
    expect(retrievalHint('team-orders', KEY, { cli: 'oc' })).toEqual({
      name: NAME,
      command: `oc heapdump get -n team-orders ${NAME}`,
      text: `Get it: oc heapdump get -n team-orders ${NAME}`,
    });
  });

  test('kubectl, and the web page when a base URL is configured (a trailing slash is not doubled)', () => {
    const h = retrievalHint('team-orders', KEY, { cli: 'kubectl', webUrl: 'https://dumps.apps.example.com/' })!;
    expect(h.webUrl).toBe(`https://dumps.apps.example.com/namespaces/team-orders/heapdumps/${NAME}`);
    expect(h.text).toBe(`Get it: kubectl heapdump get -n team-orders ${NAME} (web: https://dumps.apps.example.com/namespaces/team-orders/heapdumps/${NAME})`);
  });

  test('no hint for a folder that is not a namespace name (nothing a shell could misread is ever printed)', () => {
    for (const ns of ['', 'Team', '$(id)', 'a b', 'ns;rm', '%2e%2e', 'x'.repeat(64)]) expect(retrievalHint(ns, KEY, { cli: 'oc' })).toBeUndefined();
  });
});
