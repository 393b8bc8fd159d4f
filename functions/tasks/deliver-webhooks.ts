/**
 * The webhook delivery queue's consumer (functions/core/webhooks/webhook-deliverer.ts). Two kinds of message:
 * - a "Recording Status Changed" event, put there by the bus rule: fanned out to one delivery per matching
 *   subscription, each scheduled as an attempt message;
 * - `{ kind: 'attempt', subscriptionId, messageId }`: one attempt, which schedules the next with a delay.
 * A message that throws is reported as a batch item failure and comes back after the visibility timeout;
 * after maxReceiveCount it goes to the dead-letter queue (alarmed).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { STATUS_CHANGED_DETAIL_TYPE, type BusEvent, type RecordingStatusChangedDetail } from '#core/recording-events.ts';
import { webhookDeliverer } from '#core/runtime.ts';
import type { AttemptMessage } from '#core/webhooks/sqs-delivery.ts';

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const deliverer = webhookDeliverer();
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      try {
        const message = JSON.parse(record.body) as BusEvent<RecordingStatusChangedDetail> | AttemptMessage;
        if ('detail-type' in message && message['detail-type'] === STATUS_CHANGED_DETAIL_TYPE) await deliverer.fanOut(message.detail);
        else if ('kind' in message && message.kind === 'attempt') await deliverer.attempt(message);
        else console.error(JSON.stringify({ level: 'ERROR', message: 'unknown delivery queue message', body: record.body.slice(0, 500) }));
      } catch (err) {
        console.error(JSON.stringify({ level: 'ERROR', message: 'webhook delivery failed', messageId: record.messageId, error: String(err) }));
        failures.push({ itemIdentifier: record.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
};
