/** The outage contract both server kinds must keep: stop/start and kill/start keep port and data. */
import { pidAlive } from '../support/procs';
import { getObjectSha256, S3Server } from '../support/s3';

export async function expectOutageKeepsData(s3: S3Server, key: string, sha: string): Promise<void> {
  const pid1 = s3.pid()!;
  expect(pid1).toBeGreaterThan(0);
  await s3.stop();
  expect(s3.pid()).toBeUndefined();
  expect(pidAlive(pid1)).toBe(false);
  await expect(s3.listKeys()).rejects.toThrow();
  await s3.start();
  const pid2 = s3.pid()!;
  expect(pid2).not.toBe(pid1);
  expect((await getObjectSha256(s3, key)).sha256).toBe(sha);
  await s3.kill();
  expect(pidAlive(pid2)).toBe(false);
  await s3.start();
  expect((await getObjectSha256(s3, key)).sha256).toBe(sha);
}
