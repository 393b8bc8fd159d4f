/** The webhook deliverer (SQS schedules its attempts); see runtime.ts. */
import { createSqsClient } from './clients/sqs.ts';
import { ENV, requireEnv } from './config.ts';
import { traced } from './observability.ts';
import { once, resetRuntime, urlPolicy, webhookStore } from './runtime.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './webhooks/retry-policy.ts';
import { httpWebhookSender } from './webhooks/sender.ts';
import { SqsDeadLetterSink, SqsDeliveryScheduler } from './webhooks/sqs-delivery.ts';
import { WebhookDeliverer, type DeadLetterSink, type DeliveryScheduler, type WebhookClock } from './webhooks/webhook-deliverer.ts';

/** What local mode puts in place of SQS (an in-process timer queue) and its retry timing. */
export interface WebhookDeliveryOverrides {
  scheduler: DeliveryScheduler;
  deadLetters: DeadLetterSink;
  policy?: RetryPolicy;
  clock?: WebhookClock;
}
let webhookOverrides: WebhookDeliveryOverrides | undefined;

/** Local mode: deliver through these instead of SQS (survives resetRuntime; undefined restores SQS). */
export function useWebhookDelivery(overrides: WebhookDeliveryOverrides | undefined): void {
  webhookOverrides = overrides;
  resetRuntime();
}

export const webhookDeliverer = once(() => {
  const sqs = webhookOverrides ? undefined : traced(createSqsClient());
  return new WebhookDeliverer({
    store: webhookStore(),
    sender: httpWebhookSender(urlPolicy(), webhookOverrides?.clock ? () => webhookOverrides!.clock!.nowMs() : Date.now),
    scheduler: webhookOverrides?.scheduler ?? new SqsDeliveryScheduler(sqs!, () => requireEnv(ENV.webhookQueueUrl)),
    deadLetters: webhookOverrides?.deadLetters ?? new SqsDeadLetterSink(sqs!, () => requireEnv(ENV.webhookDlqUrl)),
    policy: webhookOverrides?.policy ?? DEFAULT_RETRY_POLICY,
    clock: webhookOverrides?.clock,
  });
});
