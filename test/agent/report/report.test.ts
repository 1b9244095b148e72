/** The texts made from a report, the Event's fixed parts, and the notifier's config. */
import { ConfigError } from '../../../agent/src/config';
import { DEFAULT_KUBE_CREDENTIALS_DIR, NOTIFY_ENV, resolveNotifyConfig } from '../../../agent/src/report/config';
import { buildEvent, eventName, microTime } from '../../../agent/src/report/kube-events';
import { eventNote, formatBytes, largestClasses } from '../../../agent/src/report/report';
import { eventsV1ServerErrors } from '../../support/kube-api-server';
import { sampleReport } from './fixtures';

describe('texts', () => {
  test('sizes in binary units, classes by shallow size (largest first, three)', () => {
    expect([0, 1023, 1024, 1536, 1610612736, 2 ** 40].map(formatBytes)).toEqual(['0 bytes', '1023 bytes', '1.0 KiB', '1.5 KiB', '1.5 GiB', '1.0 TiB']);
    expect(largestClasses(sampleReport().topClasses).map((c) => c.name)).toEqual(['byte[]', 'java.lang.String', 'com.example.shop.CartLine']);
  });

  test('an incomplete or unanalysed dump says so', () => {
    const note = eventNote(sampleReport({ complete: false, topClasses: [], summaryKeys: [] }));
    expect(note).toBe(`Incomplete heap dump (the file ends early; its summary is partial) uploaded to ${sampleReport().objectUri} (1.5 GiB). Top classes by shallow size: not available (dump not analysed).`);
  });

  test('the note stays within the API server\'s 1024 bytes, keeping the URI first, with multi-byte names', () => {
    const longKey = 'p/'.repeat(300) + 'dump.hprof'; // S3 keys reach 1024 bytes
    const huge = sampleReport({
      key: longKey, objectUri: `s3://b/${longKey}`, summaryKeys: [`${longKey}.summary.txt`],
      topClasses: [1, 2, 3].map((i) => ({ name: `com.example.${'Ünïcödé'.repeat(40)}.C${i}`, shallowBytes: i, instances: i })),
    });
    for (const report of [huge, sampleReport({ topClasses: huge.topClasses })]) {
      const note = eventNote(report);
      expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(1024);
      expect(note.startsWith('Heap dump uploaded to s3://')).toBe(true);
      expect(note).not.toContain('\uFFFD');
    }
    // Short enough: class names shortened, the summary pointer dropped before the URI is cut.
    const medium = eventNote(sampleReport({ topClasses: huge.topClasses }));
    expect(medium).toContain(sampleReport().objectUri);
    expect(medium).toMatch(/C1 /);
  });

  test('the Event: MicroTime, a stable DNS-1123 name per object, valid even for the longest pod names', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006000Z');
    const a = sampleReport();
    expect(eventName(a)).toBe(eventName(sampleReport()));
    expect(eventName(a)).not.toBe(eventName(sampleReport({ key: 'other' })));
    const longPod = 'a'.repeat(250) + '-x.y';
    const body = buildEvent(sampleReport({ pod: longPod }), { reportingInstance: 'n'.repeat(300) });
    expect(body.metadata.name.length).toBeLessThanOrEqual(253);
    expect(eventsV1ServerErrors(body as unknown as Record<string, unknown>)).toEqual([]);
  });
});

describe('resolveNotifyConfig', () => {
  const inPod = { KUBERNETES_SERVICE_HOST: '172.30.0.1', KUBERNETES_SERVICE_PORT: '443' };

  test('defaults: nothing enabled, bounded queue, short grace', () => {
    expect(resolveNotifyConfig({})).toEqual({ timeoutMs: 10_000, maxAttempts: 5, queueSize: 100, shutdownGraceMs: 5000 });
  });

  test('events in a pod use the kubelet\'s service env and the ServiceAccount folder; IPv6 is bracketed', () => {
    expect(resolveNotifyConfig({ ...inPod, [NOTIFY_ENV.kubeEvents]: 'true' }).kubeEvents)
      .toEqual({ apiUrl: 'https://172.30.0.1:443', credentialsDir: DEFAULT_KUBE_CREDENTIALS_DIR });
    expect(resolveNotifyConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', [NOTIFY_ENV.kubeEvents]: 'true' }).kubeEvents?.apiUrl)
      .toBe('https://[fd00::1]:6443');
    expect(resolveNotifyConfig({ ...inPod, [NOTIFY_ENV.kubeEvents]: 'true', [NOTIFY_ENV.kubeApiUrl]: 'https://127.0.0.1:6443/' }).kubeEvents?.apiUrl)
      .toBe('https://127.0.0.1:6443');
  });

  test('one-line errors that name the variable; the webhook URL is never echoed', () => {
    const err = (env: Record<string, string>) => {
      try {
        resolveNotifyConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(err({ [NOTIFY_ENV.kubeEvents]: 'ja' })).toBe('NOTIFY_KUBE_EVENTS="ja" is invalid: expected true or false');
    expect(err({ [NOTIFY_ENV.kubeEvents]: 'true' })).toMatch(/^NOTIFY_KUBE_API_URL is missing: .*KUBERNETES_SERVICE_HOST is not set/);
    expect(err({ [NOTIFY_ENV.webhookUrl]: 'hooks.slack.com/services/T/B/SECRET' })).toBe('NOTIFY_WEBHOOK_URL is invalid: expected an https:// or http:// URL');
    expect(err({ [NOTIFY_ENV.webhookUrl]: 'https://h/x', [NOTIFY_ENV.webhookUrlFile]: '/etc/hook/url' })).toMatch(/^NOTIFY_WEBHOOK_URL is invalid: expected it unset because NOTIFY_WEBHOOK_URL_FILE is set/);
    expect(err({ [NOTIFY_ENV.webhookUrl]: 'https://h/x', [NOTIFY_ENV.webhookFormat]: 'teams' })).toBe('NOTIFY_WEBHOOK_FORMAT="teams" is invalid: expected one of json, slack');
    expect(err({ [NOTIFY_ENV.webhookUrl]: 'https://h/x', [NOTIFY_ENV.webhookEvents]: 'dump-uploaded,oops' })).toMatch(/^NOTIFY_WEBHOOK_EVENTS="dump-uploaded,oops" is invalid/);
    expect(err({ [NOTIFY_ENV.queueSize]: '0' })).toBe('NOTIFY_QUEUE_SIZE="0" is invalid: expected a whole number between 1 and 10000');
    expect(err({ [NOTIFY_ENV.timeout]: '0' })).toBe('NOTIFY_TIMEOUT="0" is invalid: expected a number of seconds > 0');
    expect(err({ [NOTIFY_ENV.kubeEvents]: 'true', [NOTIFY_ENV.kubeApiUrl]: 'http://api:80' })).toBe('NOTIFY_KUBE_API_URL="http://api:80" is invalid: expected an https:// URL');
  });

  test('webhook from the env or from a mounted file', () => {
    expect(resolveNotifyConfig({ [NOTIFY_ENV.webhookUrl]: 'https://hooks.example.com/x', [NOTIFY_ENV.webhookFormat]: 'slack' }).webhook)
      .toEqual({ url: { kind: 'env', url: 'https://hooks.example.com/x' }, format: 'slack', events: ['dump-uploaded', 'incomplete-dump-uploaded', 'dump-analyzed'] });
    expect(resolveNotifyConfig({ [NOTIFY_ENV.webhookUrlFile]: '/etc/heapdump/webhook/url', [NOTIFY_ENV.webhookEvents]: 'incomplete-dump-uploaded' }).webhook)
      .toEqual({ url: { kind: 'file', path: '/etc/heapdump/webhook/url' }, format: 'json', events: ['incomplete-dump-uploaded'] });
  });
});
