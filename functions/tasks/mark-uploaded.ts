/** Workflow task: the recorder succeeded; the recording becomes UPLOADED with its files. */
import type { RecorderResult } from '../../workflow/recording-workflow.ts';
import { logger, observed } from '#core/observability.ts';
import { reportRecordingUploaded } from '#core/recording-metrics.ts';
import { recordingRepository } from '#core/runtime.ts';
import { completeRecording } from '#core/workflow-outcome.ts';

export interface MarkUploadedEvent {
  recordingId: string;
  result: RecorderResult;
}

export const handler = observed(async (event: MarkUploadedEvent) => {
  logger.appendKeys({ recordingId: event.recordingId });
  const { recording, ended } = await completeRecording(recordingRepository(), event.recordingId, event.result);
  // A retried task finds the recording UPLOADED already: it was counted then.
  if (ended) reportRecordingUploaded(recording);
  return { recordingId: recording.id, status: recording.status };
});
