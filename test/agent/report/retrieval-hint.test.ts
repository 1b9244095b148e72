import { createHash } from 'crypto';
import { resolveNotifyConfig } from '../../../agent/src/report/config';
import { eventNote } from '../../../agent/src/report/report';
import { retrievalHint } from '../../../agent/src/report/retrieval-hint';
import { jsonPayload, plainText, slackPayload } from '../../../agent/src/report/webhook';
import { sampleReport } from './fixtures';

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

describe('the hint in the Event and the notifications (issue 22, item 7)', () => {
  const base = sampleReport();
  const name = `cart-7d9f8-abcde.20261130-010000.${createHash('sha256').update(base.key).digest('hex').slice(0, 12)}`;
  const withHint = sampleReport({ retrieval: retrievalHint(base.namespace, base.key, { cli: 'oc', webUrl: 'https://dumps.example.com' }) });

  test('the Event note: the command right after the upload sentence, and it survives the 1024-byte cut', () => {
    const note = eventNote(withHint);
    expect(note.startsWith(`Heap dump uploaded to ${base.objectUri} (1.5 GiB). Get it: oc heapdump get -n shop ${name} (web: https://dumps.example.com/namespaces/shop/heapdumps/${name}). Top classes`)).toBe(true);
    const long = sampleReport({ ...withHint, topClasses: Array.from({ length: 3 }, (_, i) => ({ name: `com.example.${'x'.repeat(400)}${i}`, shallowBytes: 1e6 + i, instances: 1 })) });
    const cut = eventNote(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut).toContain(`oc heapdump get -n shop ${name}`);
    expect(eventNote(base)).not.toContain('heapdump get');
  });

  test('the webhook: JSON document, Slack message and plain text carry it', () => {
    expect(jsonPayload(withHint).retrieval).toEqual({ name, command: `oc heapdump get -n shop ${name}`, webUrl: `https://dumps.example.com/namespaces/shop/heapdumps/${name}` });
    expect(jsonPayload(base).retrieval).toBeUndefined();
    expect(plainText(withHint)).toContain(`. Get it: oc heapdump get -n shop ${name}`);
    expect(JSON.stringify(slackPayload(withHint).blocks)).toContain(`*Get it*\\n\`oc heapdump get -n shop ${name}\``);
  });

  test('configured by NOTIFY_RETRIEVAL_CLI (off by default) and API_WEB_URL', () => {
    expect(resolveNotifyConfig({}).retrieval).toBeUndefined();
    expect(resolveNotifyConfig({ NOTIFY_RETRIEVAL_CLI: 'off', API_WEB_URL: 'https://dumps.example.com' }).retrieval).toBeUndefined();
    expect(resolveNotifyConfig({ NOTIFY_RETRIEVAL_CLI: 'kubectl' }).retrieval).toEqual({ cli: 'kubectl' });
    expect(resolveNotifyConfig({ NOTIFY_RETRIEVAL_CLI: 'oc', API_WEB_URL: 'https://dumps.example.com' }).retrieval).toEqual({ cli: 'oc', webUrl: 'https://dumps.example.com' });
  });
});
