/**
 * The analyzer's notification texts: the Event note leads with the headline and stays within the API
 * server's 1 KiB (multi-byte names included), names from a dump or a tenant are escaped, Slack gets
 * plain_text blocks (a name cannot end a code block or mention @channel), and the Event is the pod's.
 */
import { buildLeakEvent, LEAK_EVENT_REASON, leakEventName } from '../../../agent/src/report/leak-notifier';
import { leakEventNote, leakJsonPayload, type LeakNotice, leakSlackPayload } from '../../../agent/src/report/leak-report';
import { retrievalHint } from '../../../agent/src/report/retrieval-hint';
import { eventsV1ServerErrors } from '../../support/kube-api-server';

const base: LeakNotice = {
  namespace: 'orders', pod: 'orders-api-7c9-abcde', node: 'worker-1', key: 'p/worker-1/orders/orders-api-7c9-abcde/java_pid1.2026-12-07T20-00-00.000Z.hprof',
  objectUri: 's3://dumps/p/worker-1/orders/orders-api-7c9-abcde/java_pid1.2026-12-07T20-00-00.000Z.hprof',
  reportKeys: { json: 'p/worker-1/orders/orders-api-7c9-abcde/java_pid1.2026-12-07T20-00-00.000Z.hprof.leaks.json', text: 'p/worker-1/orders/orders-api-7c9-abcde/java_pid1.2026-12-07T20-00-00.000Z.hprof.leaks.txt' },
  status: 'analyzed', headline: 'Leak suspect: static field com.acme.Cache.ENTRIES (java.util.HashMap) retains 812 MiB (84 %): 1,204,118 × com.acme.Order', suspects: 1, analyzedAt: Date.UTC(2026, 11, 7, 20, 1),
};

describe('leak notification texts', () => {
  it('the Event note: the headline, then where the report is', () => {
    expect(leakEventNote(base)).toBe(`${base.headline}. Leak report: s3://dumps/${base.reportKeys.text}`);
  });

  it('with the heapdumps API: the team is told the command that prints the report with its own identity, not an S3 URI', () => {
    const retrieval = retrievalHint(base.namespace, base.key, { cli: 'oc', webUrl: 'https://heapdumps.apps.example.com' }, 'leaks')!;
    const n = { ...base, retrieval };
    // the name as the API derives it (agent/src/dump-name.ts), checked by shape here: pod folder, time stamp, key hash
    expect(retrieval.name).toMatch(/^orders-api-7c9-abcde\.20261207-200000\.[0-9a-f]{12}$/);
    expect(leakEventNote(n)).toBe(`${base.headline}. Read it: oc heapdump leaks -n orders ${retrieval.name} (web: ${retrieval.webUrl})`);
    expect(leakJsonPayload(n)).toMatchObject({ retrieval: { name: retrieval.name, command: `oc heapdump leaks -n orders ${retrieval.name}`, webUrl: retrieval.webUrl } });
    const slack = JSON.stringify(leakSlackPayload(n));
    expect(slack).toContain(`oc heapdump leaks -n orders ${retrieval.name}`);
    expect(slack).not.toContain('s3://');
  });

  it('capped at 1024 bytes: the report pointer goes first, then the headline is cut on a character', () => {
    const long = { ...base, headline: `Leak suspect: static field ${'ü'.repeat(700)}.X (java.util.HashMap) retains 1 GiB (90 %)` };
    const note = leakEventNote(long);
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
    expect(note).not.toContain('Leak report:');
    expect(note.endsWith('…')).toBe(true);
    expect(note).not.toContain('\ufffd');
  });

  it('not analysed: says why, with the reason escaped', () => {
    const n = { ...base, status: 'not-analyzed' as const, headline: null, reason: 'bad\nline \u001b]52;c;AAAA\u0007 end', suspects: 0 };
    const note = leakEventNote(n);
    expect(note).toMatch(/^Heap dump s3:\/\/dumps\/.* was not analysed for leaks: bad\\x0aline \\x1b\]52;c;AAAA\\x07 end\. Leak report: /);
    expect(note).not.toMatch(/[\u0000-\u001f]/);
  });

  it('Slack: plain_text blocks only, so names cannot end a code block or mention anyone', () => {
    const n = { ...base, headline: 'Leak suspect: static field A.`<!channel>` ``` (x) retains 1 GiB (90 %)', namespace: 'orders' };
    const p = leakSlackPayload(n, 'prod-eu-1');
    expect((p.blocks as Array<{ type: string; text?: { type: string } }>).filter((b) => b.text).every((b) => b.text!.type === 'plain_text')).toBe(true);
    expect(JSON.stringify(p.blocks)).toContain('<!channel>'); // shown as text in a plain_text block, not rendered
    expect(p.text).toContain('prod-eu-1: orders/orders-api-7c9-abcde on worker-1: Leak suspect');
  });

  it('the JSON message names the report and its status', () => {
    expect(leakJsonPayload(base)).toMatchObject({ schema: 'heapdump-pipeline.io/notification/v1', event: 'dump-analyzed', namespace: 'orders', leaks: { status: 'analyzed', headline: base.headline, suspects: 1, uris: [`s3://dumps/${base.reportKeys.json}`, `s3://dumps/${base.reportKeys.text}`] } });
  });

  it('the Event: HeapDumpAnalyzed on the pod, Warning with a suspect, Normal without, a name apart from the upload\'s, valid for the API server', () => {
    const e = buildLeakEvent(base, { podUid: 'uid-1', reportingInstance: 'worker-9' });
    expect(e).toMatchObject({ reason: LEAK_EVENT_REASON, type: 'Warning', regarding: { kind: 'Pod', namespace: 'orders', name: base.pod, uid: 'uid-1' } });
    expect(eventsV1ServerErrors(e as unknown as Record<string, unknown>)).toEqual([]);
    expect(buildLeakEvent({ ...base, suspects: 0, headline: null }, { reportingInstance: 'w' }).type).toBe('Normal');
    expect(leakEventName(base)).toMatch(/^orders-api-7c9-abcde\.[0-9a-f]{16}$/);
  });
});
