/**
 * "Meeting Started" / "Meeting Ended" events from the bus (the MeetingTriggerRule) start and stop recordings
 * (functions/core/meeting-events.ts). Bad events are logged and dropped; only failures of our own
 * dependencies throw, so EventBridge's async-invocation retries apply.
 */
import { meetingEventDeps } from '#core/runtime.ts';
import { handleMeetingEvent } from '#core/meeting-events.ts';
import type { BusEvent } from '#core/recording-events.ts';

export const handler = async (event: BusEvent) => handleMeetingEvent(meetingEventDeps(), event);
