/**
 * openRanged against a real S3 server (s3rver): many small parts in flight give exactly the bytes of the range, in
 * order; a missing object fails before anything is streamed; a consumer that stops early aborts the rest.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'crypto';
import { DumpStore, StoreError } from '../../../agent/src/api/dump-store';
import { openRanged } from '../../../agent/src/api/ranged-stream';
import { disposeAll, type S3Server, startS3Server } from '../../support/s3';

let s3: S3Server;
let client: S3Client;
let store: DumpStore;
const body = randomBytes(3 * 1024 * 1024 + 777);

beforeAll(async () => {
  s3 = await startS3Server('s3rver');
  client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'k', Body: body, ContentLength: body.length }));
  store = new DumpStore(client, s3.bucket, '');
}, 60_000);

afterAll(async () => {
  client.destroy();
  await disposeAll();
});

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

test('parts in flight are delivered in order: the whole object, and ranges that do not fall on part boundaries', async () => {
  const whole = await collect(await openRanged(store, 'k', 0, body.length - 1, { partBytes: 256 * 1024, inFlight: 3 }, new AbortController().signal));
  expect(whole.equals(body)).toBe(true);
  for (const [from, to] of [[1, 1], [100_000, 900_001], [body.length - 5, body.length - 1], [262_143, 262_144]]) {
    const got = await collect(await openRanged(store, 'k', from, to, { partBytes: 256 * 1024, inFlight: 4 }, new AbortController().signal));
    expect({ from, to, same: got.equals(body.subarray(from, to + 1)) }).toEqual({ from, to, same: true });
  }
});

test('a missing object is an error before the stream exists', async () => {
  await expect(openRanged(store, 'nope', 0, 10, { partBytes: 4, inFlight: 2 }, new AbortController().signal)).rejects.toMatchObject({ kind: 'not-found' });
  expect(StoreError).toBeDefined();
});

test('a consumer that stops early (the client went away) ends the stream and its requests', async () => {
  const abort = new AbortController();
  const stream = await openRanged(store, 'k', 0, body.length - 1, { partBytes: 128 * 1024, inFlight: 4 }, abort.signal);
  let seen = 0;
  for await (const c of stream) {
    seen += (c as Buffer).length;
    if (seen > 300_000) break;
  }
  expect(stream.destroyed).toBe(true);
  // the store still answers afterwards: no socket was left hanging
  const again = await collect(await openRanged(store, 'k', 0, 99, { partBytes: 50, inFlight: 2 }, abort.signal.aborted ? new AbortController().signal : abort.signal));
  expect(again.equals(body.subarray(0, 100))).toBe(true);
});
