/**
 * The end of a recording, as the workflow sees it: the recorder's result (MarkUploaded) or a failure
 * caught by the state machine (MarkErrored). Both are idempotent, since Step Functions may retry them.
 */
import type { RecorderResult } from '../../workflow/recording-workflow.ts';
import { isRecorderErrorCode } from './recorder-errors.ts';
import { TERMINAL_STATUSES, type Recording, type RecordingError } from './recording.ts';
import type { RecordingRepository } from './recording-repository.ts';

export async function completeRecording(repository: RecordingRepository, recordingId: string, result: RecorderResult): Promise<Recording> {
  const current = await repository.find(recordingId);
  if (current?.status === 'UPLOADED') return current;
  if (current?.status === 'RECORDING') {
    // The recorder reported its result without its own UPLOADING write landing (e.g. DynamoDB throttled it).
    await repository.transitionLatest(recordingId, 'UPLOADING', { stoppedAt: result.stoppedAt, stopReason: result.stopReason });
  }
  return repository.transitionLatest(recordingId, 'UPLOADED', {
    files: result.files,
    stopReason: result.stopReason,
    startedAt: result.startedAt,
    stoppedAt: result.stoppedAt,
    uploadedAt: new Date().toISOString(),
    metrics: result.metrics,
  });
}

/** Step Functions' error shape: `Error` is the name, `Cause` a message (the recorder sends JSON). */
export interface WorkflowFailure {
  Error?: string;
  Cause?: string;
}

export function errorFromFailure(failure: WorkflowFailure): RecordingError {
  const name = failure.Error ?? 'States.Runtime';
  let message = failure.Cause ?? '';
  try {
    const parsed = JSON.parse(message);
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
    else if (parsed && typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Not JSON: use the cause as it is.
  }
  message = message.slice(0, 1000);
  if (isRecorderErrorCode(name)) return { code: name, message };
  if (name === 'States.HeartbeatTimeout') return { code: 'recorder_lost', message: message || 'The recorder stopped sending heartbeats.' };
  if (name === 'States.Timeout') return { code: 'recorder_timeout', message: message || 'The recording exceeded the workflow time limit.' };
  if (name.startsWith('ECS.')) return { code: 'recorder_launch_failed', message: `${name}: ${message}` };
  return { code: 'workflow_failed', message: `${name}${message ? `: ${message}` : ''}` };
}

export async function failRecording(repository: RecordingRepository, recordingId: string, failure: WorkflowFailure): Promise<Recording | undefined> {
  const current = await repository.find(recordingId);
  if (!current || TERMINAL_STATUSES.includes(current.status)) return current;
  return repository.transitionLatest(recordingId, 'ERRORED', (latest) => ({
    error: errorFromFailure(failure),
    stoppedAt: latest.stoppedAt ?? new Date().toISOString(),
  }));
}
