/**
 * What the functions report about a recording's life: one log line and the service's CloudWatch metrics
 * (EMF through Powertools Metrics, namespace MeetingRecorder). The only dimension is `service`: a
 * recording id as a dimension would make a metric per recording.
 *
 * Each `report*` also appends the recording's ids to the Logger, so every later line of the invocation
 * carries them.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from './observability.ts';
import type { Recording } from './recording.ts';

export const RECORDING_METRICS = {
  /** A recording was accepted (POST /v1/recordings or a Meeting Started event). Count. */
  started: 'RecordingsStarted',
  /** A recording ended ERRORED (the workflow's MarkErrored). Count. */
  errored: 'RecordingsErrored',
  /** Wall time from the first frame to the stop, pauses included (what the recorder task ran for). Seconds. */
  duration: 'RecordingDuration',
  /** From the stop to the upload's completion (UPLOADED). Seconds. */
  stopToUploaded: 'StopToUploadedLatency',
} as const;

/** The correlation keys of a recording's log lines. */
export function appendRecordingKeys(recording: Pick<Recording, 'id' | 'tenantId'>): void {
  logger.appendKeys({ recordingId: recording.id, tenantId: recording.tenantId });
}

/** Counts a started recording; for a caller that has logged the start itself (the meeting-events task). */
export function countRecordingStarted(): void {
  metrics.addMetric(RECORDING_METRICS.started, MetricUnit.Count, 1);
}

export function reportRecordingStarted(recording: Recording): void {
  appendRecordingKeys(recording);
  logger.info('recording started', { meetingId: recording.meetingId });
  countRecordingStarted();
}

export function reportRecordingErrored(recording: Recording): void {
  appendRecordingKeys(recording);
  logger.warn('recording errored', { error: recording.error, partialFiles: recording.files?.length ?? 0 });
  metrics.addMetric(RECORDING_METRICS.errored, MetricUnit.Count, 1);
}

export function reportRecordingUploaded(recording: Recording): void {
  appendRecordingKeys(recording);
  const figures = uploadedFigures(recording);
  logger.info('recording uploaded', { stopReason: recording.stopReason, ...figures });
  if (figures.durationSeconds !== undefined) metrics.addMetric(RECORDING_METRICS.duration, MetricUnit.Seconds, figures.durationSeconds);
  if (figures.stopToUploadedSeconds !== undefined) metrics.addMetric(RECORDING_METRICS.stopToUploaded, MetricUnit.Seconds, figures.stopToUploadedSeconds);
}

/**
 * The figures of an UPLOADED recording, from its timestamps. The stop is the client's request for an API
 * stop (`stopRequestedAt`; the file ends there too), otherwise the instant the recorder stopped
 * (`stoppedAt`: the max duration reached, the task stopped). A figure whose timestamps are missing is left
 * out rather than guessed.
 */
export function uploadedFigures(recording: Recording): { durationSeconds?: number; stopToUploadedSeconds?: number } {
  const seconds = (from?: string, to?: string) => {
    if (!from || !to) return undefined;
    const ms = Date.parse(to) - Date.parse(from);
    return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
  };
  const stop = recording.stopReason === 'api' && recording.stopRequestedAt ? recording.stopRequestedAt : recording.stoppedAt;
  const durationSeconds = seconds(recording.startedAt, recording.stoppedAt);
  const stopToUploadedSeconds = seconds(stop, recording.uploadedAt);
  return { ...(durationSeconds !== undefined && { durationSeconds }), ...(stopToUploadedSeconds !== undefined && { stopToUploadedSeconds }) };
}
