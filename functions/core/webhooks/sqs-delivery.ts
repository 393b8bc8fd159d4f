/**
 * Webhook delivery on AWS: attempts are SQS messages on the delivery queue (with DelaySeconds, at most 15
 * minutes; longer waits are done in hops by `WebhookDeliverer.attempt`), and exhausted deliveries go to the
 * dead-letter queue, which has an alarm. The queue's own redrive policy sends messages the function keeps
 * failing on to the same dead-letter queue.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, DeliveryRef, DeliveryScheduler } from './webhook-deliverer.ts';
import type { WebhookDelivery } from './webhook-store.ts';

export const SQS_MAX_DELAY_SECONDS = 900;

/** A delivery queue message: an attempt, or (from the bus rule) a status event to fan out. */
export interface AttemptMessage extends DeliveryRef {
  kind: 'attempt';
}

export class SqsDeliveryScheduler implements DeliveryScheduler {
  private readonly sqs: SQSClient;
  private readonly queueUrl: () => string;

  constructor(sqs: SQSClient, queueUrl: () => string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }

  async schedule(ref: DeliveryRef, delayMs: number): Promise<void> {
    const message: AttemptMessage = { kind: 'attempt', subscriptionId: ref.subscriptionId, messageId: ref.messageId };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl(),
        MessageBody: JSON.stringify(message),
        DelaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000))),
      }),
    );
  }
}

export class SqsDeadLetterSink implements DeadLetterSink {
  private readonly sqs: SQSClient;
  private readonly queueUrl: () => string;

  constructor(sqs: SQSClient, queueUrl: () => string) {
    this.sqs = sqs;
    this.queueUrl = queueUrl;
  }

  async send(d: WebhookDelivery): Promise<void> {
    const { body: _body, attempts, ...summary } = d;
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl(),
        // Redriving this message to the delivery queue attempts the delivery again (kind: 'attempt').
        MessageBody: JSON.stringify({ kind: 'attempt', ...summary, lastAttempt: attempts.at(-1) }),
      }),
    );
  }
}
