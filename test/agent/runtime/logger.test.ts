/** The two log formats: the same events as JSON (pods) and as one text line (a terminal), secrets redacted in both. */
import { createLogger } from '../../../agent/src/runtime/logger';

function capture(format: 'json' | 'text') {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', format, write: (l) => void lines.push(l), now: () => Date.UTC(2026, 11, 7, 9, 8, 7, 654) }, { component: 'uploader' });
  return { logger, lines };
}

test('json: one object per line with time, level, msg and the fields', () => {
  const { logger, lines } = capture('json');
  logger.warn('upload failed', { key: 'a/b.hprof', attempt: 2 });
  expect(lines).toEqual(['{"time":"2026-12-07T09:08:07.654Z","level":"warn","msg":"upload failed","component":"uploader","key":"a/b.hprof","attempt":2}\n']);
});

test('text: time, level, component, message, key=value; values with spaces quoted', () => {
  const { logger, lines } = capture('text');
  logger.warn('upload failed', { key: 'a/b.hprof', attempt: 2, reason: 'connection reset', empty: '' });
  logger.child('s3', { bucket: 'dumps' }).info('verified', { sizes: [1, 2] });
  expect(lines).toEqual([
    '09:08:07.654 WARN  uploader: upload failed key=a/b.hprof attempt=2 reason="connection reset" empty=""\n',
    '09:08:07.654 INFO  s3: verified bucket=dumps sizes=[1,2]\n',
  ]);
});

test('text: a name from a tenant cannot forge a line or send terminal escapes; secrets are redacted', () => {
  const { logger, lines } = capture('text');
  logger.error('cannot read', { file: 'java_pid1.hprof\n09:00:00.000 INFO  uploader: uploaded \u001b]52;c;AAAA\u0007', secretAccessKey: 'wJalrXUtnFEMI' });
  expect(lines).toHaveLength(1);
  expect(lines[0].indexOf('\n')).toBe(lines[0].length - 1);
  expect(lines[0]).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
  expect(lines[0]).toContain('file="java_pid1.hprof\\x0a09:00:00.000 INFO  uploader: uploaded \\x1b]52;c;AAAA\\x07" ');
  expect(lines[0]).toContain(' secretAccessKey=[redacted]');
  expect(lines[0]).not.toContain('wJalrXUtnFEMI');
});
