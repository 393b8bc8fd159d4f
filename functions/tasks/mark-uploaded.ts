/** Workflow task: the recorder succeeded; the recording becomes UPLOADED with its files. */
import type { RecorderResult } from '../../workflow/recording-workflow.ts';
import { recordingRepository } from '#core/runtime.ts';
import { completeRecording } from '#core/workflow-outcome.ts';

export interface MarkUploadedEvent {
  recordingId: string;
  result: RecorderResult;
}

export const handler = async (event: MarkUploadedEvent) => {
  const recording = await completeRecording(recordingRepository(), event.recordingId, event.result);
  return { recordingId: recording.id, status: recording.status };
};
