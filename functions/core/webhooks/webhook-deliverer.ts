/**
 * Webhook delivery, at least once: the same code on AWS (an SQS-driven Lambda) and locally (an in-process
 * timer queue). Only the scheduler ("attempt this delivery in n ms") and the dead-letter sink differ.
 *
 * - `fanOut` turns one status event into one delivery per enabled subscription of the tenant that asked for
 *   that status. The delivery's key is (subscription, `webhook-id`), and the id derives from the event id,
 *   so a duplicate event (the outbox is at least once) never becomes a second delivery.
 * - `attempt` sends a pending delivery once, records the attempt (time, HTTP status, latency, error), and
 *   either finishes it, schedules the next attempt (retry-policy.ts), or dead-letters it.
 */
import { randomBytes } from 'node:crypto';
import type { RecordingStatusChangedDetail } from '../recording-events.ts';
import { STATUS_UPDATE_WEBHOOK_TYPE } from '../recording-events.ts';
import { decideRetry, type RetryPolicy } from './retry-policy.ts';
import type { WebhookSender } from './sender.ts';
import { webhookHeaders } from './signature.ts';
import type { WebhookDelivery, WebhookStore, WebhookSubscription } from './webhook-store.ts';

export const TEST_WEBHOOK_TYPE = 'webhook.test';

export interface DeliveryRef {
  subscriptionId: string;
  messageId: string;
}

/** Runs `attempt(ref)` after `delayMs` (SQS with DelaySeconds on AWS, a timer locally). */
export interface DeliveryScheduler {
  schedule(ref: DeliveryRef, delayMs: number): Promise<void>;
}

/** Where a delivery goes when retries are over (an SQS dead-letter queue with an alarm on AWS). */
export interface DeadLetterSink {
  send(delivery: WebhookDelivery): Promise<void>;
}

export interface WebhookClock {
  nowMs(): number;
}

export interface WebhookDelivererDeps {
  store: WebhookStore;
  sender: WebhookSender;
  scheduler: DeliveryScheduler;
  deadLetters: DeadLetterSink;
  policy: RetryPolicy;
  clock?: WebhookClock;
  random?: () => number;
}

/** The Standard Webhooks `webhook-id` of a status event: stable across retries and duplicate events. */
export const statusMessageId = (detail: Pick<RecordingStatusChangedDetail, 'recordingId' | 'sequence'>) =>
  `msg_${detail.recordingId}_${detail.sequence}`;

/** The body of a status webhook: the Standard Webhooks envelope around the bus event's detail. */
export function statusWebhookBody(detail: RecordingStatusChangedDetail): string {
  return JSON.stringify({ type: STATUS_UPDATE_WEBHOOK_TYPE, timestamp: detail.occurredAt, data: detail });
}

export class WebhookDeliverer {
  private readonly deps: WebhookDelivererDeps;
  private readonly clock: WebhookClock;

  constructor(deps: WebhookDelivererDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? { nowMs: Date.now };
  }

  private nowIso(): string {
    return new Date(this.clock.nowMs()).toISOString();
  }

  /** Creates and schedules the deliveries of one status event. Returns the subscriptions it went to. */
  async fanOut(detail: RecordingStatusChangedDetail): Promise<string[]> {
    const subscriptions = (await this.deps.store.listSubscriptions(detail.tenantId)).filter(
      (s) => s.status === 'enabled' && s.events.includes(detail.status),
    );
    const messageId = statusMessageId(detail);
    const body = statusWebhookBody(detail);
    await Promise.all(
      subscriptions.map((s) =>
        this.enqueue({
          subscriptionId: s.id,
          tenantId: s.tenantId,
          messageId,
          eventType: STATUS_UPDATE_WEBHOOK_TYPE,
          eventId: detail.eventId,
          recordingId: detail.recordingId,
          status: detail.status,
          sequence: detail.sequence,
          body,
          state: 'pending',
          createdAt: this.nowIso(),
          attemptCount: 0,
          attempts: [],
        }),
      ),
    );
    return subscriptions.map((s) => s.id);
  }

  /** Creates and schedules a test delivery (`webhook.test`) to one subscription. */
  async sendTest(subscription: WebhookSubscription): Promise<WebhookDelivery> {
    const createdAt = this.nowIso();
    const messageId = `msg_test_${randomBytes(12).toString('hex')}`;
    const delivery: WebhookDelivery = {
      subscriptionId: subscription.id,
      tenantId: subscription.tenantId,
      messageId,
      eventType: TEST_WEBHOOK_TYPE,
      body: JSON.stringify({ type: TEST_WEBHOOK_TYPE, timestamp: createdAt, data: { subscriptionId: subscription.id } }),
      state: 'pending',
      createdAt,
      attemptCount: 0,
      attempts: [],
    };
    await this.enqueue(delivery);
    return delivery;
  }

  /**
   * Writes the delivery and schedules its first attempt. A delivery that exists already (a duplicate
   * event) is scheduled again only if it never got an attempt (the first fan-out died in between).
   */
  private async enqueue(delivery: WebhookDelivery): Promise<void> {
    const ref = { subscriptionId: delivery.subscriptionId, messageId: delivery.messageId };
    if (!(await this.deps.store.createDelivery(delivery))) {
      const existing = await this.deps.store.getDelivery(ref.subscriptionId, ref.messageId);
      if (!existing || existing.state !== 'pending' || existing.attemptCount > 0) return;
    }
    await this.deps.scheduler.schedule(ref, 0);
  }

  /** One attempt of a pending delivery (a no-op for finished ones, and early for not-yet-due ones). */
  async attempt(ref: DeliveryRef): Promise<WebhookDelivery | undefined> {
    const { store, policy } = this.deps;
    const delivery = await store.getDelivery(ref.subscriptionId, ref.messageId);
    if (!delivery || delivery.state !== 'pending') return delivery;
    const now = this.clock.nowMs();
    // A scheduler can only wait so long (SQS: 15 minutes); a longer wait is done in hops.
    if (delivery.nextAttemptAt && Date.parse(delivery.nextAttemptAt) - now > 1000) {
      await this.deps.scheduler.schedule(ref, Date.parse(delivery.nextAttemptAt) - now);
      return delivery;
    }
    const readCount = delivery.attemptCount;
    const subscription = await store.getSubscription(ref.subscriptionId);
    if (!subscription || subscription.status !== 'enabled') {
      const cancelled: WebhookDelivery = {
        ...delivery,
        state: 'cancelled',
        finishedAt: this.nowIso(),
        nextAttemptAt: undefined,
        reason: subscription ? 'subscription_disabled' : 'subscription_deleted',
      };
      await store.saveDelivery(cancelled, readCount);
      return cancelled;
    }

    const attemptedAtMs = this.clock.nowMs();
    const timestamp = Math.floor(attemptedAtMs / 1000);
    const result = await this.deps.sender(
      { url: subscription.url, headers: webhookHeaders(subscription.secret, delivery.messageId, timestamp, delivery.body), body: delivery.body },
      policy.timeoutMs,
    );
    const attemptedAt = new Date(attemptedAtMs).toISOString();
    const next: WebhookDelivery = {
      ...delivery,
      attemptCount: readCount + 1,
      firstAttemptAt: delivery.firstAttemptAt ?? attemptedAt,
      attempts: [
        ...delivery.attempts,
        {
          attemptedAt,
          ok: result.ok,
          latencyMs: result.latencyMs,
          ...(result.httpStatus !== undefined && { httpStatus: result.httpStatus }),
          ...(!result.ok && { error: result.error }),
        },
      ],
    };
    const finishedAt = this.nowIso();
    if (result.ok) {
      Object.assign(next, { state: 'succeeded', finishedAt, nextAttemptAt: undefined });
      if (await store.saveDelivery(next, readCount)) await store.markSubscriptionSucceeded(subscription.id, finishedAt);
      return next;
    }
    const decision = decideRetry(policy, result, next.attemptCount, Date.parse(next.firstAttemptAt!), this.clock.nowMs(), this.deps.random);
    if (decision.retry) {
      next.nextAttemptAt = new Date(this.clock.nowMs() + decision.delayMs).toISOString();
      if (await store.saveDelivery(next, readCount)) {
        await store.markSubscriptionFailed(subscription.id, finishedAt, policy.disableAfterFailingMs);
        await this.deps.scheduler.schedule(ref, decision.delayMs);
      }
      return next;
    }
    Object.assign(next, { state: 'dead_lettered', finishedAt, nextAttemptAt: undefined, reason: decision.reason });
    if (await store.saveDelivery(next, readCount)) {
      await store.markSubscriptionFailed(subscription.id, finishedAt, policy.disableAfterFailingMs);
      await this.deps.deadLetters.send(next);
    }
    return next;
  }
}
