/**
 * The "Recording Status Changed" event, written once: the repository stores it in the recording's outbox
 * with the transition that causes it, and the publishers (a Lambda on AWS, an in-process loop locally) put
 * exactly this JSON on the bus. Webhook payloads carry the same `detail`.
 *
 * Event ids are derived, never random: `{recordingId}:{sequence}`. The outbox is at least once (a publisher
 * that crashes after PutEvents and before clearing the outbox sends the event again), so receivers dedupe by
 * that id and order by `sequence`.
 */
import { toPublicRecording, type PublicRecording, type Recording, type RecordingStatus } from './recording.ts';

export const STATUS_CHANGED_DETAIL_TYPE = 'Recording Status Changed';
/** The bus event's `source` unless EVENT_SOURCE (the construct's `eventSource` prop) says otherwise. */
export const DEFAULT_EVENT_SOURCE = 'meeting-recorder';
/** The Standard Webhooks event type of a status change. */
export const STATUS_UPDATE_WEBHOOK_TYPE = 'recording.statusUpdate';

export interface RecordingStatusChangedDetail {
  /** `{recordingId}:{sequence}`: the same for every copy of one transition's event. */
  eventId: string;
  recordingId: string;
  tenantId: string;
  meetingId: string;
  status: RecordingStatus;
  /** Null for the first event (INVOKED). */
  previousStatus: RecordingStatus | null;
  sequence: number;
  occurredAt: string;
  /** The recording as the API shows it right after this transition (with its files once UPLOADED). */
  recording: PublicRecording;
}

export const statusEventId = (recordingId: string, sequence: number) => `${recordingId}:${sequence}`;

/** The event of the transition from `previous` (undefined for a new recording) to `next`. */
export function statusChangedDetail(previous: RecordingStatus | undefined, next: Recording): RecordingStatusChangedDetail {
  return {
    eventId: statusEventId(next.id, next.sequence),
    recordingId: next.id,
    tenantId: next.tenantId,
    meetingId: next.meetingId,
    status: next.status,
    previousStatus: previous ?? null,
    sequence: next.sequence,
    occurredAt: next.updatedAt,
    recording: toPublicRecording(next),
  };
}

/** One PutEvents entry (the SDK's PutEventsRequestEntry shape, without importing the SDK). */
export interface BusEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  Time: Date;
  EventBusName?: string;
  /** The recording's ARN-like resource name, so rules can match `resources` too. */
  Resources: string[];
}

export function busEntry(detail: RecordingStatusChangedDetail, source: string, eventBusName?: string): BusEntry {
  return {
    Source: source,
    DetailType: STATUS_CHANGED_DETAIL_TYPE,
    Detail: JSON.stringify(detail),
    Time: new Date(detail.occurredAt),
    Resources: [`recording/${detail.recordingId}`],
    ...(eventBusName && { EventBusName: eventBusName }),
  };
}

/** An event as EventBridge delivers it to rule targets (what a rule's pattern is matched against). */
export interface BusEvent<D = unknown> {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: D;
}

/** The webhook fan-out rule's pattern (CDK's rule and local mode's bus use this one). */
export function webhookFanOutPattern(source: string) {
  return { source: [source], 'detail-type': [STATUS_CHANGED_DETAIL_TYPE] };
}
