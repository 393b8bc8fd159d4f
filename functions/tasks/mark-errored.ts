/**
 * Workflow task: the recorder failed or was lost; the recording becomes ERRORED with a coded error, keeping
 * what was captured (the recorder's partial file, or the media a lost recorder had streamed, salvaged).
 */
import { logger, observed } from '#core/observability.ts';
import { reportRecordingErrored } from '#core/recording-metrics.ts';
import { recordingRepository } from '#core/runtime.ts';
import { salvageDeps } from '#core/runtime-media.ts';
import { failRecording, type WorkflowFailure } from '#core/workflow-outcome.ts';

export interface MarkErroredEvent {
  recordingId: string;
  failure: WorkflowFailure;
}

export const handler = observed(async (event: MarkErroredEvent) => {
  logger.appendKeys({ recordingId: event.recordingId });
  const { recording, ended } = await failRecording(recordingRepository(), event.recordingId, event.failure, salvageDeps());
  // A retried task finds the recording ended already: it was counted then.
  if (ended && recording) reportRecordingErrored(recording);
  return { recordingId: event.recordingId, status: recording?.status };
});
