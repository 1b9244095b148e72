/**
 * Object tags: a pod's namespace and name on every object written for its dump (contract: OBJECT_TAGS), so
 * bucket policies and lifecycle rules can target a team.
 *
 * The names come from the dump's folders, which a tenant names: only a valid Kubernetes namespace (DNS
 * label) and pod name (DNS subdomain) become tags. Those always fit S3's tag rules (a value of at most 256
 * characters of letters, digits, spaces and `+ - = . _ : / @`), so a crafted folder name can never make a
 * PUT fail with InvalidTag; it only goes untagged.
 */
import { GetObjectTaggingCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { OBJECT_TAGS } from '../contract';
import type { S3Store } from './s3-store';

/** Tag key -> value, in the order they are sent. */
export type ObjectTags = Readonly<Record<string, string>>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The tags of an object written for this pod's dump (each only for a valid Kubernetes name). */
export function podTags(namespace: string | undefined, pod: string | undefined): ObjectTags {
  const tags: Record<string, string> = {};
  if (namespace !== undefined && DNS_LABEL.test(namespace)) tags[OBJECT_TAGS.namespace] = namespace;
  if (pod !== undefined && pod.length <= 253 && DNS_SUBDOMAIN.test(pod)) tags[OBJECT_TAGS.pod] = pod;
  return tags;
}

/** The x-amz-tagging header value: URL query encoding, as S3 wants it; undefined for no tags. */
export function taggingHeader(tags: ObjectTags): string | undefined {
  const entries = Object.entries(tags);
  if (entries.length === 0) return undefined;
  return entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** Whether a tag set (as GetObjectTagging returns it) holds exactly these tags, whatever the order. */
export function sameTags(tags: ObjectTags, set: ReadonlyArray<{ readonly Key?: string; readonly Value?: string }>): boolean {
  const want = Object.entries(tags);
  if (set.length !== want.length) return false;
  return want.every(([k, v]) => set.some((t) => t.Key === k && t.Value === v));
}

/**
 * Makes sure the object carries `tags` (GetObjectTagging; PutObjectTagging when one is missing, keeping any
 * other tags). After multipart uploads: Ceph RGW 16 stores the x-amz-tagging of CreateMultipartUpload in a
 * form its own GetObjectTagging cannot read (an empty 200 answer), so those tags are written again.
 * Throws the SDK error.
 */
export async function ensureTags(store: S3Store, key: string, tags: ObjectTags, signal?: AbortSignal): Promise<'present' | 'written' | 'off'> {
  if (!store.tagsOn || Object.keys(tags).length === 0) return 'off';
  const out = await store.client.send(new GetObjectTaggingCommand({ Bucket: store.bucket, Key: key }), { abortSignal: signal });
  const set = out.TagSet ?? [];
  const ours = set.filter((t) => t.Key !== undefined && Object.hasOwn(tags, t.Key));
  if (sameTags(tags, ours)) return 'present';
  const others = set.filter((t) => t.Key !== undefined && !Object.hasOwn(tags, t.Key)).map((t) => ({ Key: t.Key!, Value: t.Value ?? '' }));
  await store.client.send(new PutObjectTaggingCommand({
    Bucket: store.bucket,
    Key: key,
    Tagging: { TagSet: [...others, ...Object.entries(tags).map(([Key, Value]) => ({ Key, Value }))] },
  }), { abortSignal: signal });
  return 'written';
}
