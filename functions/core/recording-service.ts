/**
 * The recording use cases behind the API routes. Handlers parse and map errors; this is where the rules run.
 * Every use case takes the caller: a tenant sees only its own recordings (others' are "not found"), and a
 * scoped token only its meeting and actions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { authorize, type Action, type Caller } from './caller.ts';
import {
  AppError,
  ConcurrencyLimitReachedError,
  InvalidCursorError,
  NoActiveRecordingError,
  NoFilesYetError,
  RecordingAlreadyActiveError,
  RecordingAlreadyPausedError,
  RecordingExpiredError,
  RecordingLiveError,
  RecordingNotActiveError,
  RecordingNotFoundError,
  RecordingNotPausedError,
  StopInProgressError,
  WorkflowUnavailableError,
} from './errors.ts';
import { LIVE_STATUSES, newRecording, type Recording } from './recording.ts';
import { recordingPrefix } from './recording-files.ts';
import type { RecordingQuery, RecordingRepository } from './recording-repository.ts';
import { RECORDING_ID_PATTERN, type CreateRecordingBody, type ListRecordingsQuery } from './schemas.ts';
import { TABLE_INDEXES, recordingIndexKeys, type TableIndexName } from './table-schema.ts';
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
  /** Checks a customer-supplied URL (SSRF policy); throws an AppError when it may not be recorded. */
  checkUrl?: (url: string) => Promise<void>;
  now?: () => string;
}

/**
 * Accepts a recording: checks the URL, takes the meeting lock (one live recording per meeting and tenant),
 * takes a place in the live-recording set (at most MAX_CONCURRENT_RECORDINGS in the whole service), writes the
 * recording (INVOKED) and starts its workflow. The meeting lock comes first, so a meeting that is already being
 * recorded is told so (409) even when the service is full.
 */
export async function createRecording(deps: RecordingServiceDeps, caller: Caller, body: CreateRecordingBody): Promise<Recording> {
  const meetingId = body.meetingId ?? caller.meetingId ?? defaultMeetingId(body.meetingUrl);
  authorize(caller, 'start', meetingId);
  await deps.checkUrl?.(body.meetingUrl);
  const now = deps.now?.() ?? new Date().toISOString();
  const recording = newRecording({
    id: newRecordingId(),
    tenantId: caller.tenantId,
    meetingId,
    meetingUrl: body.meetingUrl,
    maxDurationSeconds: body.maxDurationSeconds,
    now,
  });
  const lock = await deps.repository.acquireMeetingLock(caller.tenantId, meetingId, recording.id);
  if (lock.heldBy) throw new RecordingAlreadyActiveError(meetingId, lock.heldBy);
  let slot: { acquired: boolean; limit: number };
  try {
    slot = await deps.repository.acquireLiveSlot(recording.id);
  } catch (err) {
    await deps.repository.releaseMeetingLock(recording);
    throw err;
  }
  if (!slot.acquired) {
    await deps.repository.releaseMeetingLock(recording);
    throw new ConcurrencyLimitReachedError(slot.limit);
  }
  try {
    await deps.repository.create(recording);
  } catch (err) {
    await Promise.all([deps.repository.releaseMeetingLock(recording), deps.repository.releaseLiveSlot(recording.id)]);
    throw err;
  }
  try {
    await deps.workflow.start(recording.id);
  } catch (err) {
    // The item exists but nothing will ever record it: end it now (which releases the lock and its place in
    // the live-recording set) rather than leave it INVOKED forever.
    await deps.repository.transitionLatest(recording.id, 'ERRORED', {
      error: { code: 'workflow_start_failed', message: `The recording workflow could not be started: ${(err as Error).message}` },
    });
    throw new WorkflowUnavailableError('The recording workflow could not be started; try again shortly.');
  }
  return recording;
}

/** A recording the caller may act on; anything else (another tenant's, another meeting's) is not found. */
export async function getRecording(repository: RecordingRepository, caller: Caller, id: string, action: Action = 'read'): Promise<Recording> {
  const shown = id.slice(0, 100);
  if (!RECORDING_ID_PATTERN.test(id)) throw new RecordingNotFoundError(shown);
  const recording = await repository.get(id, caller.tenantId);
  authorize(caller, action, recording.meetingId, () => new RecordingNotFoundError(shown));
  return recording;
}

/**
 * Asks the recorder to stop (from RECORDING or PAUSED). A second stop while the first is being processed
 * is answered 409 stop_in_progress (not an idempotent 202), so a client can tell it did not start the stop.
 */
export async function stopRecording(repository: RecordingRepository, caller: Caller, id: string): Promise<Recording> {
  const current = await getRecording(repository, caller, id, 'stop');
  const stopped = await repository.requestStop(id);
  if (stopped) return stopped;
  const latest = (await repository.find(id)) ?? current;
  if (latest.desiredState === 'STOPPED' || latest.status === 'UPLOADING') throw new StopInProgressError(id, latest.status);
  throw new RecordingNotActiveError(id, latest.status);
}

/** Asks the recorder to pause: it stops capturing until resumed. Valid while RECORDING. */
export async function pauseRecording(repository: RecordingRepository, caller: Caller, id: string): Promise<Recording> {
  const current = await getRecording(repository, caller, id, 'pause');
  const paused = await repository.requestPause(id);
  if (paused) return paused;
  const latest = (await repository.find(id)) ?? current;
  if (latest.desiredState === 'PAUSED') throw new RecordingAlreadyPausedError(id, latest.status);
  if (latest.desiredState === 'STOPPED' || latest.status === 'UPLOADING') throw new StopInProgressError(id, latest.status);
  throw new RecordingNotActiveError(id, latest.status);
}

/** Asks the recorder to resume a paused recording. */
export async function resumeRecording(repository: RecordingRepository, caller: Caller, id: string): Promise<Recording> {
  const current = await getRecording(repository, caller, id, 'resume');
  const resumed = await repository.requestResume(id);
  if (resumed) return resumed;
  const latest = (await repository.find(id)) ?? current;
  if (latest.desiredState === 'STOPPED' || latest.status === 'UPLOADING') throw new StopInProgressError(id, latest.status);
  if (latest.status === 'RECORDING' || latest.status === 'PAUSED') throw new RecordingNotPausedError(id, latest.status);
  throw new RecordingNotActiveError(id, latest.status);
}

/** The live recording of a meeting (INVOKED, RECORDING, PAUSED or UPLOADING). */
export async function activeRecording(repository: RecordingRepository, caller: Caller, meetingId: string): Promise<Recording> {
  authorize(caller, 'read', meetingId);
  const holder = await repository.meetingLockHolder(caller.tenantId, meetingId);
  const recording = holder ? await repository.find(holder) : undefined;
  if (!recording || recording.tenantId !== caller.tenantId || !LIVE_STATUSES.includes(recording.status)) throw new NoActiveRecordingError(meetingId);
  return recording;
}

/**
 * Deletes an ended recording: its media first (so no file outlives its record), then its items. Deleting
 * only needs an API key (tokens carry no delete action).
 */
export async function deleteRecording(
  deps: { repository: RecordingRepository; s3: S3Client; bucketName: string },
  caller: Caller,
  id: string,
): Promise<void> {
  if (caller.actions) throw new AppError(403, 'insufficient_permissions', 'Deleting a recording needs an API key; scoped tokens cannot delete.');
  const recording = await getRecording(deps.repository, caller, id);
  if (LIVE_STATUSES.includes(recording.status)) throw new RecordingLiveError(id, recording.status);
  const prefix = recordingPrefix(recording.tenantId, recording.id);
  const keys = new Set((recording.files ?? []).map((f) => f.key));
  const listed = await deps.s3.send(new ListObjectsV2Command({ Bucket: deps.bucketName, Prefix: prefix }));
  for (const object of listed.Contents ?? []) if (object.Key) keys.add(object.Key);
  if (keys.size > 0) {
    await deps.s3.send(new DeleteObjectsCommand({ Bucket: deps.bucketName, Delete: { Objects: [...keys].map((Key) => ({ Key })), Quiet: true } }));
  }
  await deps.repository.delete(recording.id);
}

export interface RecordingPage {
  items: Recording[];
  nextCursor?: string;
}

/**
 * Lists a tenant's recordings newest first, from an index (never a scan): by meeting when `meetingId` is
 * given (status then filters), else by status, else all. `createdFrom` is inclusive, `createdTo` exclusive.
 */
export async function listRecordings(repository: RecordingRepository, caller: Caller, q: ListRecordingsQuery): Promise<RecordingPage> {
  const meetingId = q.meetingId ?? caller.meetingId;
  if (caller.meetingId !== undefined || caller.actions) authorize(caller, 'read', meetingId ?? '');
  let index: TableIndexName;
  let partitionValue: string;
  if (meetingId !== undefined) {
    index = 'byMeeting';
    partitionValue = recordingIndexKeys.byMeeting(caller.tenantId, meetingId);
  } else if (q.status !== undefined) {
    index = 'byStatus';
    partitionValue = recordingIndexKeys.byStatus(caller.tenantId, q.status);
  } else {
    index = 'byTenant';
    partitionValue = recordingIndexKeys.byTenant(caller.tenantId);
  }
  const query: RecordingQuery = {
    index,
    partitionValue,
    limit: q.limit ?? 20,
    // Sort keys are `{createdAt}#{id}`: '#' sorts before any id character and '~' after.
    ...(q.createdFrom !== undefined && { sortFrom: `${q.createdFrom}#` }),
    ...(q.createdTo !== undefined && { sortTo: `${q.createdTo}#` }),
    ...(index === 'byMeeting' && q.status !== undefined && { filterStatus: q.status }),
    ...(q.cursor !== undefined && { startKey: decodeCursor(q.cursor, index, partitionValue) }),
  };
  if (query.sortFrom !== undefined && query.sortTo !== undefined && query.sortFrom >= query.sortTo) return { items: [] };
  const page = await repository.query(query);
  return { items: page.items, ...(page.lastKey && { nextCursor: encodeCursor(index, page.lastKey) }) };
}

/** Cursors are the index's last key, base64url JSON: opaque to clients, checked against the query they continue. */
function encodeCursor(index: TableIndexName, lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ i: index, k: lastKey })).toString('base64url');
}

function decodeCursor(cursor: string, index: TableIndexName, partitionValue: string): Record<string, unknown> {
  let parsed: { i?: unknown; k?: Record<string, unknown> };
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  const def = TABLE_INDEXES[index];
  const key = parsed?.k;
  const expected = ['pk', 'sk', def.partitionKey, def.sortKey];
  if (
    parsed?.i !== index ||
    !key ||
    typeof key !== 'object' ||
    Object.keys(key).length !== expected.length ||
    // Non-empty: DynamoDB refuses empty key values (a forged cursor must be a 400, never a 500).
    !expected.every((name) => typeof key[name] === 'string' && (key[name] as string).length > 0 && (key[name] as string).length <= 512) ||
    key[def.partitionKey] !== partitionValue
  ) {
    throw new InvalidCursorError();
  }
  return key;
}

export interface DownloadLink {
  key: string;
  url: string;
  expiresAt: string;
  sizeBytes: number;
  durationSeconds: number;
  format: string;
  partial?: boolean;
}

export interface DownloadDeps {
  s3: S3Client;
  bucketName: string;
  /** Default URL lifetime. */
  ttlSeconds: number;
  /** How long S3 keeps media (the bucket's lifecycle rule); URLs never outlive the file. */
  retentionDays: number;
  now?: () => Date;
}

/**
 * Presigns a GET for each file. The URL lives `expiresInSeconds` (default the configured TTL), but never
 * past the day S3's lifecycle rule deletes the file (counted from the upload, which is when S3's clock starts).
 */
export async function presignDownloads(deps: DownloadDeps, recording: Recording, expiresInSeconds?: number): Promise<DownloadLink[]> {
  if (!recording.files?.length) throw new NoFilesYetError(recording.id, recording.status);
  const issuedAt = deps.now?.() ?? new Date();
  const uploadedMs = Date.parse(recording.uploadedAt ?? recording.updatedAt);
  const fileExpiresMs = uploadedMs + deps.retentionDays * 86_400_000;
  const secondsLeft = Math.floor((fileExpiresMs - issuedAt.getTime()) / 1000);
  if (secondsLeft < 1) throw new RecordingExpiredError(recording.id);
  const ttlSeconds = Math.min(expiresInSeconds ?? deps.ttlSeconds, secondsLeft);
  const expiresAt = new Date(issuedAt.getTime() + ttlSeconds * 1000).toISOString();
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
        { expiresIn: ttlSeconds, signingDate: issuedAt },
      ),
    })),
  );
}
