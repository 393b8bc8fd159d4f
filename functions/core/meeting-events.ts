/**
 * Auto-start: customers put "Meeting Started" / "Meeting Ended" events on the service's bus, and a rule
 * (AWS: an EventBridge rule to functions/tasks/meeting-events.ts; local mode: a LocalEventBus rule to the
 * same code) starts and stops recordings, as EnableX's auto_recording and LiveKit's auto-egress do.
 *
 * A start takes the API's path: createRecording with a Caller for the event's tenant (the same meeting lock,
 * the same SSRF check). An end stops the meeting's live recording (found through the meeting lock).
 *
 * Security: the event names its tenant, so whoever may PutEvents on the bus may start recordings for any
 * tenant. Access to the bus (its resource policy and IAM) is what guards this; see the README. Here every
 * detail is validated (zod) and a tenant that does not exist is refused. Bad events are logged and dropped,
 * never thrown: a retry could not make them good. Only failures of our own dependencies throw (so
 * EventBridge's retries of the async invocation apply).
 */
import * as z from 'zod';
import type { Caller } from './caller.ts';
import { AppError, RecordingNotActiveError, StopInProgressError } from './errors.ts';
import type { BusEvent } from './recording-events.ts';
import { activeRecording, createRecording, stopRecording, type RecordingServiceDeps } from './recording-service.ts';
import { CreateRecordingBody, MeetingId } from './schemas.ts';

export const MEETING_STARTED_DETAIL_TYPE = 'Meeting Started';
export const MEETING_ENDED_DETAIL_TYPE = 'Meeting Ended';

const TenantId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, 'tenantId may contain only letters, digits and . _ : -');

export const MeetingStartedDetail = z.object({
  tenantId: TenantId,
  meetingId: MeetingId,
  meetingUrl: CreateRecordingBody.shape.meetingUrl,
  maxDurationSeconds: CreateRecordingBody.shape.maxDurationSeconds,
});
export type MeetingStartedDetail = z.infer<typeof MeetingStartedDetail>;

export const MeetingEndedDetail = z.object({ tenantId: TenantId, meetingId: MeetingId });
export type MeetingEndedDetail = z.infer<typeof MeetingEndedDetail>;

/**
 * The trigger rule's pattern: meeting events from any source but the service's own (its status events use
 * another detail-type anyway; this keeps the service from ever acting on what it published itself).
 */
export function meetingTriggerPattern(ownSource: string) {
  return {
    source: [{ 'anything-but': [ownSource] }],
    'detail-type': [MEETING_STARTED_DETAIL_TYPE, MEETING_ENDED_DETAIL_TYPE],
  };
}

export type MeetingEventOutcome =
  | { outcome: 'started'; recordingId: string }
  | { outcome: 'stopped'; recordingId: string }
  | { outcome: 'dropped'; reason: string; detail?: string };

export interface MeetingEventDeps extends RecordingServiceDeps {
  /** Whether the tenant exists (CredentialStore.getTenant). */
  tenantExists: (tenantId: string) => Promise<boolean>;
  log: (level: 'INFO' | 'WARN', message: string, fields: Record<string, unknown>) => void;
  /** A Meeting Ended that arrives while the recording is still INVOKED waits this long for it to go live. @default 30000 */
  waitForLiveMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export async function handleMeetingEvent(deps: MeetingEventDeps, event: BusEvent): Promise<MeetingEventOutcome> {
  const context = { eventId: event?.id, source: event?.source, detailType: event?.['detail-type'] };
  const drop = (reason: string, detail?: string, fields: Record<string, unknown> = {}): MeetingEventOutcome => {
    deps.log('WARN', 'meeting event dropped', { ...context, reason, ...(detail && { detail }), ...fields });
    return { outcome: 'dropped', reason, ...(detail && { detail }) };
  };
  const isStart = event?.['detail-type'] === MEETING_STARTED_DETAIL_TYPE;
  if (!isStart && event?.['detail-type'] !== MEETING_ENDED_DETAIL_TYPE) return drop('unknown_detail_type');
  const parsed = (isStart ? MeetingStartedDetail : MeetingEndedDetail).safeParse(event.detail);
  if (!parsed.success) return drop('invalid_detail', parsed.error.issues.map((i) => `${i.path.join('.') || 'detail'}: ${i.message}`).join('; ').slice(0, 500));
  const { tenantId, meetingId } = parsed.data;
  const where = { tenantId, meetingId };
  if (!(await deps.tenantExists(tenantId))) return drop('unknown_tenant', undefined, where);
  const caller: Caller = { tenantId, principal: `event:${String(event.source).slice(0, 128)}/${event.id}` };

  try {
    if (isStart) {
      const { meetingUrl, maxDurationSeconds } = parsed.data as MeetingStartedDetail;
      const recording = await createRecording(deps, caller, { meetingUrl, meetingId, ...(maxDurationSeconds !== undefined && { maxDurationSeconds }) });
      deps.log('INFO', 'recording started by a meeting event', { ...context, ...where, recordingId: recording.id });
      return { outcome: 'started', recordingId: recording.id };
    }
    const recordingId = await stopLive(deps, caller, meetingId);
    deps.log('INFO', 'recording stopped by a meeting event', { ...context, ...where, recordingId });
    return { outcome: 'stopped', recordingId };
  } catch (err) {
    // Refusals (SSRF, already recording, nothing to stop) are answers, not failures: drop. Our own
    // dependencies failing (5xx, SDK errors) throw, so the invocation is retried.
    if (err instanceof AppError && err.status < 500) return drop(err.code, err.message, where);
    throw err;
  }
}

/** Stops the meeting's live recording; one still INVOKED (the recorder starting) is waited for, then stopped. */
async function stopLive(deps: MeetingEventDeps, caller: Caller, meetingId: string): Promise<string> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + (deps.waitForLiveMs ?? 30_000);
  for (;;) {
    const live = await activeRecording(deps.repository, caller, meetingId);
    try {
      await stopRecording(deps.repository, caller, live.id);
      return live.id;
    } catch (err) {
      if (err instanceof StopInProgressError) throw err;
      const stillStarting = err instanceof RecordingNotActiveError && (await deps.repository.find(live.id))?.status === 'INVOKED';
      if (!stillStarting || Date.now() >= deadline) throw err;
    }
    await sleep(500);
  }
}
