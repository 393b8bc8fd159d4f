/**
 * The recording use cases behind the API routes. Handlers parse and map errors; this is where the rules run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NoFilesYetError, RecordingNotActiveError, RecordingNotFoundError, StopInProgressError, WorkflowUnavailableError } from './errors.ts';
import { newRecording, type Recording } from './recording.ts';
import type { RecordingRepository } from './recording-repository.ts';
import { RECORDING_ID_PATTERN, type CreateRecordingBody } from './schemas.ts';
import type { WorkflowStarter } from './workflow-starter.ts';

export function newRecordingId(): string {
  // 24 chars of base-36 from 15 random bytes: unguessable, and a valid Step Functions execution name.
  const n = BigInt(`0x${randomBytes(15).toString('hex')}`);
  return `rec_${n.toString(36).padStart(24, '0').slice(-24)}`;
}

/** Without an explicit meetingId, recordings of the same URL share one, derived from the URL. */
export function defaultMeetingId(meetingUrl: string): string {
  return `url-${createHash('sha256').update(meetingUrl).digest('hex').slice(0, 20)}`;
}

export interface RecordingServiceDeps {
  repository: RecordingRepository;
  workflow: WorkflowStarter;
  now?: () => string;
}

export async function createRecording(deps: RecordingServiceDeps, tenantId: string, body: CreateRecordingBody): Promise<Recording> {
  const now = deps.now?.() ?? new Date().toISOString();
  const recording = newRecording({
    id: newRecordingId(),
    tenantId,
    meetingId: body.meetingId ?? defaultMeetingId(body.meetingUrl),
    meetingUrl: body.meetingUrl,
    now,
  });
  await deps.repository.create(recording);
  try {
    await deps.workflow.start(recording.id);
  } catch (err) {
    // The item exists but nothing will ever record it: end it now rather than leave it INVOKED forever.
    await deps.repository.transitionLatest(recording.id, 'ERRORED', {
      error: { code: 'workflow_start_failed', message: `The recording workflow could not be started: ${(err as Error).message}` },
    });
    throw new WorkflowUnavailableError('The recording workflow could not be started; try again shortly.');
  }
  return recording;
}

export async function getRecording(repository: RecordingRepository, tenantId: string, id: string): Promise<Recording> {
  if (!RECORDING_ID_PATTERN.test(id)) throw new RecordingNotFoundError(id.slice(0, 100));
  return repository.get(id, tenantId);
}

/**
 * Asks the recorder to stop. A second stop while the first is being processed is answered
 * 409 stop_in_progress (not an idempotent 202), so a client can tell it did not start the stop.
 */
export async function stopRecording(repository: RecordingRepository, tenantId: string, id: string): Promise<Recording> {
  const current = await getRecording(repository, tenantId, id);
  const stopped = current.status === 'RECORDING' && current.desiredState === 'RECORDING' ? await repository.requestStop(id) : undefined;
  if (stopped) return stopped;
  const latest = (await repository.find(id)) ?? current;
  if ((latest.status === 'RECORDING' && latest.desiredState === 'STOPPED') || latest.status === 'UPLOADING') {
    throw new StopInProgressError(id, latest.status);
  }
  throw new RecordingNotActiveError(id, latest.status);
}

export interface DownloadLink {
  key: string;
  url: string;
  expiresAt: string;
  sizeBytes: number;
  durationSeconds: number;
  format: string;
}

export async function presignDownloads(
  deps: { s3: S3Client; bucketName: string; ttlSeconds: number; now?: () => Date },
  recording: Recording,
): Promise<DownloadLink[]> {
  if (!recording.files?.length) throw new NoFilesYetError(recording.id, recording.status);
  const issuedAt = deps.now?.() ?? new Date();
  const expiresAt = new Date(issuedAt.getTime() + deps.ttlSeconds * 1000).toISOString();
  return Promise.all(
    recording.files.map(async (file) => ({
      ...file,
      expiresAt,
      url: await getSignedUrl(
        deps.s3,
        new GetObjectCommand({
          Bucket: deps.bucketName,
          Key: file.key,
          ResponseContentDisposition: `attachment; filename="${recording.id}.${file.format}"`,
        }),
        { expiresIn: deps.ttlSeconds, signingDate: issuedAt },
      ),
    })),
  );
}
