/**
 * Publishes the recording outbox to the event bus (functions/core/outbox.ts). Two triggers:
 * - the table's stream (filtered to recording items that have pending events): drains those recordings
 *   within about a second of the write. A failure throws, so Lambda retries the batch (bisecting it) and
 *   the events stay in the outbox meanwhile.
 * - a schedule: sweeps the `pendingEvents` index, so events whose stream records were given up on (or
 *   expired after 24 h) are still published. Nothing depends on the stream alone.
 */
import type { DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { logger, observed } from '#core/observability.ts';
import { eventPublisher } from '#core/runtime-events.ts';

export const handler = observed(async (event: DynamoDBStreamEvent | ScheduledEvent) => {
  const publisher = eventPublisher();
  if ('Records' in event) {
    const ids = new Set<string>();
    for (const record of event.Records) {
      const id = record.dynamodb?.NewImage?.id?.S;
      if (id) ids.add(id);
    }
    let published = 0;
    for (const id of ids) published += await publisher.drain(id);
    return { recordings: ids.size, published };
  }
  const result = await publisher.sweep();
  for (const failure of result.failed) {
    logger.error('outbox drain failed', { recordingId: failure.recordingId, error: failure.error as Error });
  }
  return { published: result.published, failed: result.failed.length };
});
