/**
 * Webhook subscriptions and deliveries in the single table (keys in table-schema.ts).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RecordingStatus } from '../recording.ts';
import {
  TABLE_INDEXES,
  TTL_ATTRIBUTE,
  webhookDeliveryItemKey,
  webhookIndexKeys,
  webhookItemKey,
  withoutTableKeys,
} from '../table-schema.ts';

export interface WebhookSubscription {
  id: string;
  tenantId: string;
  url: string;
  /** The statuses whose events this subscription receives. */
  events: RecordingStatus[];
  description?: string;
  /** `whsec_...`: shown once, when the subscription is created. */
  secret: string;
  status: 'enabled' | 'disabled';
  disabledAt?: string;
  disabledReason?: string;
  /** Set by the first failed attempt after a success (or ever); cleared by a success. */
  failingSince?: string;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryAttempt {
  attemptedAt: string;
  ok: boolean;
  httpStatus?: number;
  latencyMs: number;
  error?: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead_lettered' | 'cancelled';

export interface WebhookDelivery {
  subscriptionId: string;
  tenantId: string;
  /** The `webhook-id` header: the same for every attempt (and every copy of one event). */
  messageId: string;
  eventType: string;
  /** The bus event's `eventId` (`{recordingId}:{sequence}`) for status events. */
  eventId?: string;
  recordingId?: string;
  status?: RecordingStatus;
  sequence?: number;
  /** The exact body sent on every attempt. */
  body: string;
  state: DeliveryStatus;
  createdAt: string;
  attemptCount: number;
  /** The latest attempts, oldest first (at most MAX_KEPT_ATTEMPTS). */
  attempts: DeliveryAttempt[];
  firstAttemptAt?: string;
  nextAttemptAt?: string;
  finishedAt?: string;
  /** Why it was dead-lettered or cancelled. */
  reason?: string;
}

export const MAX_KEPT_ATTEMPTS = 50;
/** Deliveries are kept this long, then TTL removes them. */
const DELIVERY_RETENTION_SECONDS = 30 * 24 * 60 * 60;

const sortKey = (createdAt: string, id: string) => `${createdAt}#${id}`;

export class WebhookStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  async createSubscription(s: WebhookSubscription): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...s,
          ...webhookItemKey(s.id),
          [TABLE_INDEXES.byTenant.partitionKey]: webhookIndexKeys.subscriptionsOf(s.tenantId),
          [TABLE_INDEXES.byTenant.sortKey]: sortKey(s.createdAt, s.id),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async getSubscription(id: string): Promise<WebhookSubscription | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: webhookItemKey(id), ConsistentRead: true }));
    return out.Item ? (withoutTableKeys(out.Item) as unknown as WebhookSubscription) : undefined;
  }

  /** A tenant's subscriptions, oldest first (a tenant has few; all pages are read). */
  async listSubscriptions(tenantId: string): Promise<WebhookSubscription[]> {
    return (await this.queryByTenantIndex(webhookIndexKeys.subscriptionsOf(tenantId), true)) as unknown as WebhookSubscription[];
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: webhookItemKey(id) }));
  }

  /** After a successful attempt: the subscription is healthy again. */
  async markSubscriptionSucceeded(id: string, now: string): Promise<void> {
    await this.updateIfExists(id, 'SET lastSuccessAt = :now REMOVE failingSince', { ':now': now });
  }

  /**
   * After a failed attempt: remembers since when it fails, and disables it once that is `disableAfterMs`
   * ago. Returns the subscription as updated.
   */
  async markSubscriptionFailed(id: string, now: string, disableAfterMs: number): Promise<WebhookSubscription | undefined> {
    const updated = await this.updateIfExists(id, 'SET lastFailureAt = :now, failingSince = if_not_exists(failingSince, :now)', { ':now': now });
    if (!updated || updated.status !== 'enabled' || !updated.failingSince) return updated;
    if (Date.parse(now) - Date.parse(updated.failingSince) < disableAfterMs) return updated;
    return this.updateIfExists(
      id,
      'SET #status = :disabled, disabledAt = :now, disabledReason = :reason, updatedAt = :now',
      { ':now': now, ':disabled': 'disabled', ':reason': `every delivery failed since ${updated.failingSince}`, ':enabled': 'enabled' },
      '#status = :enabled',
    );
  }

  private async updateIfExists(
    id: string,
    update: string,
    values: Record<string, unknown>,
    condition?: string,
  ): Promise<WebhookSubscription | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: webhookItemKey(id),
          UpdateExpression: update,
          ConditionExpression: ['attribute_exists(pk)', condition].filter(Boolean).join(' AND '),
          ...(update.includes('#status') || condition?.includes('#status') ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return withoutTableKeys(out.Attributes ?? {}) as unknown as WebhookSubscription;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Writes a new delivery; false when one with this message id exists already (a duplicate event). */
  async createDelivery(d: WebhookDelivery): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...d,
            ...webhookDeliveryItemKey(d.subscriptionId, d.messageId),
            [TABLE_INDEXES.byTenant.partitionKey]: webhookIndexKeys.deliveriesOf(d.subscriptionId),
            [TABLE_INDEXES.byTenant.sortKey]: sortKey(d.createdAt, d.messageId),
            [TTL_ATTRIBUTE]: Math.floor(Date.parse(d.createdAt) / 1000) + DELIVERY_RETENTION_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async getDelivery(subscriptionId: string, messageId: string): Promise<WebhookDelivery | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: webhookDeliveryItemKey(subscriptionId, messageId), ConsistentRead: true }),
    );
    return out.Item ? (withoutTableKeys(out.Item) as unknown as WebhookDelivery) : undefined;
  }

  /**
   * Saves a delivery after an attempt, conditional on the attempt count it was read with: of two workers
   * that attempted the same delivery (a queue message seen twice), one records and schedules the next.
   */
  async saveDelivery(d: WebhookDelivery, readAttemptCount: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: webhookDeliveryItemKey(d.subscriptionId, d.messageId),
          UpdateExpression:
            'SET #state = :state, attemptCount = :count, attempts = :attempts, firstAttemptAt = :first, nextAttemptAt = :next, finishedAt = :finished, reason = :reason',
          ConditionExpression: 'attemptCount = :read',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':state': d.state,
            ':count': d.attemptCount,
            ':attempts': d.attempts.slice(-MAX_KEPT_ATTEMPTS),
            ':first': d.firstAttemptAt ?? null,
            ':next': d.nextAttemptAt ?? null,
            ':finished': d.finishedAt ?? null,
            ':reason': d.reason ?? null,
            ':read': readAttemptCount,
          },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** A subscription's deliveries, newest first, one page. */
  async listDeliveries(subscriptionId: string, limit: number): Promise<WebhookDelivery[]> {
    return (await this.queryByTenantIndex(webhookIndexKeys.deliveriesOf(subscriptionId), false, limit)) as unknown as WebhookDelivery[];
  }

  /** Every item of a partition of the byTenant index (or the first `limit`). */
  private async queryByTenantIndex(partition: string, forward: boolean, limit?: number): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_INDEXES.byTenant.name,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': TABLE_INDEXES.byTenant.partitionKey },
          ExpressionAttributeValues: { ':pk': partition },
          ScanIndexForward: forward,
          ExclusiveStartKey: startKey,
          ...(limit !== undefined && { Limit: limit - items.length }),
        }),
      );
      items.push(...(out.Items ?? []).map(withoutTableKeys));
      startKey = out.LastEvaluatedKey;
    } while (startKey && (limit === undefined || items.length < limit));
    return items;
  }
}
