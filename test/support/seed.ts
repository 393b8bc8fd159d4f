/** Writes recordings in a given state through the real repository (the path every writer uses), with no recorder. */
import { newRecording, type Recording, type RecordingStatus } from '../../functions/core/recording.ts';
import type { RecordingRepository } from '../../functions/core/recording-repository.ts';
import { newRecordingId } from '../../functions/core/recording-service.ts';

const PATH_TO: Record<RecordingStatus, RecordingStatus[]> = {
  INVOKED: [],
  RECORDING: ['RECORDING'],
  PAUSED: ['RECORDING', 'PAUSED'],
  UPLOADING: ['RECORDING', 'UPLOADING'],
  UPLOADED: ['RECORDING', 'UPLOADING', 'UPLOADED'],
  ERRORED: ['ERRORED'],
};

export async function seedRecording(
  repository: RecordingRepository,
  tenantId: string,
  opts: {
    id?: string;
    meetingId?: string;
    status?: RecordingStatus;
    createdAt?: string;
    /** Applied with the last transition. */
    patch?: Partial<Recording>;
    /** Take the meeting lock, as a start does. */
    lock?: boolean;
  } = {},
): Promise<Recording> {
  let r = newRecording({
    id: opts.id ?? newRecordingId(),
    tenantId,
    meetingId: opts.meetingId ?? 'seeded',
    meetingUrl: 'https://meet.example.com/x',
    now: opts.createdAt ?? new Date().toISOString(),
  });
  if (opts.lock) await repository.acquireMeetingLock(tenantId, r.meetingId, r.id);
  await repository.create(r);
  const steps = PATH_TO[opts.status ?? 'INVOKED'];
  for (const [i, status] of steps.entries()) r = await repository.transition(r, status, i === steps.length - 1 ? (opts.patch ?? {}) : {});
  return r;
}
