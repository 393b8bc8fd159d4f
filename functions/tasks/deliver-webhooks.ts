/**
 * The webhook delivery queue's consumer (functions/core/webhooks/webhook-deliverer.ts). Two kinds of message:
 * - a "Recording Status Changed" event, put there by the bus rule: fanned out to one delivery per matching
 *   subscription, each scheduled as an attempt message;
 * - `{ kind: 'attempt', subscriptionId, messageId }`: one attempt, which schedules the next with a delay.
 * A message that throws is reported as a batch item failure and comes back after the visibility timeout;
 * after maxReceiveCount it goes to the dead-letter queue (alarmed).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { logger, observed } from '#core/observability.ts';
import { STATUS_CHANGED_DETAIL_TYPE, type BusEvent, type RecordingStatusChangedDetail } from '#core/recording-events.ts';
import { webhookDeliverer } from '#core/runtime-webhooks.ts';
import type { AttemptMessage } from '#core/webhooks/sqs-delivery.ts';

export const handler = observed(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const deliverer = webhookDeliverer();
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      // The batch's messages are about different recordings: their ids go on each line, not on the Logger.
      let about: Record<string, string> = {};
      try {
        const message = JSON.parse(record.body) as BusEvent<RecordingStatusChangedDetail> | AttemptMessage;
        if ('detail-type' in message && message['detail-type'] === STATUS_CHANGED_DETAIL_TYPE) {
          about = { recordingId: message.detail?.recordingId, tenantId: message.detail?.tenantId };
          await deliverer.fanOut(message.detail);
        } else if ('kind' in message && message.kind === 'attempt') {
          about = { subscriptionId: message.subscriptionId, webhookMessageId: message.messageId };
          await deliverer.attempt(message);
        } else logger.error('unknown delivery queue message', { messageId: record.messageId, body: record.body.slice(0, 500) });
      } catch (err) {
        logger.error('webhook delivery failed', { messageId: record.messageId, ...about, error: err as Error });
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
});
