/**
 * Recording persistence on DynamoDB. Every status change is a conditional write on the status and version
 * the writer planned from (see planTransition), so concurrent writers cannot both win.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConcurrentUpdateError, RecordingNotFoundError } from './errors.ts';
import { TABLE_KEYS, recordingItemKey as keyOf, withoutTableKeys } from './table-schema.ts';
import { planTransition, type Recording, type RecordingStatus, type TransitionPatch } from './recording.ts';

const withoutKeys = (item: Record<string, unknown>) => withoutTableKeys(item) as unknown as Recording;

export interface Clock {
  now(): string;
}
export const systemClock: Clock = { now: () => new Date().toISOString() };

export class RecordingRepository {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: Clock;

  constructor(db: DynamoDBDocumentClient, tableName: string, clock: Clock = systemClock) {
    this.db = db;
    this.tableName = tableName;
    this.clock = clock;
  }

  async create(recording: Recording): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keyOf(recording.id), ...recording },
        ConditionExpression: `attribute_not_exists(${TABLE_KEYS.partitionKey})`,
      }),
    );
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
    const plan = planTransition(current, to, patch, this.clock.now());
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keyOf(plan.next.id), ...plan.next },
          ConditionExpression: '#status = :from AND #version = :version',
          ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
          ExpressionAttributeValues: { ':from': plan.from, ':version': plan.expectedVersion },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new ConcurrentUpdateError(current.id);
      throw err;
    }
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
   * Records a client's stop request (the control channel the recorder polls). Only a RECORDING recording
   * that is not already stopping can be stopped; returns undefined when that condition does not hold.
   */
  async requestStop(id: string): Promise<Recording | undefined> {
    const now = this.clock.now();
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyOf(id),
          UpdateExpression: 'SET desiredState = :stopped, stopRequestedAt = :now, updatedAt = :now, stopReason = :reason ADD #version :one',
          ConditionExpression: '#status = :recording AND desiredState = :recordingState',
          ExpressionAttributeNames: { '#status': 'status', '#version': 'version' },
          ExpressionAttributeValues: {
            ':stopped': 'STOPPED',
            ':now': now,
            ':reason': 'api',
            ':one': 1,
            ':recording': 'RECORDING',
            ':recordingState': 'RECORDING',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return withoutKeys(out.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }
}
