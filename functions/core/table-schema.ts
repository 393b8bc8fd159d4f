/**
 * The table's key schema, written once: the CDK storage construct creates the table with it, local mode
 * creates the emulator's table with it, and the repositories build keys for it.
 *
 * One table holds every item kind, each in its own partition-key space:
 * - `RECORDING#{id}`: the recording ('RECORDING') and its upload manifest ('UPLOAD')
 * - `MEETING#{tenant}#{meetingId}` / 'ACTIVE': the meeting lock (at most one live recording per meeting)
 * - `LIVE_RECORDINGS#all` / 'SET': the live recordings of the whole service (at most MAX_CONCURRENT_RECORDINGS)
 * - `IDEMPOTENCY#{tenant}#{hash}` / 'REQUEST': a remembered POST (expires through the TTL attribute)
 * - `APIKEY#...`, `TENANT#...`: credentials (functions/core/auth)
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/**
 * The partition-key prefix of each item kind. IAM grants are limited to these with `dynamodb:LeadingKeys`
 * (lib/table-access.ts), so a function can only touch the item kinds it needs; a unit test checks that every
 * key built here starts with one of them.
 */
export const PARTITION_PREFIXES = {
  recording: 'RECORDING#',
  meetingLock: 'MEETING#',
  liveRecordings: 'LIVE_RECORDINGS#',
  idempotency: 'IDEMPOTENCY#',
  webhook: 'WEBHOOK#',
  tenant: 'TENANT#',
  apiKey: 'APIKEY#',
} as const;
export type PartitionKind = keyof typeof PARTITION_PREFIXES;

/** The attribute DynamoDB's TTL deletes items by (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAtEpoch';

/**
 * Global secondary indexes, all projecting every attribute. Recording lists are served from them (never a
 * scan), newest first: the sort key is `{createdAt}#{id}`.
 * - byTenant: every recording of a tenant
 * - byMeeting: the recordings of one meeting of a tenant
 * - byStatus: the recordings of a tenant in one status (rewritten on each transition)
 */
export const TABLE_INDEXES = {
  byTenant: { name: 'byTenant', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  byMeeting: { name: 'byMeeting', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  byStatus: { name: 'byStatus', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  /** Sparse: only recordings whose outbox holds unpublished events (functions/core/outbox.ts). */
  pendingEvents: { name: 'pendingEvents', partitionKey: 'gsi4pk', sortKey: 'gsi4sk' },
} as const;
export type TableIndexName = keyof typeof TABLE_INDEXES;

/** Items of one recording share its partition: the recording itself ('RECORDING') and its upload manifest ('UPLOAD'). */
export type RecordingItemKind = 'RECORDING' | 'UPLOAD';

export function recordingItemKey(recordingId: string, kind: RecordingItemKind = 'RECORDING'): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.recording}${recordingId}`, [TABLE_KEYS.sortKey]: kind };
}

/** Index partition keys for recording lists. */
export const recordingIndexKeys = {
  byTenant: (tenantId: string) => `TENANT#${tenantId}`,
  byMeeting: (tenantId: string, meetingId: string) => `TENANT#${tenantId}#MEETING#${meetingId}`,
  byStatus: (tenantId: string, status: string) => `TENANT#${tenantId}#STATUS#${status}`,
};

/** Index sort key: newest first when read backwards; the id makes it unique. */
export const recordingIndexSortKey = (createdAt: string, id: string) => `${createdAt}#${id}`;

/** The key and index attributes of a recording item, derived from the recording on every write. */
export function recordingItemAttributes(r: { id: string; tenantId: string; meetingId: string; status: string; createdAt: string }): Record<string, string> {
  const sortKey = recordingIndexSortKey(r.createdAt, r.id);
  return {
    ...recordingItemKey(r.id),
    [TABLE_INDEXES.byTenant.partitionKey]: recordingIndexKeys.byTenant(r.tenantId),
    [TABLE_INDEXES.byTenant.sortKey]: sortKey,
    [TABLE_INDEXES.byMeeting.partitionKey]: recordingIndexKeys.byMeeting(r.tenantId, r.meetingId),
    [TABLE_INDEXES.byMeeting.sortKey]: sortKey,
    [TABLE_INDEXES.byStatus.partitionKey]: recordingIndexKeys.byStatus(r.tenantId, r.status),
    [TABLE_INDEXES.byStatus.sortKey]: sortKey,
  };
}

/**
 * The transactional outbox (no transactions needed): each transition's single PutItem also writes the
 * event it causes into the item's `outbox` map (keyed by sequence) and these index attributes, so a
 * publisher finds every recording with unpublished events. Spread over a few partitions so that a busy
 * service does not write one hot index partition; the publisher queries each.
 */
export const OUTBOX_ATTRIBUTE = 'outbox';
export const OUTBOX_SHARDS = 4;

export function outboxIndexAttributes(r: { id: string; updatedAt: string }): Record<string, string> {
  let hash = 0;
  for (const char of r.id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return {
    [TABLE_INDEXES.pendingEvents.partitionKey]: outboxShardKey(hash % OUTBOX_SHARDS),
    [TABLE_INDEXES.pendingEvents.sortKey]: `${r.updatedAt}#${r.id}`,
  };
}

export const outboxShardKey = (shard: number) => `OUTBOX#${shard}`;

// ---------------------------------------------------------------------------------------------------------
// Webhooks (functions/core/webhooks):
// - `WEBHOOK#{id}` / 'WEBHOOK': a subscription (with its signing secret)
// - `WEBHOOK#{id}` / `DELIVERY#{messageId}`: one event's delivery to it, with its attempts (expires via TTL)
// - byTenant index partitions `TENANT#{tenantId}#WEBHOOKS` (a tenant's subscriptions) and
//   `WEBHOOK#{id}#DELIVERIES` (a subscription's deliveries), sorted `{createdAt}#{id}`
// ---------------------------------------------------------------------------------------------------------

export function webhookItemKey(subscriptionId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.webhook}${subscriptionId}`, [TABLE_KEYS.sortKey]: 'WEBHOOK' };
}

export function webhookDeliveryItemKey(subscriptionId: string, messageId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.webhook}${subscriptionId}`, [TABLE_KEYS.sortKey]: `DELIVERY#${messageId}` };
}

export const webhookIndexKeys = {
  subscriptionsOf: (tenantId: string) => `TENANT#${tenantId}#WEBHOOKS`,
  deliveriesOf: (subscriptionId: string) => `WEBHOOK#${subscriptionId}#DELIVERIES`,
};

/** The meeting lock item's key. */
export function meetingLockKey(tenantId: string, meetingId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.meetingLock}${tenantId}#${meetingId}`, [TABLE_KEYS.sortKey]: 'ACTIVE' };
}

/**
 * The key of the live-recording set: one item whose `holders` map has an entry per live recording, service-wide
 * (the concurrency limit protects the account's Fargate quota, which all tenants share).
 */
export function liveRecordingsKey(): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${PARTITION_PREFIXES.liveRecordings}all`, [TABLE_KEYS.sortKey]: 'SET' };
}

const INTERNAL_ATTRIBUTES: readonly string[] = [
  TABLE_KEYS.partitionKey,
  TABLE_KEYS.sortKey,
  TTL_ATTRIBUTE,
  ...Object.values(TABLE_INDEXES).flatMap((i) => [i.partitionKey, i.sortKey]),
];

/** An item as stored, without its key, index and TTL attributes. */
export function withoutTableKeys(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).filter(([name]) => !INTERNAL_ATTRIBUTES.includes(name)));
}

// ---------------------------------------------------------------------------------------------------------
// Credentials (functions/core/auth): tenants and their API keys.
// - `TENANT#{tenantId}` / 'TENANT': the tenant, with its token-signing secret
// - `APIKEY#{keyId}` / 'APIKEY': one API key (its secret's hash only), found by the key id a key carries
// - byTenant index partition `TENANT#{tenantId}#APIKEYS`: a tenant's keys, oldest first (recordings use
//   `TENANT#{tenantId}` there; the suffix keeps the two lists apart)
// ---------------------------------------------------------------------------------------------------------

/** The partition-key prefixes of credential items (the API functions' authentication may read only these). */
export const CREDENTIAL_PARTITION_PREFIXES = [PARTITION_PREFIXES.tenant, PARTITION_PREFIXES.apiKey] as const;

export function tenantItemKey(tenantId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${CREDENTIAL_PARTITION_PREFIXES[0]}${tenantId}`, [TABLE_KEYS.sortKey]: 'TENANT' };
}

export function apiKeyItemKey(keyId: string): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `${CREDENTIAL_PARTITION_PREFIXES[1]}${keyId}`, [TABLE_KEYS.sortKey]: 'APIKEY' };
}

/** The key and index attributes of an API key item. */
export function apiKeyItemAttributes(k: { keyId: string; tenantId: string; createdAt: string }): Record<string, string> {
  return {
    ...apiKeyItemKey(k.keyId),
    [TABLE_INDEXES.byTenant.partitionKey]: apiKeyIndexKeys.byTenant(k.tenantId),
    [TABLE_INDEXES.byTenant.sortKey]: `${k.createdAt}#${k.keyId}`,
  };
}

export const apiKeyIndexKeys = {
  byTenant: (tenantId: string) => `TENANT#${tenantId}#APIKEYS`,
};
