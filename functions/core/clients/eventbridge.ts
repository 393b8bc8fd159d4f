import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

export function createEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({ maxAttempts: 5 });
}
