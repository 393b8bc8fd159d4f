/**
 * Local mode's stand-ins for the event path (ARCHITECTURE.md, "Local mode"):
 *   DynamoDB Streams + publisher Lambda -> OutboxLoop: the same OutboxPublisher, polling the pendingEvents
 *                                         index (the emulator has no streams) and kicked after local writes
 *   EventBridge custom bus + rules      -> LocalEventBus: rules with EventBridge pattern matching
 *   SQS delivery queue (+ DLQ)          -> LocalDeliveryQueue: timers in this process calling the same
 *                                         WebhookDeliverer.attempt; a dead letter is the delivery's record
 */
import { randomUUID } from 'node:crypto';
import type { EventSink, OutboxPublisher } from '#core/outbox.ts';
import { matchesEventPattern } from '#core/event-pattern.ts';
import type { BusEntry, BusEvent } from '#core/recording-events.ts';
import type { DeadLetterSink, DeliveryRef, DeliveryScheduler, WebhookDeliverer } from '#core/webhooks/webhook-deliverer.ts';
import type { WebhookDelivery } from '#core/webhooks/webhook-store.ts';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '#core/table-schema.ts';

type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface LocalRule {
  name: string;
  pattern: unknown;
  target: (event: BusEvent) => Promise<void> | void;
}

/**
 * An EventBridge bus in this process. `putEvents` delivers each entry to every rule whose pattern matches
 * and resolves once the targets have taken it; a target that throws fails the put, so the outbox keeps
 * the event and sends it again (targets dedupe, as on AWS).
 */
export class LocalEventBus implements EventSink {
  private readonly rules = new Map<string, LocalRule>();
  private readonly account: string;
  private readonly region: string;

  constructor(opts: { account: string; region: string }) {
    this.account = opts.account;
    this.region = opts.region;
  }

  /** Adds (or replaces) a rule; returns a function that removes it. */
  addRule(rule: LocalRule): () => void {
    matchesEventPattern(rule.pattern, {}); // an invalid pattern fails here, as PutRule would
    this.rules.set(rule.name, rule);
    return () => this.rules.delete(rule.name);
  }

  /**
   * PutEvents as a customer calls it (e.g. a "Meeting Started" event): resolves once every matching rule's
   * target has handled the event.
   */
  async put(entry: { source: string; detailType: string; detail: unknown; resources?: string[]; time?: Date }): Promise<void> {
    await this.putEvents([
      { Source: entry.source, DetailType: entry.detailType, Detail: JSON.stringify(entry.detail), Time: entry.time ?? new Date(), Resources: entry.resources ?? [] },
    ]);
  }

  async putEvents(entries: BusEntry[]): Promise<void> {
    for (const entry of entries) {
      const event: BusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.DetailType,
        source: entry.Source,
        account: this.account,
        time: entry.Time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: this.region,
        resources: entry.Resources,
        detail: JSON.parse(entry.Detail),
      };
      for (const rule of [...this.rules.values()]) {
        if (matchesEventPattern(rule.pattern, event)) await rule.target(event);
      }
    }
  }
}

/** Drains the outbox every `intervalMs`, and soon after `kick()`. `pause()` stops it (as a crashed publisher). */
export class OutboxLoop {
  private readonly publisher: OutboxPublisher;
  private readonly intervalMs: number;
  private readonly log: Log;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private paused = false;
  private stopped = false;

  constructor(publisher: OutboxPublisher, opts: { intervalMs?: number; log?: Log } = {}) {
    this.publisher = publisher;
    this.intervalMs = opts.intervalMs ?? 250;
    this.log = opts.log ?? (() => undefined);
  }

  start(): void {
    this.stopped = false;
    this.paused = false;
    this.arm(0);
  }

  private arm(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped || this.paused) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = (async () => {
      try {
        const { published, failed } = await this.publisher.sweep();
        if (published) this.log('published status events', { published });
        for (const f of failed) this.log('outbox drain failed', { recordingId: f.recordingId, error: String(f.error) });
      } catch (err) {
        this.log('outbox sweep failed', { error: String(err) });
      }
    })();
    await this.running;
    this.running = undefined;
    this.arm(this.intervalMs);
  }

  /** Drains now (tests; and after writes in this process, for latency). */
  async flush(): Promise<void> {
    await this.running;
    await this.publisher.sweep();
  }

  /** Stops publishing, like a publisher that crashed: events stay in the outbox. */
  async pause(): Promise<void> {
    this.paused = true;
    clearTimeout(this.timer);
    await this.running;
  }

  resume(): void {
    this.paused = false;
    this.arm(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/**
 * The delivery queue: `schedule` runs `deliverer.attempt(ref)` after the delay. The timers live in memory;
 * the deliveries themselves are items (`pending` with their `nextAttemptAt`), so a restart of local mode
 * schedules them again (`recoverPendingDeliveries`). On AWS the delayed SQS messages play this part.
 */
export class LocalDeliveryQueue implements DeliveryScheduler, DeadLetterSink {
  private deliverer: WebhookDeliverer | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly log: Log;
  private stopped = false;
  readonly deadLetters: WebhookDelivery[] = [];

  constructor(opts: { log?: Log } = {}) {
    this.log = opts.log ?? (() => undefined);
  }

  bind(deliverer: WebhookDeliverer): void {
    this.deliverer = deliverer;
  }

  async schedule(ref: DeliveryRef, delayMs: number): Promise<void> {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped || !this.deliverer) return;
      const run = this.deliverer.attempt(ref).catch((err) => this.log('webhook attempt failed', { ...ref, error: String(err) }));
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }, Math.max(0, delayMs));
    timer.unref();
    this.timers.add(timer);
  }

  async send(delivery: WebhookDelivery): Promise<void> {
    this.deadLetters.push(delivery);
    this.log('webhook delivery dead-lettered', { subscriptionId: delivery.subscriptionId, messageId: delivery.messageId, reason: delivery.reason });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}

/**
 * Schedules every delivery still `pending` in the table (local mode's timers died with its last process).
 * A scan is fine here: it runs once at start, against local mode's own small table. Returns how many.
 */
export async function recoverPendingDeliveries(db: DynamoDBDocumentClient, tableName: string, queue: DeliveryScheduler, nowMs = Date.now()): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(#sk, :delivery) AND #state = :pending',
        ExpressionAttributeNames: { '#sk': TABLE_KEYS.sortKey, '#state': 'state' },
        ExpressionAttributeValues: { ':delivery': 'DELIVERY#', ':pending': 'pending' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const dueMs = Date.parse(String(item.nextAttemptAt ?? '')) || nowMs;
      await queue.schedule({ subscriptionId: String(item.subscriptionId), messageId: String(item.messageId) }, Math.max(0, dueMs - nowMs));
      count++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return count;
}
