/**
 * "Meeting Started" / "Meeting Ended" events from the bus (the MeetingTriggerRule) start and stop recordings
 * (functions/core/meeting-events.ts). Bad events are logged and dropped; only failures of our own
 * dependencies throw, so EventBridge's async-invocation retries apply.
 */
import { handleMeetingEvent } from '#core/meeting-events.ts';
import { observed } from '#core/observability.ts';
import { countRecordingStarted } from '#core/recording-metrics.ts';
import type { BusEvent } from '#core/recording-events.ts';
import { meetingEventDeps } from '#core/runtime-workflow.ts';

export const handler = observed(async (event: BusEvent) => {
  const outcome = await handleMeetingEvent(meetingEventDeps(), event);
  // handleMeetingEvent has logged the start, with its recording, tenant and meeting ids.
  if (outcome.outcome === 'started') countRecordingStarted();
  return outcome;
});
