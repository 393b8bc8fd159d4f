/** Workflow task: the recorder failed or was lost; the recording becomes ERRORED with a coded error. */
import { recordingRepository } from '#core/runtime.ts';
import { failRecording, type WorkflowFailure } from '#core/workflow-outcome.ts';

export interface MarkErroredEvent {
  recordingId: string;
  failure: WorkflowFailure;
}

export const handler = async (event: MarkErroredEvent) => {
  const recording = await failRecording(recordingRepository(), event.recordingId, event.failure);
  return { recordingId: event.recordingId, status: recording?.status };
};
