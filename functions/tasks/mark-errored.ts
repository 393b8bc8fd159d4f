/**
 * Workflow task: the recorder failed or was lost; the recording becomes ERRORED with a coded error, keeping
 * what was captured (the recorder's partial file, or the media a lost recorder had streamed, salvaged).
 */
import { recordingRepository, salvageDeps } from '#core/runtime.ts';
import { failRecording, type WorkflowFailure } from '#core/workflow-outcome.ts';

export interface MarkErroredEvent {
  recordingId: string;
  failure: WorkflowFailure;
}

export const handler = async (event: MarkErroredEvent) => {
  const recording = await failRecording(recordingRepository(), event.recordingId, event.failure, salvageDeps());
  return { recordingId: event.recordingId, status: recording?.status };
};
