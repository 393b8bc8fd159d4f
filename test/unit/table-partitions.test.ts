/**
 * IAM limits each function to item kinds by partition-key prefix (dynamodb:LeadingKeys, lib/table-access.ts).
 * That is only sound if every key starts with its kind's prefix and no prefix is the start of another.
 */
import { describe, expect, it } from 'vitest';
import {
  PARTITION_PREFIXES,
  TABLE_KEYS,
  apiKeyItemKey,
  liveRecordingsKey,
  meetingLockKey,
  recordingItemKey,
  tenantItemKey,
  webhookDeliveryItemKey,
  webhookItemKey,
  type PartitionKind,
} from '../../functions/core/table-schema.ts';
import { idempotencyItemKey } from '../../functions/core/idempotency.ts';

const pk = (key: Record<string, string>) => key[TABLE_KEYS.partitionKey]!;

describe('partition-key prefixes', () => {
  it('no prefix is the start of another (a LeadingKeys pattern matches one item kind only)', () => {
    const prefixes = Object.values(PARTITION_PREFIXES);
    for (const a of prefixes) for (const b of prefixes) if (a !== b) expect(b.startsWith(a), `${a} / ${b}`).toBe(false);
  });

  it.each<[PartitionKind, string]>([
    ['recording', pk(recordingItemKey('rec_1'))],
    ['recording', pk(recordingItemKey('rec_1', 'UPLOAD'))],
    ['meetingLock', pk(meetingLockKey('t1', 'm1'))],
    ['liveRecordings', pk(liveRecordingsKey())],
    ['webhook', pk(webhookItemKey('wh_1'))],
    ['webhook', pk(webhookDeliveryItemKey('wh_1', 'msg_1'))],
    ['tenant', pk(tenantItemKey('t1'))],
    ['apiKey', pk(apiKeyItemKey('k1'))],
    ['idempotency', pk(idempotencyItemKey('t1', 'key-1'))],
  ])('a %s key (%s) starts with its prefix', (kind, partitionKey) => {
    expect(partitionKey.startsWith(PARTITION_PREFIXES[kind])).toBe(true);
  });
});
