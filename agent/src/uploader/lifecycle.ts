/**
 * Dumps expire: the bucket's lifecycle rule does it (S3 deletes, not the uploader), so the uploader only
 * checks that such a rule exists. The rule the docs give and `npm run bucket-lifecycle` writes is `retentionRule`;
 * `coveringRule` accepts any enabled rule that expires every key under the uploader's node prefix within
 * `retentionDays` (a rule of the platform's own naming does as well).
 *
 * The check runs when the bucket check succeeds, at most every CHECK_INTERVAL_MS (one small GET). A bucket
 * without such a rule, or a GetBucketLifecycleConfiguration that is denied or not implemented, is a warning
 * and `heapdump_uploader_bucket_lifecycle_ok 0` — never "not ready": dumps still flow, they only stay longer.
 */
import { GetBucketLifecycleConfigurationCommand, type LifecycleRule, type S3Client } from '@aws-sdk/client-s3';
import type { Clock } from '../runtime/clock';
import type { Logger } from '../runtime/logger';
import { Gauge, type Registry } from '../runtime/prom';
import { UPLOADER_METRIC_PREFIX } from './metrics';
import { classifyFailure } from './retry';

/** The ID of the rule `npm run bucket-lifecycle` writes (replaced in place by a later run, other rules kept). */
export const RETENTION_RULE_ID = 'heapdump-pipeline-retention';
/** Unfinished multipart uploads (a crashed or cut-off upload's parts cost storage) go after this many days. */
export const ABORT_INCOMPLETE_DAYS = 1;
/** On a versioned bucket: an expired or overwritten version goes this many days after it stopped being current. */
export const NONCURRENT_DAYS = 1;
/** How often the rule is looked at again (it rarely changes; one GET per node per interval). */
export const CHECK_INTERVAL_MS = 10 * 60_000;

/**
 * The rule for `prefix` (every key the pipeline writes: dumps, `.summary.*`, `.leaks.*`), in the JSON form
 * `aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration '{"Rules":[...]}'` takes (the SDK's too).
 */
export function retentionRule(prefix: string, days: number): LifecycleRule {
  return {
    ID: RETENTION_RULE_ID,
    Status: 'Enabled',
    Filter: { Prefix: prefix },
    Expiration: { Days: days },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_DAYS },
    NoncurrentVersionExpiration: { NoncurrentDays: NONCURRENT_DAYS },
  };
}

/** The key prefix a rule applies to, or undefined when it selects fewer objects than a prefix does (tags, sizes). */
function rulePrefix(rule: LifecycleRule): string | undefined {
  const f = rule.Filter;
  if (f === undefined) return rule.Prefix ?? '';
  if (f.Tag !== undefined || f.ObjectSizeGreaterThan !== undefined || f.ObjectSizeLessThan !== undefined) return undefined;
  if (f.And !== undefined) {
    const a = f.And;
    if ((a.Tags?.length ?? 0) > 0 || a.ObjectSizeGreaterThan !== undefined || a.ObjectSizeLessThan !== undefined) return undefined;
    return a.Prefix ?? '';
  }
  return f.Prefix ?? '';
}

/** The first enabled rule that expires every key under `keyPrefix` within `days`, or undefined. */
export function coveringRule(rules: readonly LifecycleRule[], keyPrefix: string, days: number): LifecycleRule | undefined {
  return rules.find((r) => {
    if (r.Status !== 'Enabled') return false;
    const expire = r.Expiration?.Days;
    if (expire === undefined || expire > days) return false;
    const p = rulePrefix(r);
    return p !== undefined && keyPrefix.startsWith(p);
  });
}

export interface LifecycleMetrics {
  readonly ok: Gauge;
}

export function createLifecycleMetrics(registry: Registry): LifecycleMetrics {
  const name = `${UPLOADER_METRIC_PREFIX}bucket_lifecycle_ok`;
  const ok = (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({
    name,
    help: '1 when a lifecycle rule of the bucket expires this uploader\'s objects within S3_RETENTION_DAYS, 0 when none does or it cannot be read (the log says which)',
    registers: [registry],
  });
  return { ok };
}

/** The bucket's lifecycle rules; [] when it has no lifecycle configuration. Throws the SDK error otherwise. */
export async function lifecycleRules(client: S3Client, bucket: string, signal?: AbortSignal): Promise<LifecycleRule[]> {
  try {
    const out = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }), { abortSignal: signal });
    return out.Rules ?? [];
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchLifecycleConfiguration') return [];
    throw error;
  }
}

/** What the check needs from the store. */
export interface LifecycleSource {
  readonly bucket: string;
  readonly client: S3Client;
}

export interface LifecycleCheckOptions {
  /** The uploader's own keys: `<prefix><node>/`. */
  readonly keyPrefix: string;
  /** S3_RETENTION_DAYS (> 0). */
  readonly retentionDays: number;
  /** @default CHECK_INTERVAL_MS */
  readonly intervalMs?: number;
}

export class LifecycleCheck {
  private nextAt = 0;
  /** The last verdict logged (a line is written when it changes). */
  private said?: string;

  constructor(
    private readonly source: LifecycleSource,
    private readonly opts: LifecycleCheckOptions,
    private readonly deps: { readonly clock: Clock; readonly logger: Logger; readonly registry: Registry },
    private readonly metrics: LifecycleMetrics = createLifecycleMetrics(deps.registry),
  ) {}

  /** Called after each successful bucket check; looks at the rules when due. Never throws. */
  async check(signal?: AbortSignal): Promise<void> {
    const now = this.deps.clock.now();
    if (now < this.nextAt) return;
    this.nextAt = now + (this.opts.intervalMs ?? CHECK_INTERVAL_MS);
    const { keyPrefix, retentionDays } = this.opts;
    const where = { bucket: this.source.bucket, keyPrefix, retentionDays };
    let rules: LifecycleRule[];
    try {
      rules = await lifecycleRules(this.source.client, this.source.bucket, signal);
    } catch (error) {
      if (signal?.aborted) return;
      const f = classifyFailure(error);
      if (f.kind === 'transient' && !/NotImplemented|501/.test(f.cause)) {
        // S3 hiccup: keep the last verdict, look again at the next bucket check.
        this.nextAt = now;
        this.deps.logger.debug('could not read the bucket lifecycle configuration; trying again', { ...where, cause: f.cause, error: f.message });
        return;
      }
      this.verdict(false, `unreadable ${f.cause}`, () => this.deps.logger.warn('cannot read the bucket\'s lifecycle configuration: dump expiry is not checked', {
        ...where, cause: f.cause, error: f.message,
        hint: f.kind === 'permanent'
          ? 'allow s3:GetLifecycleConfiguration on the bucket to the uploader (docs/access-control.md), or set uploader.retentionDays 0 to turn the check off'
          : 'this S3 server does not implement bucket lifecycle: expire dumps by other means, or set uploader.retentionDays 0',
      }));
      return;
    }
    const rule = coveringRule(rules, keyPrefix, retentionDays);
    if (rule) {
      this.verdict(true, `ok ${rule.ID ?? ''} ${rule.Expiration?.Days}`, () => this.deps.logger.info('bucket lifecycle rule expires the dumps', {
        ...where, rule: rule.ID ?? '(no id)', expireDays: rule.Expiration?.Days,
      }));
      return;
    }
    this.verdict(false, `missing ${rules.length}`, () => this.deps.logger.warn('no bucket lifecycle rule expires the dumps: they stay in S3 until someone deletes them', {
      ...where, rules: rules.length,
      hint: 'apply the rule with `npm run bucket-lifecycle -- --apply` (or give `npm run bucket-lifecycle -- --print` to the bucket\'s owner); docs/access-control.md',
    }));
  }

  private verdict(ok: boolean, key: string, say: () => void): void {
    this.metrics.ok.set(ok ? 1 : 0);
    if (this.said === key) return;
    this.said = key;
    say();
  }
}
