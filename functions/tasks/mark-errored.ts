/**
 * Workflow task: the recorder failed or was lost; the recording becomes ERRORED with a coded error, keeping
 * what was captured (the recorder's partial file, or the media a lost recorder had streamed, salvaged).
 */
import { logger, observed } from '#core/observability.ts';
import { reportRecordingErrored } from '#core/recording-metrics.ts';
import { recordingRepository } from '#core/runtime.ts';
import { salvageDeps } from '#core/runtime-media.ts';
import { recorderCluster } from '#core/runtime-tasks.ts';
import { stopRecorderTasks } from '#core/recorder-tasks.ts';
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
  await stopLostRecorder(event);
  return { recordingId: event.recordingId, status: recording?.status };
});

/**
 * Stops the recording's task if it still runs (a hung recorder that stopped heartbeating, or one past its time
 * bound); after a failure the recorder reported itself, there is none. A failed stop is logged, not thrown: the
 * recording's outcome is recorded already, and the recorder also stops itself once its heartbeats are refused.
 */
async function stopLostRecorder(event: MarkErroredEvent): Promise<void> {
  const cluster = recorderCluster();
  if (!cluster) return;
  try {
    const stopped = await stopRecorderTasks(cluster.ecs, cluster.clusterArn, event.recordingId, `Recording ${event.recordingId} ended ERRORED: ${event.failure.Error ?? 'failure'}`);
    if (stopped.length > 0) logger.warn('stopped the recorder task of an errored recording', { taskArns: stopped, error: event.failure.Error });
  } catch (err) {
    logger.error('could not stop the recorder task of an errored recording', { error: (err as Error).message });
  }
}
