import { createHash, randomBytes } from 'crypto';
import { readPass, type PassPlan } from '../../../agent/src/uploader/read-pass';

const data = randomBytes(5 * 1024 * 1024 + 777);
const read = async (b: Buffer, p: number, l: number) => data.copy(b, 0, p, Math.min(data.length, p + l));
const hash = (algo: string, b: Buffer) => createHash(algo).update(b).digest();
const pass = (plan: Omit<PassPlan, 'size' | 'gzipHprof'>) => readPass(read, { size: data.length, gzipHprof: false, ...plan }, { readTimeoutMs: 5000, chunkSize: 300_000 });

describe('readPass: the sha256 and the one PUT\'s payload digest, from one read', () => {
  it('one PUT with MD5: the whole-file MD5 is both the md5 and the single payload digest', async () => {
    const r = await pass({ digest: 'md5' });
    expect(r.sha256).toBe(hash('sha256', data).toString('hex'));
    expect(r.md5).toBe(hash('md5', data).toString('hex'));
    expect(r.payloadDigest).toEqual(hash('md5', data));
  });

  it('one PUT with sha256: the payload digest is the whole-file sha256, no MD5', async () => {
    const r = await pass({ digest: 'sha256' });
    expect(r.md5).toBeUndefined();
    expect(r.payloadDigest).toEqual(hash('sha256', data));
  });

  it('no digest (multipart and gzip digest their parts as they send them): the sha256 only', async () => {
    const r = await pass({});
    expect(r.sha256).toBe(hash('sha256', data).toString('hex'));
    expect(r.md5).toBeUndefined();
    expect(r.payloadDigest).toBeUndefined();
  });
});
