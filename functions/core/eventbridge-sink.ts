/** The outbox's sink on AWS: EventBridge PutEvents, all entries or an error (so the outbox keeps them). */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { EventSink } from './outbox.ts';

export class EventBridgeSink implements EventSink {
  private readonly client: EventBridgeClient;

  constructor(client: EventBridgeClient) {
    this.client = client;
  }

  async putEvents(entries: Parameters<EventSink['putEvents']>[0]): Promise<void> {
    const out = await this.client.send(new PutEventsCommand({ Entries: entries }));
    if (out.FailedEntryCount) {
      const failures = (out.Entries ?? []).filter((e) => e.ErrorCode).map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`);
      // Entries before a failed one may have been accepted: they are sent again (same eventId).
      throw new Error(`PutEvents rejected ${out.FailedEntryCount} of ${entries.length} entries: ${failures.join('; ')}`);
    }
  }
}
