/** The outbox publisher (EventBridge); see runtime.ts. */
import { createEventBridgeClient } from './clients/eventbridge.ts';
import { ENV, requireEnv } from './config.ts';
import { EventBridgeSink } from './eventbridge-sink.ts';
import { traced } from './observability.ts';
import { OutboxPublisher } from './outbox.ts';
import { DEFAULT_EVENT_SOURCE } from './recording-events.ts';
import { documentClient, once } from './runtime.ts';

export const eventPublisher = once(
  () =>
    new OutboxPublisher({
      db: documentClient(),
      tableName: requireEnv(ENV.tableName),
      sink: new EventBridgeSink(traced(createEventBridgeClient())),
      source: process.env[ENV.eventSource] || DEFAULT_EVENT_SOURCE,
      eventBusName: requireEnv(ENV.eventBusName),
    }),
);
