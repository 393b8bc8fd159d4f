/**
 * The end of a recording, as the workflow sees it: the recorder's result (MarkUploaded) or a failure
 * caught by the state machine (MarkErrored). Both are idempotent, since Step Functions may retry them.
 */
import type { RecorderFailureCause, RecorderResult } from '../../workflow/recording-workflow.ts';
import type { S3Client } from '@aws-sdk/client-s3';
import { salvageUpload, type UploadManifestStore } from './media-upload.ts';
import { isRecorderErrorCode } from './recorder-errors.ts';
import { TERMINAL_STATUSES, type Recording, type RecordingError, type RecordingFile, type TransitionPatch } from './recording.ts';
import type { RecordingRepository } from './recording-repository.ts';

/** A workflow task's outcome: the recording, and whether this call ended it (false on a retry). */
export interface WorkflowOutcome {
  recording: Recording | undefined;
  ended: boolean;
}

export async function completeRecording(
  repository: RecordingRepository,
  recordingId: string,
  result: RecorderResult,
): Promise<WorkflowOutcome & { recording: Recording }> {
  const current = await repository.find(recordingId);
  if (current?.status === 'UPLOADED') return { recording: current, ended: false };
  if (current?.status === 'RECORDING' || current?.status === 'PAUSED') {
    // The recorder reported its result without its own UPLOADING write landing (e.g. DynamoDB throttled it).
    await repository.transitionLatest(recordingId, 'UPLOADING', { stoppedAt: result.stoppedAt, stopReason: result.stopReason });
  }
  const recording = await repository.transitionLatest(recordingId, 'UPLOADED', {
    files: result.files,
    stopReason: result.stopReason,
    startedAt: result.startedAt,
    stoppedAt: result.stoppedAt,
    uploadedAt: new Date().toISOString(),
    ...(result.gaps?.length && { gaps: result.gaps }),
    metrics: result.metrics,
  });
  return { recording, ended: true };
}

/** Step Functions' error shape: `Error` is the name, `Cause` a message (the recorder sends JSON). */
export interface WorkflowFailure {
  Error?: string;
  Cause?: string;
}

/** The recorder's cause JSON, when the failure came from the recorder (SendTaskFailure). */
export function causeFromFailure(failure: WorkflowFailure): Partial<RecorderFailureCause> {
  try {
    const parsed = JSON.parse(failure.Cause ?? '');
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

export function errorFromFailure(failure: WorkflowFailure): RecordingError {
  const name = failure.Error ?? 'States.Runtime';
  const parsed = causeFromFailure(failure) as { message?: unknown; errorMessage?: unknown };
  let message = failure.Cause ?? '';
  if (typeof parsed.message === 'string') message = parsed.message;
  else if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  message = message.slice(0, 1000);
  if (isRecorderErrorCode(name)) return { code: name, message };
  if (name === 'States.HeartbeatTimeout') return { code: 'recorder_lost', message: message || 'The recorder stopped sending heartbeats.' };
  if (name === 'States.Timeout') return { code: 'recorder_timeout', message: message || 'The recording exceeded the workflow time limit.' };
  if (name.startsWith('ECS.')) return { code: 'recorder_launch_failed', message: `${name}: ${message}` };
  return { code: 'workflow_failed', message: `${name}${message ? `: ${message}` : ''}` };
}

/** What failRecording needs to finish the upload of a recorder that died without reporting. */
export interface SalvageDeps {
  s3: S3Client;
  bucketName: string;
  manifests: UploadManifestStore;
}

/**
 * Ends a recording ERRORED. Files the recorder kept are recorded as they are; when the recorder died
 * without a word (killed, lost), the media it had already streamed to S3 is salvaged into a file that plays
 * and recorded as partial.
 */
export async function failRecording(
  repository: RecordingRepository,
  recordingId: string,
  failure: WorkflowFailure,
  salvage?: SalvageDeps,
): Promise<WorkflowOutcome> {
  const current = await repository.find(recordingId);
  if (!current || TERMINAL_STATUSES.includes(current.status)) return { recording: current, ended: false };
  const cause = causeFromFailure(failure);
  let files: RecordingFile[] | undefined = Array.isArray(cause.files) ? cause.files : undefined;
  if (!files && salvage) {
    const manifest = await salvage.manifests.find(recordingId);
    const salvaged = manifest && (await salvageUpload(salvage.s3, salvage.bucketName, manifest));
    if (salvaged) files = [salvaged];
  }
  const recording = await repository.transitionLatest(recordingId, 'ERRORED', (latest): TransitionPatch => ({
    error: errorFromFailure(failure),
    stoppedAt: latest.stoppedAt ?? new Date().toISOString(),
    ...(files && { files }),
    ...(Array.isArray(cause.gaps) && cause.gaps.length > 0 && { gaps: cause.gaps }),
    ...(!latest.startedAt && typeof cause.startedAt === 'string' && { startedAt: cause.startedAt }),
  }));
  return { recording, ended: true };
}
