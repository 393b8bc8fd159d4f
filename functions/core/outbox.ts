/**
 * Publishes the recording outbox (see `itemWithEvent` in recording-repository.ts): every status change
 * writes its event into the recording item in the same PutItem, and this publisher puts those events on the
 * bus and then removes them. A crash between the state write and the publish loses nothing: the event is in
 * the item, and the sparse `pendingEvents` index lists the item until the event is published.
 *
 * Guarantees: at least once (a crash after PutEvents and before the clear sends the event again, with the
 * same `eventId`), and per recording in `sequence` order within one drain. Receivers dedupe by `eventId`.
 *
 * Who calls it: on AWS a Lambda triggered by the table's stream (the items that changed, within a second)
 * and by a schedule (`sweep`, for anything a failed stream batch left behind); locally an in-process loop.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { busEntry, type BusEntry, type RecordingStatusChangedDetail } from './recording-events.ts';
import { OUTBOX_ATTRIBUTE, OUTBOX_SHARDS, TABLE_INDEXES, outboxShardKey, recordingItemKey } from './table-schema.ts';

/** Where events go: EventBridge PutEvents on AWS, the local bus locally. Throws unless every entry was accepted. */
export interface EventSink {
  putEvents(entries: BusEntry[]): Promise<void>;
}

export interface OutboxPublisherOptions {
  db: DynamoDBDocumentClient;
  tableName: string;
  sink: EventSink;
  source: string;
  eventBusName?: string;
}

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_BATCH = 10;

export class OutboxPublisher {
  private readonly opts: OutboxPublisherOptions;

  constructor(opts: OutboxPublisherOptions) {
    this.opts = opts;
  }

  /** Publishes and clears one recording's pending events, oldest first. Returns how many were published. */
  async drain(recordingId: string): Promise<number> {
    const { db, tableName } = this.opts;
    const out = await db.send(new GetCommand({ TableName: tableName, Key: recordingItemKey(recordingId), ConsistentRead: true }));
    const outbox = (out.Item?.[OUTBOX_ATTRIBUTE] ?? {}) as Record<string, RecordingStatusChangedDetail>;
    const events = Object.values(outbox).sort((a, b) => a.sequence - b.sequence);
    if (events.length === 0) {
      if (out.Item?.[TABLE_INDEXES.pendingEvents.partitionKey]) await this.clear(recordingId, [], Number(out.Item.sequence));
      return 0;
    }
    // In order: a failed batch stops the drain, so a later event never overtakes an earlier one.
    for (let i = 0; i < events.length; i += PUT_EVENTS_BATCH) {
      const batch = events.slice(i, i + PUT_EVENTS_BATCH);
      await this.opts.sink.putEvents(batch.map((detail) => busEntry(detail, this.opts.source, this.opts.eventBusName)));
    }
    await this.clear(recordingId, events.map((e) => e.sequence), Math.max(...events.map((e) => e.sequence)));
    return events.length;
  }

  /**
   * Removes published events. The index marker goes too, unless a newer transition (a higher `sequence`)
   * wrote another event meanwhile: then only the published entries go and the marker stays for that one.
   * A transition that read the item before this clear writes the published events back: they are sent
   * again (same eventId), never lost.
   */
  private async clear(recordingId: string, sequences: number[], lastPublished: number): Promise<void> {
    const names: Record<string, string> = { '#outbox': OUTBOX_ATTRIBUTE };
    const removals = sequences.map((seq, i) => {
      names[`#s${i}`] = String(seq);
      return `#outbox.#s${i}`;
    });
    const base = { TableName: this.opts.tableName, Key: recordingItemKey(recordingId) };
    const marker = [TABLE_INDEXES.pendingEvents.partitionKey, TABLE_INDEXES.pendingEvents.sortKey];
    try {
      await this.opts.db.send(
        new UpdateCommand({
          ...base,
          UpdateExpression: `REMOVE ${[...removals, '#m0', '#m1'].join(', ')}`,
          ConditionExpression: '#sequence = :last',
          ExpressionAttributeNames: { ...names, '#sequence': 'sequence', '#m0': marker[0]!, '#m1': marker[1]! },
          ExpressionAttributeValues: { ':last': lastPublished },
        }),
      );
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    if (removals.length === 0) return;
    try {
      await this.opts.db.send(
        new UpdateCommand({
          ...base,
          UpdateExpression: `REMOVE ${removals.join(', ')}`,
          ConditionExpression: 'attribute_exists(#sequence)',
          ExpressionAttributeNames: { ...names, '#sequence': 'sequence' },
        }),
      );
    } catch (err) {
      // The recording was deleted meanwhile: nothing left to clear.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /** The ids of recordings with unpublished events, oldest change first per shard. */
  async pendingRecordingIds(limitPerShard = 100): Promise<string[]> {
    const index = TABLE_INDEXES.pendingEvents;
    const pages = await Promise.all(
      Array.from({ length: OUTBOX_SHARDS }, (_v, shard) =>
        this.opts.db.send(
          new QueryCommand({
            TableName: this.opts.tableName,
            IndexName: index.name,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': index.partitionKey },
            ExpressionAttributeValues: { ':pk': outboxShardKey(shard) },
            Limit: limitPerShard,
          }),
        ),
      ),
    );
    const ids = pages.flatMap((page) => (page.Items ?? []).map((item) => String(item.id)));
    return [...new Set(ids)];
  }

  /**
   * Drains every recording with pending events. One recording's failure does not stop the others; the
   * failures are returned (and left in the outbox for the next sweep).
   */
  async sweep(): Promise<{ published: number; failed: { recordingId: string; error: unknown }[] }> {
    let published = 0;
    const failed: { recordingId: string; error: unknown }[] = [];
    for (const recordingId of await this.pendingRecordingIds()) {
      try {
        published += await this.drain(recordingId);
      } catch (error) {
        failed.push({ recordingId, error });
      }
    }
    return { published, failed };
  }
}
