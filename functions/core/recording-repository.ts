/**
 * Recording persistence on DynamoDB. Every status change is a conditional write on the status and version
 * the writer planned from (see planTransition), so concurrent writers cannot both win.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, RecordingNotFoundError } from './errors.ts';
import {
  TABLE_INDEXES,
  TABLE_KEYS,
  liveRecordingsKey,
  meetingLockKey,
  OUTBOX_ATTRIBUTE,
  outboxIndexAttributes,
  recordingItemAttributes,
  recordingItemKey as keyOf,
  withoutTableKeys,
  type TableIndexName,
} from './table-schema.ts';
import { LIVE_STATUSES, TERMINAL_STATUSES, planTransition, type Recording, type RecordingStatus, type TransitionPatch } from './recording.ts';
import { statusChangedDetail } from './recording-events.ts';

/**
 * The item a status change writes: the recording, its index attributes, and its outbox: the events not yet
 * published plus the one this change causes (one PutItem: the state and its event are written together or
 * not at all; functions/core/outbox.ts publishes and clears them). `next` gains the outbox it was written
 * with, so a caller that transitions again from it carries the pending events over.
 */
function itemWithEvent(next: Recording, previousStatus: RecordingStatus | undefined): Record<string, unknown> {
  next.outbox = { ...next.outbox, [String(next.sequence)]: statusChangedDetail(previousStatus, next) };
  return { ...next, ...recordingItemAttributes(next), [OUTBOX_ATTRIBUTE]: next.outbox, ...outboxIndexAttributes(next) };
}

/**
 * The outbox part of a transition's condition: the item's outbox must hold exactly the events the writer
 * knows of (no marker when it knows of none). A copy that never saw an unpublished event cannot overwrite
 * it, and one that still holds events published meanwhile cannot send them again; `transition` re-reads
 * and retries in that case (only the outbox changed, so the plan stays valid).
 */
function outboxCondition(r: Recording): { expression: string; names: Record<string, string>; values: Record<string, unknown> } {
  const known = Object.keys(r.outbox ?? {});
  if (known.length === 0) return { expression: 'attribute_not_exists(#marker)', names: { '#marker': TABLE_INDEXES.pendingEvents.partitionKey }, values: {} };
  const names: Record<string, string> = { '#outbox': OUTBOX_ATTRIBUTE };
  const parts = known.map((key, i) => {
    names[`#ob${i}`] = key;
    return `attribute_exists(#outbox.#ob${i})`;
  });
  return { expression: `${parts.join(' AND ')} AND size(#outbox) = :outboxSize`, names, values: { ':outboxSize': known.length } };
}

const withoutKeys = (item: Record<string, unknown>) => withoutTableKeys(item) as unknown as Recording;

export interface Clock {
  now(): string;
}
export const systemClock: Clock = { now: () => new Date().toISOString() };

export interface RecordingRepositoryOptions {
  /**
   * Most recordings live at once in the whole service: acquireLiveSlot refuses a new one beyond it.
   * @default - no limit (the live-recording set is still kept)
   */
  maxLiveRecordings?: number;
}

export class RecordingRepository {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;
  private readonly maxLiveRecordings: number;

  constructor(db: DynamoDBDocumentClient, tableName: string, clock: Clock = systemClock, options: RecordingRepositoryOptions = {}) {
    this.db = db;
    this.tableName = tableName;
    this.clock = clock;
    this.maxLiveRecordings = options.maxLiveRecordings ?? Number.MAX_SAFE_INTEGER;
  }

  /** Writes a new recording (INVOKED) and its first event; `recording` gains its outbox. */
  async create(recording: Recording): Promise<Recording> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: itemWithEvent(recording, undefined),
        ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey})`,
      }),
    );
    return recording;
  }

  async find(id: string): Promise<Recording | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.tableName, Key: keyOf(id), ConsistentRead: true }));
    if (!out.Item) return undefined;
    return withoutKeys(out.Item);
  }

  /** Finds a recording of the given tenant; another tenant's recording is reported as not found. */
  async get(id: string, tenantId: string): Promise<Recording> {
    const recording = await this.find(id);
    if (!recording || recording.tenantId !== tenantId) throw new RecordingNotFoundError(id);
    return recording;
  }

  /** Writes one planned transition. Throws ConcurrentUpdateError when another writer got there first. */
  async transition(current: Recording, to: RecordingStatus, patch: TransitionPatch = {}): Promise<Recording> {
    let plan = planTransition(current, to, patch, this.clock.now());
    for (let attempt = 1; ; attempt++) {
      const outbox = outboxCondition(current);
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: itemWithEvent(plan.next, plan.from),
            ConditionExpression: `#status = :from AND #version = :version AND ${outbox.expression}`,
            ExpressionAttributeNames: { '#status': 'status', '#version': 'version', ...outbox.names },
            ExpressionAttributeValues: { ':from': plan.from, ':version': plan.expectedVersion, ...outbox.values },
          }),
        );
        break;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      // Lost: to another writer (a ConcurrentUpdateError), or only to the publisher, which changed the outbox.
      const fresh = await this.find(current.id);
      if (!fresh || fresh.status !== current.status || fresh.version !== current.version || attempt >= 5) throw new ConcurrentUpdateError(current.id);
      current = fresh;
      plan = planTransition(current, to, patch, this.clock.now());
    }
    if (TERMINAL_STATUSES.includes(to)) await Promise.all([this.releaseMeetingLock(plan.next), this.releaseLiveSlot(plan.next.id)]);
    return plan.next;
  }

  /**
   * Re-reads and retries a transition that lost to a concurrent writer (for writers such as the recorder
   * and workflow tasks, whose intent stays valid after a stop request bumped the version).
   * `patch` may depend on the freshly read state.
   */
  async transitionLatest(
    id: string,
    to: RecordingStatus,
    patch: TransitionPatch | ((current: Recording) => TransitionPatch) = {},
    attempts = 5,
  ): Promise<Recording> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.find(id);
      if (!current) throw new RecordingNotFoundError(id);
      try {
        return await this.transition(current, to, typeof patch === 'function' ? patch(current) : patch);
      } catch (err) {
        if (!(err instanceof ConcurrentUpdateError) || attempt >= attempts) throw err;
      }
    }
  }

  /**
   * Records a client's request for the recorder (the control channel it polls): stop, pause or resume.
   * Each is one conditional update, on the statuses and desired states it is valid from; returns undefined
   * when the condition does not hold (the caller re-reads to explain why).
   */
  requestStop(id: string): Promise<Recording | undefined> {
    return this.requestDesiredState(id, 'STOPPED', ['RECORDING', 'PAUSED'], ['RECORDING', 'PAUSED'], {
      stopRequestedAt: this.clock.now(),
      stopReason: 'api',
    });
  }

  requestPause(id: string): Promise<Recording | undefined> {
    return this.requestDesiredState(id, 'PAUSED', ['RECORDING', 'PAUSED'], ['RECORDING'], { pauseRequestedAt: this.clock.now() });
  }

  requestResume(id: string): Promise<Recording | undefined> {
    return this.requestDesiredState(id, 'RECORDING', ['RECORDING', 'PAUSED'], ['PAUSED'], { resumeRequestedAt: this.clock.now() });
  }

  private async requestDesiredState(
    id: string,
    desired: Recording['desiredState'],
    fromStatuses: RecordingStatus[],
    fromDesired: Recording['desiredState'][],
    set: Record<string, string>,
  ): Promise<Recording | undefined> {
    const names: Record<string, string> = { '#status': 'status', '#version': 'version', '#desired': 'desiredState', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':desired': desired, ':now': this.clock.now(), ':one': 1 };
    const assignments = ['#desired = :desired', '#updatedAt = :now'];
    for (const [i, [name, value]] of Object.entries(set).entries()) {
      names[`#set${i}`] = name;
      values[`:set${i}`] = value;
      assignments.push(`#set${i} = :set${i}`);
    }
    fromStatuses.forEach((status, i) => (values[`:status${i}`] = status));
    fromDesired.forEach((state, i) => (values[`:fromDesired${i}`] = state));
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(id),
          UpdateExpression: `SET ${assignments.join(', ')} ADD #version :one`,
          ConditionExpression:
            `#status IN (${fromStatuses.map((_s, i) => `:status${i}`).join(', ')}) AND ` +
            `#desired IN (${fromDesired.map((_s, i) => `:fromDesired${i}`).join(', ')})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return withoutKeys(out.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  /** Deletes a recording's items (the recording and its upload manifest). */
  async delete(id: string): Promise<void> {
    await Promise.all(
      (['UPLOAD', 'RECORDING'] as const).map((kind) => this.db.send(new DeleteCommand({ TableName: this.tableName, Key: keyOf(id, kind) }))),
    );
  }

  /**
   * A page of a tenant's recordings from one index, newest first. `filterStatus` narrows a meeting's list by
   * status (DynamoDB filters after reading, so pages are refilled until `limit` or the end).
   */
  async query(q: RecordingQuery): Promise<{ items: Recording[]; lastKey?: Record<string, unknown> }> {
    const index = TABLE_INDEXES[q.index];
    const names: Record<string, string> = { '#pk': index.partitionKey };
    const values: Record<string, unknown> = { ':pk': q.partitionValue };
    if (q.sortFrom !== undefined || q.sortTo !== undefined) names['#sk'] = index.sortKey;
    let keyCondition = '#pk = :pk';
    if (q.sortFrom !== undefined && q.sortTo !== undefined) {
      keyCondition += ' AND #sk BETWEEN :from AND :to';
      Object.assign(values, { ':from': q.sortFrom, ':to': q.sortTo });
    } else if (q.sortFrom !== undefined) {
      keyCondition += ' AND #sk >= :from';
      values[':from'] = q.sortFrom;
    } else if (q.sortTo !== undefined) {
      keyCondition += ' AND #sk <= :to';
      values[':to'] = q.sortTo;
    }
    let filter: string | undefined;
    if (q.filterStatus) {
      filter = '#status = :status';
      names['#status'] = 'status';
      values[':status'] = q.filterStatus;
    }
    const items: Recording[] = [];
    let startKey = q.startKey;
    // Bounded: a filtered query reads at most this many pages per call before answering with a cursor.
    for (let page = 0; page < 10; page++) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: keyCondition,
          FilterExpression: filter,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: q.limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) items.push(withoutKeys(item));
      startKey = out.LastEvaluatedKey;
      if (!startKey || items.length >= q.limit) break;
    }
    return { items, lastKey: startKey };
  }

  /**
   * Takes the meeting lock for a new recording: at most one live recording per meeting and tenant. Returns
   * the id of the recording holding it when taken. A lock left by a recording that ended (or never got
   * written, after a crash) is taken over.
   */
  async acquireMeetingLock(tenantId: string, meetingId: string, recordingId: string): Promise<{ heldBy?: string }> {
    const key = meetingLockKey(tenantId, meetingId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = Date.now();
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...key, recordingId, acquiredAtMs: now },
            ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey})`,
          }),
        );
        return {};
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      const lock = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
      if (!lock) continue; // released meanwhile: try again
      const holder = await this.find(String(lock.recordingId));
      const stale = holder ? !LIVE_STATUSES.includes(holder.status) : now - Number(lock.acquiredAtMs ?? 0) > STALE_LOCK_MS;
      if (!stale) return { heldBy: String(lock.recordingId) };
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...key, recordingId, acquiredAtMs: now },
            ConditionExpression: 'recordingId = :holder',
            ExpressionAttributeValues: { ':holder': lock.recordingId },
          }),
        );
        return {};
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
    throw new ConcurrentUpdateError(`meeting ${meetingId}`);
  }

  /** The id of the recording holding a meeting's lock, if any (it may have just ended). */
  async meetingLockHolder(tenantId: string, meetingId: string): Promise<string | undefined> {
    const lock = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: meetingLockKey(tenantId, meetingId), ConsistentRead: true }))).Item;
    return lock ? String(lock.recordingId) : undefined;
  }

  /** Releases the meeting lock if this recording holds it (idempotent). */
  async releaseMeetingLock(recording: Pick<Recording, 'id' | 'tenantId' | 'meetingId'>): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: meetingLockKey(recording.tenantId, recording.meetingId),
          ConditionExpression: 'recordingId = :id',
          ExpressionAttributeValues: { ':id': recording.id },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /**
   * Adds a new recording to the live-recording set, unless the service already has `maxLiveRecordings` live
   * recordings (all tenants together). The set is one item whose `holders` map has an entry per live recording
   * (its id, with when it was added), and the add is one conditional UpdateItem, valid only while the map has
   * fewer entries than the limit: concurrent starts can never take more places than there are.
   *
   * Entries leave the set with the recording's final transition (UPLOADED or ERRORED, see `transition`). When the
   * set is full, entries that should have left already are dropped before a start is refused: a recording that
   * ended (its writer crashed between the final write and the release) or was never written (its creator crashed
   * in between; after STALE_LOCK_MS). So the set heals itself, and a full set costs one read per live recording.
   */
  async acquireLiveSlot(recordingId: string): Promise<{ acquired: boolean; limit: number }> {
    const limit = this.maxLiveRecordings;
    const names = { '#holders': LIVE_HOLDERS, '#id': recordingId };
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = Date.now();
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: liveRecordingsKey(),
            UpdateExpression: 'SET #holders.#id = :now',
            // False when the item or its map does not exist yet, too (handled below).
            ConditionExpression: 'size(#holders) < :limit',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':now': now, ':limit': limit },
          }),
        );
        return { acquired: true, limit };
      } catch (err) {
        // A path into a map that does not exist yet is a ValidationException if checked before the condition.
        const noSetYet = (err as Error).name === 'ValidationException' && /document path/i.test((err as Error).message);
        if (!(err instanceof ConditionalCheckFailedException) && !noSetYet) throw err;
      }
      const holders = await this.liveHolders();
      if (!holders) {
        // The set's first use.
        try {
          await this.db.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...liveRecordingsKey(), [LIVE_HOLDERS]: { [recordingId]: now } },
              ConditionExpression: 'attribute_not_exists(#holders)',
              ExpressionAttributeNames: { '#holders': LIVE_HOLDERS },
            }),
          );
          return { acquired: true, limit };
        } catch (err) {
          if (!(err instanceof ConditionalCheckFailedException)) throw err;
          continue; // another start created it meanwhile
        }
      }
      if (Object.keys(holders).length < limit) continue; // a recording ended meanwhile
      const stale = await this.staleLiveHolders(holders, now);
      if (stale.length === 0) return { acquired: false, limit };
      // In chunks, to keep each update expression well within DynamoDB's 4 KB.
      for (let i = 0; i < stale.length; i += STALE_CHECK_BATCH) await this.removeLiveHolders(stale.slice(i, i + STALE_CHECK_BATCH), holders);
    }
    throw new ConcurrentUpdateError('live recordings set');
  }

  /** Removes a recording from the live-recording set (idempotent). */
  async releaseLiveSlot(recordingId: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: liveRecordingsKey(),
          UpdateExpression: 'REMOVE #holders.#id',
          // Never creates the item, and never writes when there is nothing to remove.
          ConditionExpression: 'attribute_exists(#holders.#id)',
          ExpressionAttributeNames: { '#holders': LIVE_HOLDERS, '#id': recordingId },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  /** The ids in the live-recording set. */
  async liveRecordingIds(): Promise<string[]> {
    return Object.keys((await this.liveHolders()) ?? {});
  }

  /** The live-recording set's entries (recording id → when it was added, epoch ms), or undefined before its first use. */
  private async liveHolders(): Promise<Record<string, number> | undefined> {
    const item = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: liveRecordingsKey(), ConsistentRead: true }))).Item;
    return item?.[LIVE_HOLDERS] as Record<string, number> | undefined;
  }

  /** Entries whose recording has ended, or was never written (after STALE_LOCK_MS). */
  private async staleLiveHolders(holders: Record<string, number>, now: number): Promise<string[]> {
    const entries = Object.entries(holders);
    const stale: string[] = [];
    for (let i = 0; i < entries.length; i += STALE_CHECK_BATCH) {
      const batch = entries.slice(i, i + STALE_CHECK_BATCH);
      const recordings = await Promise.all(batch.map(([id]) => this.find(id)));
      batch.forEach(([id, addedAtMs], j) => {
        const recording = recordings[j];
        if (recording ? TERMINAL_STATUSES.includes(recording.status) : now - Number(addedAtMs) > STALE_LOCK_MS) stale.push(id);
      });
    }
    return stale;
  }

  /** Drops stale entries, each only if it is still the entry that was judged stale. */
  private async removeLiveHolders(ids: string[], holders: Record<string, number>): Promise<void> {
    const names: Record<string, string> = { '#holders': LIVE_HOLDERS };
    const values: Record<string, unknown> = {};
    ids.forEach((id, i) => {
      names[`#s${i}`] = id;
      values[`:s${i}`] = holders[id];
    });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: liveRecordingsKey(),
          UpdateExpression: `REMOVE ${ids.map((_id, i) => `#holders.#s${i}`).join(', ')}`,
          ConditionExpression: ids.map((_id, i) => `#holders.#s${i} = :s${i}`).join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      // Another start (or a release) removed some of them first: the caller reads the set again.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}

/**
 * A lock (or live-recording entry) whose recording item does not exist is stale after this long: the creator
 * crashed between taking it and writing the recording (which it does right after).
 */
const STALE_LOCK_MS = 30_000;
/** How many entries of a full live-recording set are checked (one read each) and removed at once. */
const STALE_CHECK_BATCH = 25;
/** The live-recording set's map attribute: recording id → when it was added (epoch ms). */
const LIVE_HOLDERS = 'holders';

export interface RecordingQuery {
  index: TableIndexName;
  partitionValue: string;
  sortFrom?: string;
  sortTo?: string;
  filterStatus?: RecordingStatus;
  limit: number;
  startKey?: Record<string, unknown>;
}
